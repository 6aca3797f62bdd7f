"""The simulator's state for one instrument: its quote, its day, and how it renders to fields.

Prices are held as integer counts of the instrument's tick (`min_tick`), so every price the
simulator shows is on the tick grid by construction; they become wire text only when rendered,
by exact integer arithmetic (`protocol.fields.TickGrid`), never through a float.

A book does not keep a copy of what it sent to find what changed (the market engine owns the
latest values and is the one judge of change): its own moves note the fields they touched (a
new bid, a trade, a halt), and it renders only those. A price or size on the grid is shown
exactly, so a moved value always shows as a new text. Only the fields that show a model value
rounded (`ROUNDED_FIELDS`: greeks, the K/M volume, change %) can move without their text
moving; for those alone the book remembers the text it showed, so that ticks (and the bus and
recordings that carry them) do not fill up with repeats. After a new day's full render, and
at a session close, a tick may still repeat a value; the engine drops it.
"""

from __future__ import annotations

import math
from collections.abc import Set
from dataclasses import dataclass, field
from random import Random

from tickgate.model.instruments import Instrument, SecType
from tickgate.protocol import fields as F
from tickgate.sources.simulator.pricing import OptionValue

#: Per security type: (relative half-width of the quote, minimum spread in ticks, lot size,
#: most lots quoted on one side). Options and FX quote wider than stocks and futures.
_MARKET_SHAPE: dict[SecType, tuple[float, int, int, int]] = {
    SecType.STK: (0.00003, 1, 100, 30),
    SecType.FUT: (0.00001, 1, 1, 60),
    SecType.OPT: (0.0025, 2, 1, 100),
    SecType.CASH: (0.00003, 2, 100_000, 50),
    SecType.IND: (0.0, 0, 1, 0),
}
#: Chance that a quote update also prints a trade, and the most lots one trade takes.
TRADE_PROBABILITY = 0.35
_TRADE_LOTS = 10

#: Every field a book renders: what a full render (the first tick, a new day) asks for.
ALL_FIELDS: frozenset[int] = frozenset({
    F.BID, F.ASK, F.BID_SIZE, F.ASK_SIZE, F.VOLUME, F.VOLUME_EXACT, F.OPEN, F.HIGH, F.LOW,
    F.LAST_SIZE, F.LAST, F.PRIOR_CLOSE, F.CHANGE, F.CHANGE_PCT, F.DELTA, F.GAMMA, F.THETA,
    F.VEGA, F.IMPLIED_VOL, F.OPTION_OPEN_INTEREST, F.FUTURES_OPEN_INTEREST,
})  # fmt: skip
#: What a new last price touches, and what new greeks touch.
_LAST_FIELDS = (F.LAST, F.CHANGE, F.CHANGE_PCT)
_GREEK_FIELDS = (F.DELTA, F.GAMMA, F.THETA, F.VEGA)
#: Fields whose text is a rounding of the model: a touch may leave the text as it was.
ROUNDED_FIELDS = (F.VOLUME, F.CHANGE_PCT, *_GREEK_FIELDS)


