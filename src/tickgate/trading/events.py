"""Trading events (past tense) and their JSON codec for the event store.

`OrderAccepted`, `OrderUpdated`, `OrderFilled` and `SessionClosed` are *stored* events: the
engine's whole state is the fold of them (see `TradingState.apply`). Each order event carries the
complete order snapshot after the change, so replay never recomputes a transition.
`PnlChanged` is derived (from marks that are not stored) and only published, never stored. It
carries a frozen snapshot of every figure the account views render (P&L, the nine summary
figures, the ledger), so a renderer builds its frame from the event alone and never reads the
portfolio back: the account stream runs forward only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import (
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TrailingType,
)

if TYPE_CHECKING:
    from tickgate.trading.portfolio import CurrencyLedger, Portfolio


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """A new order passed validation (and questions) and is live or held."""

    order: Order


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    """An order changed status, price, quantity, trigger or trailing stop (not by a fill)."""

    order: Order


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """An order (partially) filled; `order` is its snapshot after the fill."""

    order: Order
    fill: Fill


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The trading session closed at `ts_ns`; `closes` are the close prices used for marks."""

    ts_ns: int
    closes: dict[int, Decimal]


@dataclass(frozen=True, slots=True)
class PnlChanged:
    """An account's figures changed (published only; derived from marks and fills).

    A snapshot taken when published: the P&L row's figures first, then the rest of what the
    summary and the ledger show (it satisfies `protocol.rest.accounts.AccountFigures`). Equal
    snapshots compare equal, which is how the engine publishes only changes.
    """

    account: str
    daily: Decimal
    unrealized: Decimal
    realized: Decimal
    net_liquidation: Decimal
    market_value: Decimal
    excess_liquidity: Decimal
    config: AccountConfig
    cash: Decimal
    commissions: Decimal
    buying_power: Decimal
    available_funds: Decimal
    gross_position_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    currencies: tuple[CurrencyLedger, ...] = ()

    @classmethod
    def of(cls, portfolio: Portfolio) -> PnlChanged:
        """The snapshot of `portfolio`'s figures now."""
        f, config = portfolio.snapshot(), portfolio.config  # one pass over the positions
        daily = f.net_liquidation - portfolio.session_open_net_liquidation
        return cls(
            config.account_id, daily, f.unrealized, f.realized, f.net_liquidation,
            f.market_value, f.excess_liquidity, config, f.cash, f.commissions, f.buying_power,
            f.available_funds, f.gross_position_value, f.initial_margin, f.maintenance_margin,
            f.currencies,
        )  # fmt: skip


StoredEvent = OrderAccepted | OrderUpdated | OrderFilled | SessionClosed
TradingEvent = StoredEvent | PnlChanged

_DECIMAL_FIELDS: tuple[str, ...] = (
    "quantity",
    "price",
    "aux_price",
    "trailing_amount",
    "filled_quantity",
)
_DECIMAL_FIELDS += ("avg_price", "commission")
_ENUMS: dict[str, Any] = {
    "side": Side,
    "order_type": OrderType,
    "tif": TimeInForce,
    "status": OrderStatus,
    "trailing_type": TrailingType,
}
#: Field name -> how its JSON value becomes the Python one (only fields that need it). Decoding
#: walks these few names rather than every field: a restart decodes every event of the day.
_CONVERTERS: dict[str, Any] = {**dict.fromkeys(_DECIMAL_FIELDS, Decimal), **_ENUMS}


def _to_json(obj: Order | Fill) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        out[field.name] = str(value) if isinstance(value, Decimal) else value
    return out


def _from_json(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for name, convert in _CONVERTERS.items():
        value = out.get(name)
        if value is not None:
            out[name] = convert(value)
    return out


def encode_order(order: Order) -> dict[str, Any]:
    """The JSON-able form of an order snapshot (Decimals as exact strings)."""
    return _to_json(order)


def decode_order(data: dict[str, Any]) -> Order:
    """The order `encode_order` wrote. Raises TypeError/ValueError for a malformed one."""
    return Order(**_from_json(data))


def encode_fill(fill: Fill) -> dict[str, Any]:
    """The JSON-able form of an execution."""
    return _to_json(fill)


def decode_fill(data: dict[str, Any]) -> Fill:
    """The execution `encode_fill` wrote. Raises TypeError/ValueError for a malformed one."""
    return Fill(**_from_json(data))


def encode(event: StoredEvent) -> tuple[str, dict[str, Any]]:
    """The (kind, JSON-able payload) of a stored event; Decimals become exact strings."""
    if isinstance(event, SessionClosed):
        closes = {str(conid): str(price) for conid, price in event.closes.items()}
        return "SessionClosed", {"ts_ns": event.ts_ns, "closes": closes}
    payload = {"order": _to_json(event.order)}
    if isinstance(event, OrderFilled):
        payload["fill"] = _to_json(event.fill)
    return type(event).__name__, payload


def decode(kind: str, payload: dict[str, Any]) -> StoredEvent:
    """The event `encode` turned into (kind, payload). Raises ValueError for an unknown kind."""
    if kind == "SessionClosed":
        closes = {int(c): Decimal(p) for c, p in payload["closes"].items()}
        return SessionClosed(int(payload["ts_ns"]), closes)
    if kind not in ("OrderAccepted", "OrderUpdated", "OrderFilled"):
        raise ValueError(f"unknown stored event kind {kind!r}")
    order = decode_order(payload["order"])
    if kind == "OrderFilled":
        return OrderFilled(order, decode_fill(payload["fill"]))
    return OrderAccepted(order) if kind == "OrderAccepted" else OrderUpdated(order)
