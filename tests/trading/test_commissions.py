"""Commission schedule: IBKR-fixed-like defaults."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.instruments import instrument

from tickgate.model.instruments import Instrument, SecType
from tickgate.trading.commissions import FREE, CommissionSchedule

D = Decimal


def _inst(sec_type: SecType = SecType.STK, multiplier: int = 1) -> Instrument:
    return instrument(1, "X", sec_type, price="100", volatility=0.2, multiplier=multiplier)


@pytest.mark.parametrize(
    ("qty", "price", "expected"),
    [
        (D(100), D(100), D("1.00")),  # 0.50 raised to the 1.00 minimum
        (D(1000), D(100), D("5.00")),  # 0.005 per share
        (D(10), D("5"), D("0.50")),  # minimum capped at 1% of 50.00
        (D(1), D("0.10"), D("0.00")),  # 1% of 0.10 rounds to zero cents
        (D(-1000), D(100), D("5.00")),  # sign of quantity does not matter
    ],
)
def test_shares(qty: D, price: D, expected: D) -> None:
    assert CommissionSchedule().commission(_inst(), qty, price) == expected


@pytest.mark.parametrize("sec_type", [SecType.FUT, SecType.OPT])
def test_per_contract(sec_type: SecType) -> None:
    inst = _inst(sec_type, 100)
    assert CommissionSchedule().commission(inst, D(3), D("2.5")) == D("2.55")


def test_zero_quantity_and_free() -> None:
    assert CommissionSchedule().commission(_inst(), D(0), D(10)) == D(0)
    assert FREE.commission(_inst(), D(500), D(10)) == D(0)
