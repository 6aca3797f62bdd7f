"""Matching one order against the simulated top of book (pure: no state, no clock, no I/O).

Rules (the simulator has no order book of its own, only a top of book: a `Quote`, whose
prices are exact Decimals on the tick grid):
- A marketable order fills at the opposite side (a buy at the ask, a sell at the bid), never at
  the last price, and never for more than the size displayed on that side; the rest waits.
- A resting limit (not marketable against the quote) fills at its own limit price when the last
  trade touches it (`QueueModel.TOUCH`: last <= limit for a buy) or trades through it
  (`QueueModel.THROUGH`: last < limit), again capped at the opposite side's displayed size.
- Stops trigger when the trigger price (last by default, or bid/ask) reaches the stop price, then
  behave as MKT (STP, TRAIL) or LMT (STOP_LIMIT at `price`; TRAILLMT at `price` when given,
  else at the stop price that triggered it).
- Trailing stops move their stop price with the trigger price, only ever towards the market.
- MOC/LOC never fill on quotes; `match_at_close` fills them in full at the close price.
The caller shares liquidity between orders with `Quote.consume`, so two orders never both take
the same displayed size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tickgate.model.orders import Order, OrderType, Side, TrailingType
from tickgate.model.ticks import Quote

_HUNDRED = Decimal(100)


class QueueModel(StrEnum):
    """When a resting limit order is filled by trades at its price."""

    TOUCH = "touch"
    THROUGH = "through"


class TriggerSource(StrEnum):
    """Which price triggers stop orders."""

    LAST = "last"
    BID = "bid"
    ASK = "ask"


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Fill-model settings; the defaults match the issue's defaults."""

    queue_model: QueueModel = QueueModel.TOUCH
    stop_trigger: TriggerSource = TriggerSource.LAST


def _reference(market: Quote, source: TriggerSource) -> Decimal:
    """The price of `market` named by `source`."""
    if source is TriggerSource.BID:
        return market.bid
    return market.ask if source is TriggerSource.ASK else market.last


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What one quote does to one order.

    `stop_price` is the (possibly moved) stop price, `triggered` whether the stop has now
    triggered (also True for orders that have none), and `quantity`/`price` the fill, if any.
    """

    stop_price: Decimal | None
    triggered: bool
    quantity: Decimal = Decimal(0)
    price: Decimal | None = None

    @property
    def filled(self) -> bool:
        """True when this result carries a fill."""
        return self.quantity > 0


def trail_stop(order: Order, reference: Decimal, min_tick: Decimal) -> Decimal:
    """The stop price a trailing order would have with the market at `reference`.

    Raises ValueError when the order has no trailing amount.
    """
    if order.trailing_amount is None:
        raise ValueError(f"order {order.order_id} has no trailing amount")
    distance = order.trailing_amount
    if order.trailing_type is TrailingType.PERCENT:
        distance = reference * order.trailing_amount / _HUNDRED
    raw = reference + distance if order.side is Side.BUY else reference - distance
    return (raw / min_tick).to_integral_value() * min_tick


def _moved_stop(order: Order, market: Quote, config: MatchConfig, tick: Decimal) -> Decimal | None:
    reference = _reference(market, config.stop_trigger)
    if not order.order_type.is_trailing or reference <= 0:
        return order.aux_price
    candidate = trail_stop(order, reference, tick)
    if order.aux_price is None:
        return candidate
    # A trailing stop only ratchets towards the market, never away from it.
    if order.side is Side.SELL:
        return max(order.aux_price, candidate)
    return min(order.aux_price, candidate)


def _stop_reached(side: Side, stop: Decimal | None, market: Quote, config: MatchConfig) -> bool:
    reference = _reference(market, config.stop_trigger)
    if stop is None or reference <= 0:
        return False
    return reference >= stop if side is Side.BUY else reference <= stop


def _limit_after_trigger(order: Order, stop: Decimal | None) -> Decimal | None:
    if order.order_type in (OrderType.MKT, OrderType.STP, OrderType.TRAIL):
        return None
    if order.order_type is OrderType.TRAILLMT and order.price is None:
        return stop
    return order.price


def _fill_price(
    side: Side, limit: Decimal | None, market: Quote, config: MatchConfig
) -> Decimal | None:
    touch = market.ask if side is Side.BUY else market.bid
    if touch > 0 and (limit is None or side.sign * (limit - touch) >= 0):
        return touch  # marketable: the opposite side of the quote
    if limit is None or market.last <= 0:
        return None
    gap = side.sign * (limit - market.last)  # > 0: the market traded through the limit
    if gap > 0 or (gap == 0 and config.queue_model is QueueModel.TOUCH):
        return limit
    return None


def match(order: Order, market: Quote, config: MatchConfig, *, min_tick: Decimal) -> MatchResult:
    """Apply one quote to one working order: move/trigger its stop and fill what can fill.

    At-close orders (MOC/LOC) never fill here. The fill is capped at the order's remaining
    quantity and the opposite side's displayed size.
    """
    stop = _moved_stop(order, market, config, min_tick)
    triggered = order.triggered or not order.order_type.is_stop
    if not triggered:
        triggered = _stop_reached(order.side, stop, market, config)
    if not triggered or order.order_type.at_close:
        return MatchResult(stop_price=stop, triggered=triggered)
    price = _fill_price(order.side, _limit_after_trigger(order, stop), market, config)
    size = market.ask_size if order.side is Side.BUY else market.bid_size
    quantity = min(order.remaining, size)
    if price is None or quantity <= 0:
        return MatchResult(stop_price=stop, triggered=True)
    return MatchResult(stop_price=stop, triggered=True, quantity=quantity, price=price)


def reachable_limits(market: Quote) -> tuple[Decimal | None, Decimal | None]:
    """The lowest buy limit and the highest sell limit that `market` may fill (None: none).

    A resting buy limit below both the ask and the last price cannot fill on this quote, nor
    a sell limit above both the bid and the last, whatever the queue model: the engine skips
    them without matching, so a quote costs what it can fill, not what rests far away.
    """
    buys = [p for p in (market.ask, market.last) if p > 0]
    sells = [p for p in (market.bid, market.last) if p > 0]
    return (min(buys) if buys else None), (max(sells) if sells else None)


def match_at_close(order: Order, close: Decimal) -> Decimal | None:
    """The quantity a MOC/LOC order fills at the session's `close` price, or None.

    MOC always fills in full (a positive close is required); LOC only when the close is at or
    better than its limit.
    """
    if close <= 0 or not order.order_type.at_close:
        return None
    limit = order.price
    if order.order_type is OrderType.LOC and (
        limit is None or order.side.sign * (limit - close) < 0
    ):
        return None
    return order.remaining
