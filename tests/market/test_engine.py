"""MarketEngine: changed-only merging, snapshots, quotes and listeners."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.instruments import option, stock

from tickgate.errors import NotFoundError
from tickgate.market.engine import MarketEngine
from tickgate.model.ticks import Quote, Tick
from tickgate.protocol import fields as F

D = Decimal
AAPL = stock(listing_exchange="NASDAQ")
CALL = option(
    AAPL, conid=700001, expiry="20260116", strike=200, price="3.10", name="AAPL 20260116 200 C"
)


@pytest.fixture
def engine() -> MarketEngine:
    return MarketEngine([AAPL, CALL])


def test_static_fields_are_seeded(engine: MarketEngine) -> None:
    values = engine.snapshot(AAPL.conid)
    assert values[F.SYMBOL] == "AAPL"
    assert values[F.COMPANY_NAME] == "APPLE INC"
    assert values[F.SEC_TYPE] == "STK"
    assert values[F.LISTING_EXCHANGE] == "NASDAQ"
    assert values[F.CONID] == values[F.CONID_EXCHANGE] == "265598"
    assert values[F.AVAILABILITY] == "RpB"
    assert values[F.SERVER_ID] == "q0"
    assert F.BID not in values
    option = engine.snapshot(CALL.conid)
    assert (option[F.RIGHT], option[F.UNDERLYING_CONID], option[F.REGULAR_EXPIRY]) == (
        "C",
        "265598",
        "20260116",
    )


def test_apply_returns_only_changed_fields(engine: MarketEngine) -> None:
    first = engine.apply(Tick(AAPL.conid, {F.BID: "189.49", F.ASK: "189.51"}, 10))
    assert first == {F.BID: "189.49", F.ASK: "189.51"}
    second = engine.apply(Tick(AAPL.conid, {F.BID: "189.49", F.ASK: "189.52"}, 20))
    assert second == {F.ASK: "189.52"}
    assert engine.apply(Tick(AAPL.conid, {F.BID: "189.49", F.SYMBOL: "AAPL"}, 30)) == {}
    assert engine.snapshot(AAPL.conid, [F.BID, F.ASK]) == {F.BID: "189.49", F.ASK: "189.52"}


def test_updated_ns_moves_only_on_change(engine: MarketEngine) -> None:
    assert engine.updated_ns(AAPL.conid) is None
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49"}, 10))
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49"}, 20))
    assert engine.updated_ns(AAPL.conid) == 10
    assert engine.updated_ns(CALL.conid) is None


def test_listeners_get_changes_only(engine: MarketEngine) -> None:
    seen: list[tuple[int, dict[int, str], int]] = []
    engine.add_listener(lambda conid, changed, ts: seen.append((conid, dict(changed), ts)))
    engine.add_listener(lambda conid, changed, ts: seen.append((-conid, dict(changed), ts)))
    engine.apply(Tick(CALL.conid, {F.BID: "3.05", F.DELTA: "0.412"}, 5))
    engine.apply(Tick(CALL.conid, {F.BID: "3.05"}, 6))
    engine.apply(Tick(CALL.conid, {F.BID: "3.10", F.DELTA: "0.412"}, 7))
    assert seen == [
        (CALL.conid, {F.BID: "3.05", F.DELTA: "0.412"}, 5),
        (-CALL.conid, {F.BID: "3.05", F.DELTA: "0.412"}, 5),
        (CALL.conid, {F.BID: "3.10"}, 7),
        (-CALL.conid, {F.BID: "3.10"}, 7),
    ]


def test_a_watcher_gets_only_its_conid_after_the_listeners_of_every_conid(
    engine: MarketEngine,
) -> None:
    seen: list[tuple[str, int, dict[int, str]]] = []
    engine.watch(AAPL.conid, lambda conid, changed, ts: seen.append(("watch", conid, changed)))
    engine.add_listener(lambda conid, changed, ts: seen.append(("all", conid, changed)))
    engine.apply(Tick(CALL.conid, {F.BID: "3.05"}, 1))
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49"}, 2))
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49"}, 3))  # nothing changed: nobody is called
    assert seen == [
        ("all", CALL.conid, {F.BID: "3.05"}),
        ("all", AAPL.conid, {F.BID: "189.49"}),
        ("watch", AAPL.conid, {F.BID: "189.49"}),
    ]
    assert (engine.watchers(AAPL.conid), engine.watchers(CALL.conid)) == (1, 0)


def test_unwatch_ends_one_watch_and_the_tick_being_applied_still_reaches_it(
    engine: MarketEngine,
) -> None:
    seen: list[tuple[str, str]] = []

    def first(conid: int, changed: dict[int, str], ts: int) -> None:
        seen.append(("first", changed[F.BID]))
        engine.unwatch(AAPL.conid, second)

    def second(conid: int, changed: dict[int, str], ts: int) -> None:
        seen.append(("second", changed[F.BID]))

    engine.watch(AAPL.conid, first)
    engine.watch(AAPL.conid, second)
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49"}, 1))
    engine.apply(Tick(AAPL.conid, {F.BID: "189.50"}, 2))
    assert seen == [("first", "189.49"), ("second", "189.49"), ("first", "189.50")]
    engine.unwatch(AAPL.conid, first)
    engine.unwatch(AAPL.conid, first)  # no longer watching: nothing to end
    engine.unwatch(CALL.conid, first)
    engine.apply(Tick(AAPL.conid, {F.BID: "189.51"}, 3))
    assert len(seen) == 3 and engine.watchers(AAPL.conid) == 0


def test_a_conid_watched_before_it_joins_the_market_is_watched_once_it_does(
    engine: MarketEngine,
) -> None:
    later = stock(8314, "IBM", "INTL BUSINESS MACHINES")
    seen: list[int] = []
    engine.watch(later.conid, lambda conid, changed, ts: seen.append(conid))
    with pytest.raises(NotFoundError):
        engine.apply(Tick(later.conid, {F.BID: "1.00"}, 1))
    engine.add_instruments([later])
    engine.apply(Tick(later.conid, {F.BID: "1.00"}, 2))
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49"}, 3))
    assert seen == [later.conid]


def test_snapshot_field_selection(engine: MarketEngine) -> None:
    engine.apply(Tick(AAPL.conid, {F.LAST: "C189.50", F.BID_SIZE: "1,300"}, 1))
    assert engine.snapshot(AAPL.conid, (F.LAST, F.BID_SIZE, F.ASK, 999_999)) == {
        F.LAST: "C189.50",
        F.BID_SIZE: "1,300",
    }
    assert engine.snapshot(AAPL.conid, []) == {}
    everything = engine.snapshot(AAPL.conid)
    everything[F.LAST] = "changed by the caller"
    assert engine.snapshot(AAPL.conid, [F.LAST]) == {F.LAST: "C189.50"}


def test_quote_needs_the_whole_top_of_book(engine: MarketEngine) -> None:
    engine.apply(Tick(AAPL.conid, {F.BID: "189.49", F.ASK: "189.51", F.BID_SIZE: "1,300"}, 1))
    assert engine.quote(AAPL.conid) is None
    engine.apply(Tick(AAPL.conid, {F.ASK_SIZE: "200", F.LAST: "H189.50"}, 2))
    assert engine.quote(AAPL.conid) == Quote(
        AAPL.conid, D("189.49"), D("189.51"), D(1300), D(200), D("189.50"), 2, halted=True
    )
    engine.apply(Tick(AAPL.conid, {F.LAST: "189.50"}, 3))  # resumed
    resumed = engine.quote(AAPL.conid)
    assert resumed is not None and not resumed.halted


def test_quote_is_exact_decimal_on_the_tick_grid_straight_from_the_text(
    engine: MarketEngine,
) -> None:
    # Written to the tick's decimals ("99.5" -> 99.50), exact (no float: 1.1 stays 1.10).
    text = {F.BID: "1.1", F.ASK: "99.5", F.BID_SIZE: "3", F.ASK_SIZE: "1,000,000"}
    engine.apply(Tick(AAPL.conid, {**text, F.LAST: "C0.30000000000000004"}, 1))
    quote = engine.quote(AAPL.conid)
    assert quote is not None
    assert [str(p) for p in (quote.bid, quote.ask, quote.last)] == ["1.10", "99.50", "0.30"]
    assert (quote.bid_size, quote.ask_size) == (D(3), D(1_000_000))


def test_a_quote_field_that_is_not_a_number_is_refused(engine: MarketEngine) -> None:
    for bad in ("nan", "abc", "Cinf"):
        engine.apply(Tick(AAPL.conid, {F.BID: "1.00", F.ASK: "1.02", F.BID_SIZE: "1",
                                       F.ASK_SIZE: "1", F.LAST: bad}, 1))  # fmt: skip
        with pytest.raises(ValueError, match="not a price"):
            engine.quote(AAPL.conid)


def test_unknown_conid(engine: MarketEngine) -> None:
    assert engine.knows(AAPL.conid)
    assert not engine.knows(1)
    with pytest.raises(NotFoundError, match="unknown conid 1"):
        engine.apply(Tick(1, {F.BID: "1.00"}, 1))
    for read in (engine.snapshot, engine.quote, engine.updated_ns):
        with pytest.raises(NotFoundError):
            read(1)


def test_a_raising_listener_is_contained_counted_and_the_others_still_get_every_tick(
    engine: MarketEngine, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[int, str]] = []

    def bad_order(conid: int, changed: dict[int, str], ts: int) -> None:
        if conid == AAPL.conid:
            raise ValueError(f"order 7 cannot be priced at {changed.get(F.BID)}")

    engine.add_listener(lambda conid, changed, ts: seen.append((conid, "before")))
    engine.add_listener(bad_order, name="trading")
    engine.add_listener(lambda conid, changed, ts: seen.append((conid, "after")))
    for i in range(100):
        assert engine.apply(Tick(AAPL.conid, {F.BID: f"{189 + i / 100:.2f}"}, i)) == {
            F.BID: f"{189 + i / 100:.2f}"
        }
    engine.apply(Tick(CALL.conid, {F.BID: "3.05"}, 100))
    assert seen == [(AAPL.conid, "before"), (AAPL.conid, "after")] * 100 + [
        (CALL.conid, "before"),
        (CALL.conid, "after"),
    ]
    assert engine.snapshot(AAPL.conid, (F.BID,)) == {F.BID: "189.99"}
    trading = engine.health.report()["components"]["trading"]
    assert trading["failures"] == 100 and trading["healthy"] is False
    assert trading["lastError"] == "ValueError: order 7 cannot be priced at 189.99"
    assert trading["lastFailureOn"] == f"conid {AAPL.conid}"
    failures = [r for r in caplog.records if r.name == "tickgate.health"]
    assert len(failures) == 1 and "trading failed on conid 265598" in failures[0].getMessage()


def test_a_raising_watcher_is_contained_and_counted_like_a_listener(engine: MarketEngine) -> None:
    seen: list[str] = []

    def bad_alert(conid: int, changed: dict[int, str], ts: int) -> None:
        raise ValueError("alert 3 cannot be read")

    engine.watch(AAPL.conid, bad_alert, name="alerts")
    engine.watch(AAPL.conid, lambda conid, changed, ts: seen.append(changed[F.BID]))
    for bid in ("189.49", "189.50"):
        assert engine.apply(Tick(AAPL.conid, {F.BID: bid}, 1)) == {F.BID: bid}
    assert seen == ["189.49", "189.50"]
    alerts = engine.health.report()["components"]["alerts"]
    assert alerts["failures"] == 2 and alerts["lastError"] == "ValueError: alert 3 cannot be read"
