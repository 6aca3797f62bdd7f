"""Generated chains: derived conids, strike ladders, option values and implied vols."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.chains import (
    FUTURE_ROOTS,
    OPTION_BASE,
    OPTION_CHAINS,
    future_conid,
    implied_vol,
    option_conid,
    option_value,
    strike_ladder,
)
from tickgate.model.instruments import Right

FRIDAY = date(2027, 1, 15)


def test_future_conid_layout() -> None:
    assert future_conid(FUTURE_ROOTS["ES"], 2026, 3) == 1_500_012_603
    assert future_conid(FUTURE_ROOTS["GC"], 2027, 12) == 1_500_042_712
    conids = {
        future_conid(r, y, m)
        for r in FUTURE_ROOTS.values()
        for y in (2026, 2027)
        for m in range(1, 13)
    }
    assert len(conids) == len(FUTURE_ROOTS) * 24


def test_option_conid_separates_every_field() -> None:
    base = option_conid(1, FRIDAY, Decimal(200), Right.CALL)
    assert option_conid(1, FRIDAY, Decimal(200), Right.PUT) == base + 1
    assert option_conid(1, FRIDAY, Decimal("200.5"), Right.CALL) == base + 2
    assert option_conid(1, date(2027, 1, 16), Decimal(200), Right.CALL) == base + 4_000
    assert option_conid(2, FRIDAY, Decimal(200), Right.CALL) == base + 14_640_000
    assert option_conid(1, FRIDAY, Decimal("200.0"), Right.CALL) == base


def test_option_conids_stay_in_their_range() -> None:
    last = option_conid(36, date(2029, 12, 31), Decimal("999.5"), Right.PUT)
    first = option_conid(1, date(2030, 1, 1), Decimal("0.5"), Right.CALL)
    assert OPTION_BASE < first < last < 2**31


@pytest.mark.parametrize("strike", ["1000", "0", "200.25", "-5"])
def test_option_conid_rejects_strikes_it_cannot_encode(strike: str) -> None:
    with pytest.raises(CatalogueError, match="strike"):
        option_conid(1, FRIDAY, Decimal(strike), Right.CALL)


@pytest.mark.parametrize("slot", [0, 37])
def test_option_conid_rejects_slots_beyond_the_int32_range(slot: int) -> None:
    with pytest.raises(CatalogueError, match="slot"):
        option_conid(slot, FRIDAY, Decimal(100), Right.CALL)


def test_option_slots_are_distinct() -> None:
    slots = [chain.slot for chain in OPTION_CHAINS.values()]
    assert len(set(slots)) == len(slots)


def test_strike_ladder_bands() -> None:
    ladder = strike_ladder(OPTION_CHAINS["SPY"], Decimal(100))
    assert ladder == [
        Decimal(s)
        for s in (80, 85, 90, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 110, 115, 120)
    ]


def test_implied_vol_skews_towards_low_strikes_within_bounds() -> None:
    spot = Decimal(100)
    assert implied_vol(0.25, spot, spot) == 0.25
    assert implied_vol(0.25, spot, Decimal(80)) > 0.25 > implied_vol(0.25, spot, Decimal(120))
    assert implied_vol(0.25, spot, Decimal(1)) == 0.5
    assert implied_vol(0.25, spot, Decimal(999)) == 0.125


def test_option_value_obeys_parity_and_bounds() -> None:
    spot, strike = Decimal(100), Decimal(90)
    call = option_value(spot, strike, 0.3, 0.5, Right.CALL)
    put = option_value(spot, strike, 0.3, 0.5, Right.PUT)
    assert abs((call - put) - (spot - strike)) <= Decimal("0.01")
    assert call > spot - strike and put > 0
    assert option_value(spot, Decimal(300), 0.2, 0.01, Right.CALL) == Decimal("0.01")
    atm = option_value(spot, spot, 0.2, 1.0, Right.CALL)
    assert abs(atm - Decimal("7.97")) <= Decimal("0.01")  # ≈ 0.4 · S · σ · √T
