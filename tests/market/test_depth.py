"""The simulated price ladder around the quote (market/depth.py)."""

from __future__ import annotations

from decimal import Decimal

from tickgate.market.depth import ladder

QUOTE = {84: "189.56", 86: "189.61", 88: "1,300", 85: "500"}


def test_ladder_runs_from_highest_ask_to_lowest_bid_around_the_quote() -> None:
    rows = ladder(265598, QUOTE, levels=3)
    assert [row["row"] for row in rows] == list(range(6))
    assert [row["price"] for row in rows] == [
        "189.63",
        "189.62",
        "189.61",
        "189.56",
        "189.55",
        "189.54",
    ]
    assert rows[2]["ask"] == "500" and rows[3]["bid"] == "1300"
    assert [row["focus"] for row in rows] == [0, 0, 0, 1, 0, 0]
    assert all(("ask" in row) != ("bid" in row) for row in rows)
    assert all(int(row.get("ask", row.get("bid", "0"))) >= 100 for row in rows)


def test_ladder_is_deterministic_and_follows_the_tick_grid() -> None:
    assert ladder(1, QUOTE) == ladder(1, dict(QUOTE))
    prices = [
        Decimal(row["price"]) for row in ladder(1, {84: "4500", 86: "4501", 88: "3", 85: "4"})
    ]
    assert prices == sorted(prices, reverse=True) and all(
        p == p.to_integral_value() for p in prices
    )


def test_no_ladder_without_a_full_quote() -> None:
    assert ladder(1, {84: "1.00", 86: "1.01"}) == []
    assert ladder(1, {**QUOTE, 84: "C1.00"}) == []
    assert ladder(1, {**QUOTE, 84: "2.00", 86: "1.00"}) == []


def test_bids_stop_above_zero() -> None:
    rows = ladder(1, {84: "0.02", 86: "0.03", 88: "10", 85: "10"}, levels=5)
    assert min(Decimal(row["price"]) for row in rows) == Decimal("0.01")
