"""Tests for the instrument model: the tick grid and the unknown-conid wording."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.instruments import AAPL

from tickgate.model.instruments import invalid_conid


def test_unknown_conids_are_named_in_ibkr_words() -> None:
    assert invalid_conid(7) == "Invalid conid 7"
    assert invalid_conid(7, 8) == "Invalid conid 7, 8"


def test_round_to_tick_lands_on_the_grid_rounding_half_away_from_zero() -> None:
    nickel = replace(AAPL, min_tick=Decimal("0.05"))
    assert nickel.round_to_tick(101.024) == Decimal("101.00")
    assert nickel.round_to_tick(Decimal("101.025")) == Decimal("101.05")
    assert nickel.on_tick_grid(nickel.round_to_tick(99.99))
