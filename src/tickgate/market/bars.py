"""OHLCV bars: the value type, aggregation, and the recorder of live 1-minute bars.

`LiveBars` turns the market engine's changed-field reports into 1-minute bars. A trade is seen
as a new last price (31) or a rise of the exact cumulative volume (7762), which also catches a
trade at an unchanged price; the traded quantity is the volume's rise, or the last size (7059)
when the source publishes no cumulative volume. Last prices carrying a ``C`` (prior close) or
``H`` (halted) prefix are not trades and are ignored, as is any value that does not parse: a
listener must never raise into the engine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tickgate.clock import NS_PER_MINUTE
from tickgate.protocol import fields as F

__all__ = ["Bar", "LiveBars", "aggregate"]


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: prices of the trades from `start_ns` (epoch ns of its first data) on."""

    start_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


def aggregate(bars: Sequence[Bar]) -> Bar:
    """The bar made of consecutive `bars` (chronological): first open, highest high, lowest low,
    last close, summed volume, first start. Raises ValueError when `bars` is empty."""
    if not bars:
        raise ValueError("cannot aggregate no bars")
    return Bar(
        bars[0].start_ns,
        bars[0].open,
        max(b.high for b in bars),
        min(b.low for b in bars),
        bars[-1].close,
        sum(b.volume for b in bars),
    )


class LiveBars:
    """1-minute bars of one instrument's live trades from `since_ns` on.

    Memory is bounded: only the latest `capacity` minutes that saw a trade are kept. Ticks
    stamped before `since_ns`, or for a minute older than the newest one and not kept, are
    ignored (the engine's clock only moves forward). Not thread-safe.
    """

    def __init__(self, *, since_ns: int, capacity: int) -> None:
        self._since_ns = since_ns
        self._capacity = capacity
        self._bars: dict[int, list[Decimal]] = {}
        self._volumes: dict[int, int] = {}
        self._order: deque[int] = deque()
        self._last_price: Decimal | None = None
        self._cumulative: int | None = None

    def __len__(self) -> int:
        return len(self._order)

    def copy(self) -> LiveBars:
        """A snapshot that another thread may read while this one keeps recording."""
        clone = LiveBars(since_ns=self._since_ns, capacity=self._capacity)
        clone._bars = {minute: list(bar) for minute, bar in self._bars.items()}
        clone._volumes = dict(self._volumes)
        clone._order = deque(self._order)
        clone._last_price, clone._cumulative = self._last_price, self._cumulative
        return clone

    def record(self, changed: Mapping[int, str], ts_ns: int) -> None:
        """Account the trade, if any, that `changed` reports at `ts_ns`. Never raises."""
        if ts_ns < self._since_ns:
            return
        price = _trade_price(changed.get(F.LAST))
        traded = self._traded(changed, priced=price is not None)
        if price is None:
            if traded == 0 or self._last_price is None:
                return
            price = self._last_price
        self._last_price = price
        self._add(ts_ns - ts_ns % NS_PER_MINUTE, price, traded)

    def minutes(self, lo_ns: int, hi_ns: int) -> list[Bar]:
        """The kept minute bars starting in [lo_ns, hi_ns), chronological."""
        return [self._bar(m) for m in self._order if lo_ns <= m < hi_ns]

    def last_end_before(self, end_ns: int) -> int | None:
        """End of the data of the latest kept minute starting before `end_ns`, capped at
        `end_ns`; None when there is none."""
        for minute in reversed(self._order):
            if minute < end_ns:
                return min(minute + NS_PER_MINUTE, end_ns)
        return None

    def _traded(self, changed: Mapping[int, str], *, priced: bool) -> int:
        total = _count(changed.get(F.VOLUME_EXACT))
        if total is not None:
            previous, self._cumulative = self._cumulative, total
            if previous is not None:
                # A lower total means the source started a new trading day.
                return total - previous if total >= previous else total
        size = _count(changed.get(F.LAST_SIZE)) if priced else None
        return size or 0

    def _add(self, minute: int, price: Decimal, traded: int) -> None:
        bar = self._bars.get(minute)
        if bar is None:
            if self._order and minute < self._order[-1]:
                return
            self._bars[minute] = [price, price, price, price]
            self._volumes[minute] = traded
            self._order.append(minute)
            if len(self._order) > self._capacity:
                oldest = self._order.popleft()
                del self._bars[oldest], self._volumes[oldest]
            return
        bar[1] = max(bar[1], price)
        bar[2] = min(bar[2], price)
        bar[3] = price
        self._volumes[minute] += traded

    def _bar(self, minute: int) -> Bar:
        o, h, low, c = self._bars[minute]
        return Bar(minute, o, h, low, c, self._volumes[minute])


def _trade_price(value: str | None) -> Decimal | None:
    if value is None or value[:1] in ("C", "H"):
        return None
    try:
        price = Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None
    return price if price.is_finite() and price > 0 else None


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return F.parse_size(value)
    except ValueError:
        return None