@dataclass(slots=True, eq=False)
class SimBook:
    """Mutable simulated market of one instrument. Indices (IND) have no quote and no trades:
    their `last` is the model value on the tick grid.

    Every change of state goes through a method here (or `set_greeks`, `set_halted`,
    `set_market_closed`, `touch_last`), which notes the fields it touched in `touched`;
    `take` renders those and starts afresh."""

    instrument: Instrument
    weight: float
    tick: float = 0.0
    grid: F.TickGrid = field(init=False)
    mid: float = 0.0
    mid_ns: int = 0
    underlying: SimBook | None = None
    expiry_ns: int | None = None
    greeks: OptionValue | None = None
    open_interest: int = 0
    bid: int = 0
    ask: int = 0
    bid_size: int = 0
    ask_size: int = 0
    prior: int = 1
    last: int = 1
    last_size: int = 0
    volume: int = 0
    open: int = 1
    high: int = 1
    low: int = 1
    traded: bool = False
    halted: bool = False
    market_closed: bool = False
    quoted: bool = True
    touched: set[int] = field(default_factory=set)
    shown: dict[int, str] = field(default_factory=dict)  # last text of the ROUNDED_FIELDS
    #: A layered instrument: drawn for by the simulator's second random stream, never the core's.
    layered: bool = False

    def __post_init__(self) -> None:
        self.tick = float(self.instrument.min_tick)
        self.grid = F.TickGrid.of(self.instrument.min_tick, self.instrument.price_decimals)
        self.quoted = self.instrument.sec_type is not SecType.IND

    def ticks_of(self, price: float) -> int:
        """`price` as a whole number of ticks, at least one."""
        return max(1, round(price / self.tick))

    def requote(self, value: float, rng: Random) -> None:
        """Centre a bid/ask around the model `value`: never crossed, at least one tick wide,
        bid at least one tick; a side's size is redrawn when its price moves (else sometimes)."""
        sizes = self.bid_size, self.ask_size
        self._requote(value, rng)
        self._note_sizes(*sizes)

    def _requote(self, value: float, rng: Random) -> None:
        rel, min_spread, lot, most = _MARKET_SHAPE[self.instrument.sec_type]
        spread = max(min_spread, round(2.0 * rel * value / self.tick))
        spread += 1 if rng.random() < 0.3 else 0
        bid = max(1, math.floor(value / self.tick - spread / 2.0 + 0.5))
        ask, touched = bid + spread, self.touched
        if bid != self.bid or rng.random() < 0.4:
            self.bid_size = lot * rng.randint(1, most)
        if ask != self.ask or rng.random() < 0.4:
            self.ask_size = lot * rng.randint(1, most)
        if bid != self.bid:
            self.bid = bid
            touched.add(F.BID)
        if ask != self.ask:
            self.ask = ask
            touched.add(F.ASK)

    def step(self, value: float, rng: Random) -> None:
        """One market event at model `value`: a new quote, sometimes with a trade; an index
        just shows the value."""
        if not self.quoted:
            self._last(self.ticks_of(value))
            self.record(0)
            return
        # A size redrawn by the quote may be taken back to what it was by the trade: only
        # the event's net move is a change.
        sizes = self.bid_size, self.ask_size
        self._requote(value, rng)
        if rng.random() < TRADE_PROBABILITY:
            self._trade(rng)
        self._note_sizes(*sizes)

    def open_print(self, value: float, rng: Random) -> None:
        """The day's first event at model `value`: a quote and a large opening trade."""
        if not self.quoted:
            self.step(value, rng)
            return
        self.requote(value, rng)
        self._last(self.bid if rng.random() < 0.5 else self.ask)
        self.record(_MARKET_SHAPE[self.instrument.sec_type][2] * rng.randint(10, 500))

    def trade(self, rng: Random) -> None:
        """Print a trade at the bid or the ask; it takes size from that side of the quote."""
        sizes = self.bid_size, self.ask_size
        self._trade(rng)
        self._note_sizes(*sizes)

    def _trade(self, rng: Random) -> None:
        lot = _MARKET_SHAPE[self.instrument.sec_type][2]
        size = lot * rng.randint(1, _TRADE_LOTS)
        if rng.random() < 0.5:
            self._last(self.ask)
            self.ask_size = max(lot, self.ask_size - size)
        else:
            self._last(self.bid)
            self.bid_size = max(lot, self.bid_size - size)
        self.record(size)

    def record(self, size: int) -> None:
        """Account `self.last` (just set) as a print of `size`: volume and the day's range."""
        touched = self.touched
        if size != self.last_size:
            self.last_size = size
            touched.add(F.LAST_SIZE)
        if size:
            self.volume += size
            touched.add(F.VOLUME)
            touched.add(F.VOLUME_EXACT)
        if not self.traded:
            self.open = self.high = self.low = self.last
            self.traded = True
            # The range and the last size appear, and the last price loses its C prefix.
            touched.update((F.OPEN, F.HIGH, F.LOW, F.LAST_SIZE, F.LAST))
        elif self.last > self.high:
            self.high = self.last
            touched.add(F.HIGH)
        elif self.last < self.low:
            self.low = self.last
            touched.add(F.LOW)

    def start_day(self, prior: int) -> None:
        """Forget the previous day: `prior` (ticks) becomes the prior close, no trades yet."""
        self.prior = self.last = prior
        self.volume = self.last_size = 0
        self.traded = False
        self.touched.update(ALL_FIELDS)

    def set_greeks(self, greeks: OptionValue) -> None:
        """New model greeks (an option's value was recomputed)."""
        self.greeks = greeks
        self.touched.update(_GREEK_FIELDS)

    def set_halted(self, halted: bool) -> None:
        """Halt or resume: the last price gains or loses its H prefix."""
        if halted != self.halted:
            self.halted = halted
            self.touched.add(F.LAST)

    def set_market_closed(self, closed: bool) -> None:
        """Close or reopen this instrument's own market: the C prefix of the last price."""
        if closed != self.market_closed:
            self.market_closed = closed
            self.touched.add(F.LAST)

    def touch_last(self) -> None:
        """The whole session opened or closed: the last price's C prefix may have changed."""
        self.touched.add(F.LAST)

    def take(self, *, session_open: bool) -> dict[int, str]:
        """The fields touched since the last `take` (or `render_all`), rendered, without the
        rounded fields whose text did not move; none is touched after."""
        touched = self.touched
        if not touched:
            return {}
        values = self.render(session_open=session_open, only=touched)
        touched.clear()
        shown = self.shown
        for fid in ROUNDED_FIELDS:
            text = values.get(fid)
            if text is not None:
                if shown.get(fid) == text:
                    del values[fid]
                else:
                    shown[fid] = text
        return values

    def render_all(self, *, session_open: bool) -> dict[int, str]:
        """Every field this instrument has, rendered (a first tick); none is touched after."""
        self.touched.clear()
        values = self.render(session_open=session_open)
        self.shown = {fid: values[fid] for fid in ROUNDED_FIELDS if fid in values}
        return values

    def render(self, *, session_open: bool, only: Set[int] = ALL_FIELDS) -> dict[int, str]:
        """The dynamic fields of this instrument in `only` (all by default) that it has, as
        wire strings (`tickgate.protocol.fields`)."""
        values: dict[int, str] = {}
        price = self.grid.price
        if self.quoted:
            if F.BID in only:
                values[F.BID] = price(self.bid)
            if F.ASK in only:
                values[F.ASK] = price(self.ask)
            if F.BID_SIZE in only:
                values[F.BID_SIZE] = F.format_size(self.bid_size)
            if F.ASK_SIZE in only:
                values[F.ASK_SIZE] = F.format_size(self.ask_size)
            if F.VOLUME in only:
                values[F.VOLUME] = F.format_volume(self.volume)
                values[F.VOLUME_EXACT] = str(self.volume)
        if self.traded:
            if F.OPEN in only:
                values[F.OPEN] = price(self.open)
            if F.HIGH in only:
                values[F.HIGH] = price(self.high)
            if F.LOW in only:
                values[F.LOW] = price(self.low)
            if self.quoted and F.LAST_SIZE in only:
                values[F.LAST_SIZE] = F.format_size(self.last_size)
        if F.LAST in only:
            # Before the day's first print, and after the close, the last shown is a close.
            closed = not (self.traded and session_open) or self.market_closed
            values[F.LAST] = F.format_last(price(self.last), prior_close=closed, halted=self.halted)
        if F.PRIOR_CLOSE in only:
            values[F.PRIOR_CLOSE] = price(self.prior)
        if F.CHANGE in only:
            change = self.last - self.prior
            values[F.CHANGE] = self.grid.change(change)
            values[F.CHANGE_PCT] = F.format_change_pct(100.0 * change / self.prior)
        if self.greeks is not None and F.DELTA in only:
            values[F.DELTA] = f"{self.greeks.delta:.3f}"
            values[F.GAMMA] = f"{self.greeks.gamma:.4f}"
            values[F.THETA] = f"{self.greeks.theta:.3f}"
            values[F.VEGA] = f"{self.greeks.vega:.3f}"
        if self.greeks is not None and F.IMPLIED_VOL in only:  # constant: full renders only
            values[F.IMPLIED_VOL] = f"{100.0 * self.instrument.volatility:.1f}%"
        # Open interest is drawn once, before the first render: only full renders carry it.
        sec_type = self.instrument.sec_type
        if sec_type is SecType.OPT and F.OPTION_OPEN_INTEREST in only:
            values[F.OPTION_OPEN_INTEREST] = F.format_size(self.open_interest)
        elif sec_type is SecType.FUT and F.FUTURES_OPEN_INTEREST in only:
            values[F.FUTURES_OPEN_INTEREST] = F.format_size(self.open_interest)
        return values

    def _last(self, ticks: int) -> None:
        if ticks != self.last:
            self.last = ticks
            self.touched.update(_LAST_FIELDS)

    def _note_sizes(self, bid_size: int, ask_size: int) -> None:
        """Touch the sizes that differ from `bid_size`/`ask_size` (before the event)."""
        if self.bid_size != bid_size:
            self.touched.add(F.BID_SIZE)
        if self.ask_size != ask_size:
            self.touched.add(F.ASK_SIZE)
