"""Tests for the order value types."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tickgate.model.orders import Order, OrderStatus, OrderType, Side, TimeInForce


def _order(**changes: object) -> Order:
    base = Order(
        order_id=1,
        account="DU1",
        conid=265598,
        side=Side.BUY,
        order_type=OrderType.LMT,
        quantity=Decimal(100),
        tif=TimeInForce.DAY,
        status=OrderStatus.SUBMITTED,
        created_ns=0,
        updated_ns=0,
        price=Decimal("165"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_remaining_is_quantity_minus_filled() -> None:
    assert _order(filled_quantity=Decimal(30)).remaining == Decimal(70)


def test_order_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _order().status = OrderStatus.FILLED  # type: ignore[misc]


@pytest.mark.parametrize("status", list(OrderStatus))
def test_working_means_not_final(status: OrderStatus) -> None:
    final = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.INACTIVE}
    assert _order(status=status).is_working is (status not in final)


def test_side_sign() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)


def test_order_type_classes() -> None:
    assert {t for t in OrderType if t.has_limit} == {
        OrderType.LMT,
        OrderType.STOP_LIMIT,
        OrderType.LOC,
    }
    assert {t for t in OrderType if t.is_trailing} == {OrderType.TRAIL, OrderType.TRAILLMT}
    assert {t for t in OrderType if t.at_close} == {OrderType.MOC, OrderType.LOC}
    assert OrderType.TRAILLMT.is_stop and not OrderType.LMT.is_stop
