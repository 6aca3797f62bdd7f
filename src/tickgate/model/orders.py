"""Orders and executions: frozen value types of paper trading.

Prices, quantities and money are `Decimal`; timestamps are integer epoch nanoseconds. An `Order`
is never mutated: every change yields a new value via `dataclasses.replace`, so a stored event
holds an exact snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    """Order side, with the wire spelling."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """Order types accepted by the paper-trading engine (wire spelling of `orderType`)."""

    MKT = "MKT"
    LMT = "LMT"
    STP = "STP"
    STOP_LIMIT = "STOP_LIMIT"
    TRAIL = "TRAIL"
    TRAILLMT = "TRAILLMT"
    MOC = "MOC"
    LOC = "LOC"

    @property
    def has_limit(self) -> bool:
        """True when the order needs a limit `price`."""
        return self in (OrderType.LMT, OrderType.STOP_LIMIT, OrderType.LOC)

    @property
    def is_stop(self) -> bool:
        """True when the order waits for a trigger before it can fill."""
        return self in (OrderType.STP, OrderType.STOP_LIMIT, OrderType.TRAIL, OrderType.TRAILLMT)

    @property
    def is_trailing(self) -> bool:
        """True for trailing stops, whose stop price follows the market."""
        return self in (OrderType.TRAIL, OrderType.TRAILLMT)

    @property
    def at_close(self) -> bool:
        """True for orders that only fill at the session close."""
        return self in (OrderType.MOC, OrderType.LOC)


class TimeInForce(StrEnum):
    """Time in force (wire spelling of `tif`)."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    OPG = "OPG"


class OrderStatus(StrEnum):
    """IBKR order statuses, with the wire spelling."""

    INACTIVE = "Inactive"
    PENDING_SUBMIT = "PendingSubmit"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    FILLED = "Filled"
    PENDING_CANCEL = "PendingCancel"
    CANCELLED = "Cancelled"
    WARN_STATE = "WarnState"

    @property
    def is_final(self) -> bool:
        """True when no further change can happen to an order in this status."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.INACTIVE)


class TrailingType(StrEnum):
    """How `trailing_amount` is read: an absolute price distance or a percentage."""

    AMOUNT = "amt"
    PERCENT = "%"


#: How the group of orders placed together with IBKR's `isSingleGroup` is named; what follows
#: it is the group's `oca_group_id` on the wire.
OCA_GROUP_PREFIX = "oca-"


@dataclass(frozen=True, slots=True)
class Order:
    """One order and its current state.

    `price` is the limit price, `aux_price` the stop (trigger) price. For trailing orders
    `aux_price` is the current stop price, moved by the engine as the market moves.
    `triggered` becomes True once a stop has triggered. `parent_id` names the parent order
    of a bracket child (which stays held until its parent has filled); orders sharing an
    `oca_group` cancel each other when one of them fills. A `currency_conversion` order
    (IBKR's `isCcyConv`) on an FX pair converts cash between the pair's currencies instead of
    opening an FX position.
    """

    order_id: int
    account: str
    conid: int
    side: Side
    order_type: OrderType
    quantity: Decimal
    tif: TimeInForce
    status: OrderStatus
    created_ns: int
    updated_ns: int
    price: Decimal | None = None
    aux_price: Decimal | None = None
    c_oid: str | None = None
    parent_id: int | None = None
    oca_group: str | None = None
    trailing_type: TrailingType | None = None
    trailing_amount: Decimal | None = None
    outside_rth: bool = False
    triggered: bool = False
    filled_quantity: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    last_execution_ns: int | None = None
    currency_conversion: bool = False

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.quantity - self.filled_quantity

    @property
    def is_working(self) -> bool:
        """True while the order may still fill or be cancelled."""
        return not self.status.is_final


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order.

    `price` is per unit; the cash effect is `qty * price * multiplier` plus `commission`
    (always >= 0, paid in the instrument's currency).
    """

    execution_id: str
    order_id: int
    account: str
    conid: int
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    ts_ns: int
