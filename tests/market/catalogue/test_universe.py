"""The built-in universe layer: members, conids, listings, SPX/SPXW and the weekly series."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from tickgate.market.catalogue.catalogue import Catalogue, default_catalogue
from tickgate.market.catalogue.chains import option_conid
from tickgate.market.catalogue.expiries import third_friday
from tickgate.market.catalogue.generated import GENERATED_BASE, generated_conid
from tickgate.model.instruments import Right, SecType

TODAY = date(2026, 1, 14)  # a Wednesday; Friday the 16th is January's third Friday
SPX, SPY, QQQ = 416904, 756733, 320227571


@pytest.fixture(scope="module")
def universe() -> Catalogue:
    return default_catalogue(today=TODAY, universe=True)


@pytest.fixture(scope="module")
def core() -> Catalogue:
    return default_catalogue(today=TODAY)


def stocks(catalogue: Catalogue) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for instrument in catalogue:
        if instrument.sec_type is SecType.STK:
            found.setdefault(instrument.symbol, []).append(instrument.conid)
    return found


def test_the_core_is_untouched_and_the_rest_is_layered(
    universe: Catalogue, core: Catalogue
) -> None:
    assert universe.core() == list(core)
    assert {i.conid for i in universe.layered()}.isdisjoint(i.conid for i in core)
    assert len(universe) == len(core) + len(universe.layered())


def test_the_sp500_and_nasdaq100_members_are_there(universe: Catalogue) -> None:
    by_symbol = stocks(universe)
    us = [i for i in universe if i.sec_type is SecType.STK and i.is_us]
    assert len(us) >= 520  # 503 S&P 500 lines and the Nasdaq-100 members outside it
    for symbol in ("XOM", "BRK B", "BF B", "LLY", "ASML", "MELI", "SHOP", "AZN", "ZTS", "A"):
        assert len(by_symbol[symbol]) == 1, symbol
    assert by_symbol["AAPL"][0] == 265598 and by_symbol["MSFT"] == [272093]
    brk = universe.get(by_symbol["BRK B"][0])
    assert (brk.name, brk.listing_exchange, brk.sector) == (
        "BERKSHIRE HATHAWAY", "NYSE", "Financials",
    )  # fmt: skip


def test_universe_conids_are_generated_from_the_symbol_except_the_documented_real_ones(
    universe: Catalogue,
) -> None:
    real = {SPX, 38708077, 273982664, 493546048}
    for instrument in universe.layered():
        if instrument.sec_type is SecType.STK and instrument.conid not in real:
            assert instrument.conid == generated_conid(instrument.symbol), instrument.symbol
            assert instrument.conid > GENERATED_BASE
    assert real <= {i.conid for i in universe.layered()}


def test_apple_has_its_listings_abroad_and_a_namesake(universe: Catalogue) -> None:
    listings = [
        (i.conid, i.name, i.listing_exchange, i.is_us) for i in universe.stocks_by_symbol("AAPL")
    ]
    assert listings == [
        (265598, "APPLE INC", "NASDAQ", True),
        (38708077, "APPLE INC", "MEXI", False),
        (273982664, "APPLE INC", "EBS", False),
        (493546048, "LS 1X AAPL", "LSEETF", False),
    ]
    assert universe.search("AAPL")[0].conid == 265598


def test_spx_is_an_index_with_monthly_spx_and_weekly_spxw_classes(universe: Catalogue) -> None:
    spx = universe.get(SPX)
    assert (spx.sec_type, spx.exchange) == (SecType.IND, "CBOE")
    assert universe.search("SPX")[0] is spx
    options = universe.options(SPX)
    classes = Counter(o.trading_class for o in options)
    assert set(classes) == {"SPX", "SPXW"}
    monthly = {o.expiry for o in options if o.trading_class == "SPX"}
    weekly = {o.expiry for o in options if o.trading_class == "SPXW"}
    assert monthly == {"20260116", "20260220", "20260320", "20260417"}
    # Every Friday, the third ones too; Good Friday (3 April 2026) is not in the next five.
    assert weekly == {"20260116", "20260123", "20260130", "20260206", "20260213"}
    assert all(o.strike is not None and o.strike % 5 == 0 and o.multiplier == 100 for o in options)
    jan = universe.options(SPX, month="JAN26", strike=Decimal(6650), right=Right.CALL)
    assert [(o.trading_class, o.expiry) for o in jan] == [
        ("SPX", "20260116"), ("SPXW", "20260116"), ("SPXW", "20260123"), ("SPXW", "20260130"),
    ]  # fmt: skip
    assert len({o.conid for o in options}) == len(options)
    assert jan[0].conid == option_conid(
        4, date(2026, 1, 16), Decimal(6650), Right.CALL, unit=Decimal(5)
    )


@pytest.mark.parametrize("underlying", [SPY, QQQ])
def test_the_etf_chains_have_weeklies_beside_the_monthlies(
    universe: Catalogue, core: Catalogue, underlying: int
) -> None:
    expiries = sorted({o.expiry or "" for o in universe.options(underlying)})
    monthlies = sorted({o.expiry or "" for o in core.options(underlying)})
    weeklies = sorted(set(expiries) - set(monthlies))
    assert weeklies == ["20260123", "20260130", "20260206", "20260213"]
    for expiry in weeklies:
        day = date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:]))
        assert day.weekday() == 4 and day != third_friday(day.year, day.month)
    assert universe.option_months(underlying) == core.option_months(underlying)
    # The monthly contracts are the very same (conids included).
    assert [o for o in universe.options(underlying) if o.expiry in monthlies] == core.options(
        underlying
    )


def test_a_weekly_on_an_exchange_holiday_moves_to_the_day_before() -> None:
    # Friday 3 April 2026 is Good Friday: the weekly expires on Thursday the 2nd.
    spring = default_catalogue(today=date(2026, 3, 23), universe=True)
    weeklies = {o.expiry for o in spring.options(SPY)} - {
        o.expiry for o in default_catalogue(today=date(2026, 3, 23)).options(SPY)
    }
    assert "20260402" in weeklies and "20260403" not in weeklies


def test_the_same_day_gives_the_same_universe(universe: Catalogue) -> None:
    again = default_catalogue(today=TODAY, universe=True)
    assert list(again) == list(universe)
