"""The simulator's state for one instrument: its quote, its day, and how it renders to fields.

Prices are held as integer counts of the instrument's tick (`min_tick`), so every price the
simulator shows is on the tick grid by construction; they are formatted only when rendered.
"""

from __future__ import annotations

import math
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


@dataclass(slots=True, eq=False)
class SimBook:
    """Mutable simulated market of one instrument. Indices (IND) have no quote and no trades:
    their `last` is the model value on the tick grid."""

    instrument: Instrument
    weight: float
    tick: float = 0.0
    decimals: int = 2
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
    sent: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tick = float(self.instrument.min_tick)
        self.decimals = self.instrument.price_decimals
        self.quoted = self.instrument.sec_type is not SecType.IND

    def ticks_of(self, price: float) -> int:
        """`price` as a whole number of ticks, at least one."""
        return max(1, round(price / self.tick))

    def requote(self, value: float, rng: Random) -> None:
        """Centre a bid/ask around the model `value`: never crossed, at least one tick wide,
        bid at least one tick; a side's size is redrawn when its price moves (else sometimes)."""
        rel, min_spread, lot, most = _MARKET_SHAPE[self.instrument.sec_type]
        spread = max(min_spread, round(2.0 * rel * value / self.tick))
        spread += 1 if rng.random() < 0.3 else 0
        bid = max(1, math.floor(value / self.tick - spread / 2.0 + 0.5))
        if bid != self.bid or rng.random() < 0.4:
            self.bid_size = lot * rng.randint(1, most)
        if bid + spread != self.ask or rng.random() < 0.4:
            self.ask_size = lot * rng.randint(1, most)
        self.bid, self.ask = bid, bid + spread

    def step(self, value: float, rng: Random) -> None:
        """One market event at model `value`: a new quote, sometimes with a trade; an index
        just shows the value."""
        if not self.quoted:
            self.last = self.ticks_of(value)
            self.record(0)
            return
        self.requote(value, rng)
        if rng.random() < TRADE_PROBABILITY:
            self.trade(rng)

    def open_print(self, value: float, rng: Random) -> None:
        """The day's first event at model `value`: a quote and a large opening trade."""
        if not self.quoted:
            self.step(value, rng)
            return
        self.requote(value, rng)
        self.last = self.bid if rng.random() < 0.5 else self.ask
        self.record(_MARKET_SHAPE[self.instrument.sec_type][2] * rng.randint(10, 500))

    def trade(self, rng: Random) -> None:
        """Print a trade at the bid or the ask; it takes size from that side of the quote."""
        lot = _MARKET_SHAPE[self.instrument.sec_type][2]
        size = lot * rng.randint(1, _TRADE_LOTS)
        if rng.random() < 0.5:
            self.last, self.ask_size = self.ask, max(lot, self.ask_size - size)
        else:
            self.last, self.bid_size = self.bid, max(lot, self.bid_size - size)
        self.record(size)

    def record(self, size: int) -> None:
        """Account `self.last` (just set) as a print of `size`: volume and the day's range."""
        self.last_size = size
        self.volume += size
        if not self.traded:
            self.open = self.high = self.low = self.last
            self.traded = True
        elif self.last > self.high:
            self.high = self.last
        elif self.last < self.low:
            self.low = self.last

    def start_day(self, prior: int) -> None:
        """Forget the previous day: `prior` (ticks) becomes the prior close, no trades yet."""
        self.prior = self.last = prior
        self.volume = self.last_size = 0
        self.traded = False

    def price(self, ticks: int) -> str:
        """`ticks` as a wire price string."""
        return F.format_price(ticks * self.tick, self.decimals)

    def render(self, *, session_open: bool) -> dict[int, str]:
        """Every dynamic field of this instrument as wire strings (`tickgate.protocol.fields`)."""
        values: dict[int, str] = {}
        if self.quoted:
            values[F.BID] = self.price(self.bid)
            values[F.ASK] = self.price(self.ask)
            values[F.BID_SIZE] = F.format_size(self.bid_size)
            values[F.ASK_SIZE] = F.format_size(self.ask_size)
            values[F.VOLUME] = F.format_volume(self.volume)
            values[F.VOLUME_EXACT] = str(self.volume)
        if self.traded:
            values[F.OPEN] = self.price(self.open)
            values[F.HIGH] = self.price(self.high)
            values[F.LOW] = self.price(self.low)
            if self.quoted:
                values[F.LAST_SIZE] = F.format_size(self.last_size)
        # Before the day's first print, and after the close, the last shown is a close.
        closed = not (self.traded and session_open) or self.market_closed
        values[F.LAST] = F.format_last(
            self.price(self.last), prior_close=closed, halted=self.halted
        )
        values[F.PRIOR_CLOSE] = self.price(self.prior)
        change = self.last - self.prior
        values[F.CHANGE] = F.format_change(change * self.tick, self.decimals)
        values[F.CHANGE_PCT] = F.format_change_pct(100.0 * change / self.prior)
        self._render_derivative(values)
        return values

    def _render_derivative(self, values: dict[int, str]) -> None:
        if self.greeks is not None:
            values[F.DELTA] = f"{self.greeks.delta:.3f}"
            values[F.GAMMA] = f"{self.greeks.gamma:.4f}"
            values[F.THETA] = f"{self.greeks.theta:.3f}"
            values[F.VEGA] = f"{self.greeks.vega:.3f}"
            values[F.IMPLIED_VOL] = f"{100.0 * self.instrument.volatility:.1f}%"
        if self.instrument.sec_type is SecType.OPT:
            values[F.OPTION_OPEN_INTEREST] = F.format_size(self.open_interest)
        elif self.instrument.sec_type is SecType.FUT:
            values[F.FUTURES_OPEN_INTEREST] = F.format_size(self.open_interest)

    def diff(self, *, session_open: bool) -> dict[int, str]:
        """The rendered fields that differ from what was last sent, now counted as sent."""
        sent = self.sent
        changed = {
            fid: value
            for fid, value in self.render(session_open=session_open).items()
            if sent.get(fid) != value
        }
        sent.update(changed)
        return changed
