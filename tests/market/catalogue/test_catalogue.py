"""The catalogue: lookups, search ranking, futures chains, option chains, conid stability."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from tests.instruments import stock

from tickgate.errors import CatalogueError, NotFoundError
from tickgate.market.catalogue.catalogue import (
    Catalogue,
    contract_month,
    default_catalogue,
    month_code,
)
from tickgate.model.instruments import Instrument, Right, SecType

TODAY = date(2026, 1, 10)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue(today=TODAY)


def acme(conid: int, symbol: str) -> Instrument:
    """A made-up stock of ACME CORP: only its conid and symbol matter here."""
    return stock(conid, symbol, "ACME CORP", price="10", volatility=0.3)


def symbols(found: list[Instrument]) -> list[str]:
    return [instrument.symbol for instrument in found]


def expiries(found: list[Instrument]) -> list[str]:
    return [instrument.expiry or "" for instrument in found]


# --- lookups -------------------------------------------------------------------------------


def test_get_find_and_contains(catalogue: Catalogue) -> None:
    assert catalogue.get(265598).symbol == "AAPL"
    assert catalogue.find(8314) is catalogue.get(8314)
    assert 756733 in catalogue
    assert catalogue.find(1) is None
    assert 1 not in catalogue
    with pytest.raises(NotFoundError, match=r"^Invalid conid 1$"):
        catalogue.get(1)


def test_iteration_and_length_agree(catalogue: Catalogue) -> None:
    conids = [instrument.conid for instrument in catalogue]
    assert len(conids) == len(catalogue) == len(set(conids))


def test_duplicate_conid_is_rejected() -> None:
    with pytest.raises(CatalogueError, match="duplicate conid 7"):
        Catalogue([acme(7, "ABC"), acme(7, "XYZ")])


def test_derivative_needs_its_underlying_in_the_catalogue(catalogue: Catalogue) -> None:
    option = next(i for i in catalogue if i.sec_type is SecType.OPT)
    with pytest.raises(CatalogueError, match=f"underlying conid {option.underlying_conid}"):
        Catalogue([option])


def test_query_results_are_copies(catalogue: Catalogue) -> None:
    catalogue.futures("ES").clear()
    catalogue.underlyings().clear()
    catalogue.search("AAPL").clear()
    assert catalogue.futures("ES")
    assert catalogue.underlyings()
    assert catalogue.search("AAPL")


# --- shipped data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "conid"),
    [
        ("AAPL", 265598), ("IBM", 8314), ("META", 107113386), ("MSFT", 272093),
        ("SPY", 756733), ("AMZN", 3691937), ("NVDA", 4815747), ("TSLA", 76792991),
        ("GOOGL", 208813719), ("QQQ", 320227571),
    ],
)  # fmt: skip
def test_real_stock_conids(catalogue: Catalogue, symbol: str, conid: int) -> None:
    assert [i.conid for i in catalogue.stocks_by_symbol(symbol)] == [conid]


def test_at_least_thirty_us_stocks_and_etfs_with_sane_specs(catalogue: Catalogue) -> None:
    stocks = [i for i in catalogue if i.sec_type is SecType.STK]
    assert len(stocks) >= 30
    for instrument in stocks:
        assert instrument.listing_exchange in {"NASDAQ", "NYSE", "ARCA"}
        assert instrument.min_tick == Decimal("0.01")
        assert instrument.currency == "USD"
        assert instrument.reference_price > 1
        low, high = (0.15, 0.2) if instrument.is_etf else (0.25, 0.5)
        assert low <= instrument.volatility <= high, instrument.symbol


@pytest.mark.parametrize(
    ("symbol", "conid", "tick"),
    [
        ("EUR.USD", 12087792, "0.00005"), ("GBP.USD", 12087797, "0.00005"),
        ("USD.JPY", 15016059, "0.005"), ("AUD.USD", 14433401, "0.00005"),
        ("USD.CAD", 15016062, "0.00005"), ("USD.CHF", 12087820, "0.00005"),
    ],
)  # fmt: skip
def test_fx_pairs(catalogue: Catalogue, symbol: str, conid: int, tick: str) -> None:
    pair = catalogue.get(conid)
    assert (pair.symbol, pair.sec_type, pair.exchange) == (symbol, SecType.CASH, "IDEALPRO")
    assert pair.min_tick == Decimal(tick)
    assert pair.on_tick_grid(pair.reference_price)
    assert pair.currency == symbol[-3:]


def test_underlyings_are_everything_but_options_and_futures(catalogue: Catalogue) -> None:
    underlyings = catalogue.underlyings()
    assert {i.sec_type for i in underlyings} == {SecType.STK, SecType.CASH, SecType.IND}
    derivatives = [i for i in catalogue if i.sec_type in (SecType.OPT, SecType.FUT)]
    assert len(underlyings) + len(derivatives) == len(catalogue)


# --- search ---------------------------------------------------------------------------------


def test_search_puts_the_exact_symbol_before_prefix_matches(catalogue: Catalogue) -> None:
    assert symbols(catalogue.search("GOOG")) == ["GOOG", "GOOGL"]
    assert symbols(catalogue.search("goog"))[0] == "GOOG"


def test_search_orders_prefix_matches_shorter_first() -> None:
    small = Catalogue([acme(1, "ABCDE"), acme(2, "ABC"), acme(3, "ABCD"), acme(4, "XABC")])
    assert symbols(small.search("AB")) == ["ABC", "ABCD", "ABCDE"]
    assert symbols(small.search("ABCD")) == ["ABCD", "ABCDE"]


def test_search_finds_fx_pairs_with_or_without_separator(catalogue: Catalogue) -> None:
    for text in ("EUR.USD", "eurusd", "EUR/USD", "EUR"):
        assert symbols(catalogue.search(text)) == ["EUR.USD"], text


def test_search_never_returns_options_or_futures(catalogue: Catalogue) -> None:
    for text in ("AAPL", "SPY", "ES", "CL", "GC", "NQ", "A", "E"):
        found = catalogue.search(text)
        assert found
        assert all(i.sec_type in (SecType.STK, SecType.IND, SecType.CASH) for i in found)
    assert catalogue.search("AAPL", sec_type=SecType.OPT) == []
    assert catalogue.search("ES", sec_type=SecType.FUT) == []


def test_search_filters_by_sec_type(catalogue: Catalogue) -> None:
    assert [i.conid for i in catalogue.search("ES", sec_type=SecType.IND)] == [11004968]
    assert catalogue.search("ES", sec_type=SecType.STK) == []
    assert symbols(catalogue.search("U", sec_type=SecType.CASH)) == [
        "USD.CAD",
        "USD.CHF",
        "USD.JPY",
    ]


def test_search_by_name_matches_words_and_ranks_first_words_first(catalogue: Catalogue) -> None:
    assert symbols(catalogue.search("apple", by_name=True)) == ["AAPL"]
    assert symbols(catalogue.search("bank of", by_name=True)) == ["BAC"]
    assert symbols(catalogue.search("gold", by_name=True)) == ["GC", "GS", "GLD"]
    assert symbols(catalogue.search("gold", by_name=True, sec_type=SecType.STK)) == ["GS", "GLD"]
    assert catalogue.search("zzzz", by_name=True) == []


def test_search_with_empty_text_finds_nothing(catalogue: Catalogue) -> None:
    assert catalogue.search("") == []
    assert catalogue.search("  ", by_name=True) == []


def test_stocks_by_symbol_is_exact_and_stock_only(catalogue: Catalogue) -> None:
    assert symbols(catalogue.stocks_by_symbol("GOOG")) == ["GOOG"]
    assert catalogue.stocks_by_symbol("aapl") == []
    assert catalogue.stocks_by_symbol("ES") == []
    assert catalogue.stocks_by_symbol("EUR.USD") == []


# --- futures --------------------------------------------------------------------------------

SPECS = {
    "ES": (50, "0.25", "CME", 11004968),
    "NQ": (20, "0.25", "CME", 11004958),
    "CL": (1000, "0.01", "NYMEX", 17340715),
    "GC": (100, "0.10", "COMEX", 17340718),
}


@pytest.mark.parametrize("root", sorted(SPECS))
def test_futures_chain_specs(catalogue: Catalogue, root: str) -> None:
    multiplier, tick, exchange, underlying = SPECS[root]
    chain = catalogue.futures(root)
    assert len(chain) >= 4
    assert len({f.conid for f in chain}) == len(chain)
    assert expiries(chain) == sorted(expiries(chain))
    assert catalogue.get(underlying).sec_type is SecType.IND
    for future in chain:
        assert future.sec_type is SecType.FUT
        assert (future.multiplier, future.min_tick, future.exchange) == (
            multiplier,
            Decimal(tick),
            exchange,
        )
        assert future.underlying_conid == underlying
        assert future.on_tick_grid(future.reference_price)
        assert future.expiry is not None and future.expiry >= TODAY.strftime("%Y%m%d")


def test_unknown_futures_symbol_gives_an_empty_chain(catalogue: Catalogue) -> None:
    assert catalogue.futures("ZZ") == []
    assert catalogue.futures("es") == []


@pytest.mark.parametrize(
    ("today", "first_two"),
    [
        (date(2026, 1, 10), ["20260320", "20260619"]),
        (date(2026, 3, 20), ["20260320", "20260619"]),  # expiry day: still trading
        (date(2026, 3, 21), ["20260619", "20260918"]),  # the day after
        (date(2026, 12, 19), ["20270319", "20270618"]),
    ],
)
def test_equity_index_futures_follow_the_quarterly_cycle(today: date, first_two: list[str]) -> None:
    for root in ("ES", "NQ"):
        chain = default_catalogue(today=today).futures(root)
        assert expiries(chain)[:2] == first_two
        for expiry in expiries(chain):
            day = date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:]))
            assert day.month in (3, 6, 9, 12) and day.weekday() == 4 and 15 <= day.day <= 21


@pytest.mark.parametrize(
    ("today", "first", "first_month"),
    [
        (date(2026, 1, 10), "20260120", "FEB26"),
        (date(2026, 1, 20), "20260120", "FEB26"),
        (date(2026, 1, 21), "20260220", "MAR26"),  # the day after FEB26's last trade
        (date(2026, 9, 23), "20261020", "NOV26"),
    ],
)
def test_crude_oil_is_monthly_and_expires_the_month_before(
    today: date, first: str, first_month: str
) -> None:
    chain = default_catalogue(today=today).futures("CL")
    assert (chain[0].expiry, contract_month(chain[0])) == (first, first_month)
    months = [contract_month(f) for f in chain]
    assert len(set(months)) == len(chain) == 12
    assert all(month_code(f.expiry or "") != contract_month(f) for f in chain)


@pytest.mark.parametrize(
    ("today", "months"),
    [
        (date(2026, 1, 10), ["FEB26", "APR26", "JUN26", "AUG26"]),
        (date(2026, 2, 25), ["FEB26", "APR26", "JUN26", "AUG26"]),
        (date(2026, 2, 26), ["APR26", "JUN26", "AUG26", "OCT26"]),  # the day after GCG26
    ],
)
def test_gold_follows_the_even_month_cycle(today: date, months: list[str]) -> None:
    chain = default_catalogue(today=today).futures("GC")
    assert [contract_month(f) for f in chain][:4] == months


def test_contract_month_of_a_non_future_is_its_expiry_month(catalogue: Catalogue) -> None:
    option = catalogue.options(265598)[0]
    assert contract_month(option) == month_code(option.expiry or "")


def test_month_code() -> None:
    assert month_code("20270115") == "JAN27"
    assert month_code("20301231") == "DEC30"
    for bad in ("2027011", "20271315", "2027O115", ""):
        with pytest.raises(ValueError, match=r"YYYYMMDD|month|day"):
            month_code(bad)


# --- options --------------------------------------------------------------------------------


def test_option_discovery_flow_ends_at_exactly_one_conid(catalogue: Catalogue) -> None:
    underlying = catalogue.search("AAPL")[0]
    months = catalogue.option_months(underlying.conid)
    assert months == ["JAN26", "FEB26", "MAR26", "APR26"]
    calls, puts = catalogue.strikes(underlying.conid, "feb26")
    assert calls == puts and Decimal(255) in calls
    found = catalogue.options(
        underlying.conid, month="FEB26", strike=Decimal("255"), right=Right.PUT
    )
    assert len(found) == 1
    option = found[0]
    assert (option.expiry, option.strike, option.right) == ("20260220", Decimal(255), Right.PUT)
    assert (option.multiplier, option.min_tick, option.trading_class) == (
        100,
        Decimal("0.01"),
        "AAPL",
    )
    assert option.underlying_conid == underlying.conid
    assert catalogue.get(option.conid) == option


def test_option_months_are_the_next_third_fridays(catalogue: Catalogue) -> None:
    days = sorted(set(expiries(catalogue.options(756733))))
    assert days == ["20260116", "20260220", "20260320", "20260417"]
    after = default_catalogue(today=date(2026, 1, 17))
    assert after.option_months(756733) == ["FEB26", "MAR26", "APR26", "MAY26"]


def test_aapl_strikes_step_five_within_twenty_percent(catalogue: Catalogue) -> None:
    calls, _ = catalogue.strikes(265598, "JAN26")
    assert calls == [Decimal(s) for s in range(205, 306, 5)]


def test_spy_strikes_step_one_near_the_money_and_five_further_out(catalogue: Catalogue) -> None:
    calls, _ = catalogue.strikes(756733, "MAR26")
    spot = Decimal(665)
    near = [s for s in calls if abs(s - spot) <= spot * Decimal("0.05")]
    far = [s for s in calls if abs(s - spot) > spot * Decimal("0.05")]
    assert near == [Decimal(s) for s in range(632, 699)]
    assert far and all(s % 5 == 0 for s in far)
    assert min(calls) >= spot * Decimal("0.8") and max(calls) <= spot * Decimal("1.2")


def test_options_filters_and_sort_order(catalogue: Catalogue) -> None:
    everything = catalogue.options(265598)
    keys = [(o.expiry, o.strike, o.right) for o in everything]
    assert keys == sorted(keys, key=lambda k: (k[0] or "", k[1] or 0, k[2] or ""))
    calls = catalogue.options(265598, right=Right.CALL)
    assert len(calls) * 2 == len(everything)
    at_250 = catalogue.options(265598, strike=Decimal("250.00"))
    assert len(at_250) == 8  # 4 months × call/put
    assert catalogue.options(265598, month="DEC30") == []


def test_option_reference_prices_and_vols(catalogue: Catalogue) -> None:
    for option in catalogue.options(265598, month="APR26"):
        assert option.strike is not None and option.reference_price >= Decimal("0.01")
        intrinsic = max(Decimal(0), Decimal(255) - option.strike)
        if option.right is Right.PUT:
            intrinsic = max(Decimal(0), option.strike - Decimal(255))
        assert option.reference_price >= intrinsic
        assert 0.13 <= option.volatility <= 0.54
    puts = catalogue.options(265598, month="APR26", right=Right.PUT)
    assert puts[0].volatility > 0.27 > puts[-1].volatility  # put skew around the 0.27 base


def test_no_options_for_other_underlyings(catalogue: Catalogue) -> None:
    assert catalogue.option_months(8314) == []
    assert catalogue.strikes(8314, "JAN26") == ([], [])
    assert catalogue.strikes(265598, "JAN30") == ([], [])
    assert catalogue.options(999) == []


# --- conid stability and uniqueness -----------------------------------------------------------


def contract_key(instrument: Instrument) -> tuple[object, ...]:
    return (
        instrument.symbol,
        instrument.sec_type,
        instrument.expiry,
        instrument.strike,
        instrument.right,
    )


def test_the_same_day_gives_the_same_catalogue() -> None:
    assert list(default_catalogue(today=TODAY)) == list(default_catalogue(today=TODAY))


def test_derived_conids_are_stable_across_days_and_never_reused() -> None:
    seen: dict[int, tuple[object, ...]] = {}
    for week in range(0, 2 * 52, 3):
        for instrument in default_catalogue(today=TODAY + timedelta(weeks=week)):
            assert seen.setdefault(instrument.conid, contract_key(instrument)) == contract_key(
                instrument
            )
    assert len(set(seen.values())) == len(seen)


def test_derived_conids_do_not_overlap_real_ones(catalogue: Catalogue) -> None:
    for instrument in catalogue:
        derived = instrument.sec_type in (SecType.OPT, SecType.FUT)
        assert (instrument.conid >= 1_500_000_000) is derived
        assert instrument.conid < 2**31


def test_search_by_digits_finds_the_underlying_with_that_conid(catalogue: Catalogue) -> None:
    assert symbols(catalogue.search("265598")) == ["AAPL"]
    assert symbols(catalogue.search(" 12087792 ")) == ["EUR.USD"]
    assert catalogue.search("265598", sec_type=SecType.IND) == []
    assert catalogue.search("265598", by_name=True) == []  # a name search reads no conid
    assert catalogue.search("2655") == []  # a conid matches whole, not as a prefix
    option = next(i for i in catalogue if i.sec_type is SecType.OPT)
    assert catalogue.search(str(option.conid)) == []  # search finds underlyings only


def test_search_by_digits_puts_an_exact_numeric_symbol_first() -> None:
    # Hong Kong's Tencent is the ticker "700"; conid 700 is another instrument here.
    small = Catalogue([acme(700, "ACME"), acme(683, "700"), acme(5, "7000")])
    assert symbols(small.search("700")) == ["700", "ACME", "7000"]
