"""Trading alerts as values: what a user asked to be told about, and when it stops.

An alert is a list of conditions joined by AND/OR (`LogicBind`), with IBKR's time-in-force
(GTC, or GTD until `expire_ns`), whether it may fire outside regular trading hours and whether
it fires again after it fired once. `tickgate.trading.alerts` keeps and evaluates them;
`tickgate.protocol.rest.alerts` reads and writes IBKR's wire shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum


class ConditionType(IntEnum):
    """IBKR's condition type codes (tickgate evaluates PRICE, TIME, TRADE and VOLUME)."""

    PRICE = 1
    TIME = 3
    MARGIN = 4
    TRADE = 5
    VOLUME = 6
    MTA_MARKET = 7
    MTA_POSITION = 8
    MTA_DAILY_PNL = 9


class Operator(StrEnum):
    """How a condition's observed value compares with its threshold."""

    AT_LEAST = ">="
    AT_MOST = "<="
    ABOVE = ">"
    BELOW = "<"
    EQUAL = "=="

    def holds(self, observed: Decimal | int, threshold: Decimal | int) -> bool:
        """True when `observed OP threshold`."""
        if self is Operator.AT_LEAST:
            return observed >= threshold
        if self is Operator.AT_MOST:
            return observed <= threshold
        if self is Operator.ABOVE:
            return observed > threshold
        if self is Operator.BELOW:
            return observed < threshold
        return observed == threshold

    @property
    def rising(self) -> bool:
        """True for the operators met by a value going up (`>=`, `>`)."""
        return self in (Operator.AT_LEAST, Operator.ABOVE)


class LogicBind(StrEnum):
    """How a condition joins the next one; the last condition's bind is not used."""

    AND = "a"
    OR = "o"
    END = "n"


class TriggerMethod(StrEnum):
    """The price a price condition watches, by TWS's trigger-method codes."""

    DEFAULT = "0"  # the last price, as for a stock in TWS
    DOUBLE_BID_ASK = "1"
    LAST = "2"
    DOUBLE_LAST = "3"
    BID_ASK = "4"
    LAST_OR_BID_ASK = "7"
    MIDPOINT = "8"

    @property
    def double(self) -> bool:
        """True when the price must qualify on two updates in a row."""
        return self in (TriggerMethod.DOUBLE_BID_ASK, TriggerMethod.DOUBLE_LAST)


class Tif(StrEnum):
    """An alert's time in force."""

    GTC = "GTC"
    GTD = "GTD"


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition. `conid` is None for a time condition; `exchange` is what the request's
    `conidex` named after `@` (shown back, not used). `threshold` is a price (PRICE), a
    count (VOLUME), or None (TRADE: any execution of the contract in the alert's account);
    `at_ns` is the instant of a TIME condition, `time_zone` the zone it was written in."""

    type: ConditionType
    operator: Operator
    logic: LogicBind
    conid: int | None = None
    exchange: str = ""
    threshold: Decimal | None = None
    at_ns: int | None = None
    time_zone: str = ""
    trigger: TriggerMethod = TriggerMethod.DEFAULT
    value: str = "*"  # as the request wrote it, shown back in `condition_value`


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What a create or modify request asks for (before it has an id and a state)."""

    account: str
    name: str
    message: str
    conditions: tuple[Condition, ...]
    tif: Tif = Tif.GTC
    expire_ns: int | None = None
    outside_rth: bool = False
    repeatable: bool = False
    send_message: bool = False
    show_popup: bool = False
    email: str = ""
    mobile_only: bool = False  # iTWSOrdersOnly


@dataclass(frozen=True, slots=True)
class Alert:
    """A kept alert: its spec, id, and state. `triggered` stays True once a non-repeatable
    alert fired (it is then done); `fired` counts how often it fired, `expired` is set when
    a GTD alert reached its expiry without firing (it is then inactive)."""

    alert_id: int
    spec: AlertSpec
    created_ns: int
    active: bool = True
    triggered: bool = False
    fired: int = 0
    last_fired_ns: int | None = None
    expired: bool = False

    @property
    def live(self) -> bool:
        """True while the alert is evaluated: active, not done, not expired."""
        return (
            self.active and not self.expired and not (self.triggered and not self.spec.repeatable)
        )
