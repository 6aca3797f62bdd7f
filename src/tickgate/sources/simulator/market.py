"""A seeded, deterministic simulated market: pure state in, ticks out (no clock, no asyncio).

Model. Every instrument without a listed underlying (stocks, indices, FX, and derivatives whose
underlying is not in the catalogue) follows a geometric Brownian motion with its `volatility`,
scaled by elapsed simulated *trading* time (252 days of 6.5 hours a year), evolved lazily up to
the time it is looked at. Futures are their underlying's value times a small carry basis;
options are Black–Scholes values of their underlying's current value with the option's
`volatility` as implied volatility, recomputed whenever the option ticks (so they move with the
underlying). Quotes sit on the tick grid and never cross; trades print at the bid or the ask.

The day. Prior close is the instrument's `reference_price` for root instruments, and the model
value one day before `start_ns` for derivatives (so their change is meaningful). With an open
session every instrument has an opening print near its prior close; with a closed one it shows
its prior close with the `C` prefix until `open_session`. `close_session` freezes the market and
marks every last price with `C`; `halt` freezes one instrument and marks it with `H`.
`close_markets` and `start_days` do the same per instrument, for markets that keep their own
hours (`--market-hours exchange`): a closed instrument shows `C` and does not tick until its
next day starts.

Determinism: the same catalogue, seed, start and sequence of calls give identical ticks.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from random import Random

from tickgate.clock import NS_PER_DAY, NS_PER_S
from tickgate.errors import NotFoundError
from tickgate.model.instruments import Instrument, Right, SecType
from tickgate.model.ticks import Tick
from tickgate.sources.simulator.book import SimBook
from tickgate.sources.simulator.pricing import (
    black_scholes,
    expiry_ns,
    futures_price,
    years_between,
)

#: A trading year: 252 sessions of 6.5 hours (23,400 s), so intraday moves look like real ones.
NS_PER_TRADING_YEAR = 252 * 23_400 * NS_PER_S
#: How often each kind of instrument ticks, relative to a stock.
_ACTIVITY = {
    SecType.STK: 1.0,
    SecType.FUT: 1.5,
    SecType.CASH: 0.8,
    SecType.IND: 0.3,
    SecType.OPT: 0.05,
}


class MarketSimulator:
    """The simulated market of a catalogue. See the module docstring for the model."""

    def __init__(
        self,
        catalogue: Iterable[Instrument],
        *,
        seed: int,
        start_ns: int,
        session_open: bool = True,
        ticks_per_second: float | None = None,
        closed: Collection[int] = (),
    ) -> None:
        """Build the market as of `start_ns`; `catalogue` is iterated once.

        `session_open` says whether the market starts trading or closed (showing prior
        closes until `open_session`). `ticks_per_second` is the total rate the source will
        ask for; it lets instruments with their own `ticks_per_second` get exactly that share
        of the events. The conids in `closed` start with their market closed (prior close
        shown, no opening print).
        """
        self._rng = Random(seed)
        self._total_rate = ticks_per_second
        self._now = start_ns
        self._open = session_open
        self._books = {i.conid: SimBook(i, weight=0.0) for i in catalogue}
        for conid in closed:
            self._book(conid).set_market_closed(True)
        for book in self._books.values():
            self._link(book)
        for book in self._books.values():
            self._seed_book(book)
        for book in self._books.values():
            book.start_day(book.ticks_of(self._prior_value(book)))
            self._first_event(book)
        self._active: list[SimBook] = []
        self._cum_weights: list[float] = []
        self._reweigh()

    @property
    def now_ns(self) -> int:
        """The simulated time of the latest call (start, advance or session change)."""
        return self._now

    def initial_ticks(self) -> list[Tick]:
        """The full current state of every instrument, one tick each, as of `now_ns`.

        Quoted instruments carry bid/ask/sizes/last/last size/volume/open/high/low/prior
        close/change/change %; options add greeks, implied vol and open interest, futures open
        interest; indices carry no quote, sizes or volume.
        """
        ticks = []
        for book in self._books.values():
            values = book.render_all(session_open=self._open)
            ticks.append(Tick(book.instrument.conid, values, self._now))
        return ticks

    def advance(self, now_ns: int, n_ticks: int) -> list[Tick]:
        """Move to `now_ns` producing up to `n_ticks` market events, spread evenly in time
        over the elapsed interval, on instruments picked at random (busier ones more often).

        Each tick holds the fields the event moved (see `book`), so an event that moved
        nothing yields no tick. A closed session or an all-halted market produces nothing.
        Raises ValueError when `now_ns` is before `now_ns` of the previous call or
        `n_ticks` is negative.
        """
        start = self._move_to(now_ns)
        if n_ticks < 0:
            raise ValueError(f"n_ticks must be >= 0, got {n_ticks}")
        if n_ticks == 0 or not self._open or not self._active:
            return []
        span, rng, ticks = now_ns - start, self._rng, []
        chosen = rng.choices(self._active, cum_weights=self._cum_weights, k=n_ticks)
        for i, book in enumerate(chosen):
            ts = start + span * (i + 1) // n_ticks
            book.step(self._value(book, ts), rng)
            changed = book.take(session_open=True)
            if changed:
                ticks.append(Tick(book.instrument.conid, changed, ts))
        return ticks

    @property
    def session_open(self) -> bool:
        """True while the simulated session is open (instruments tick)."""
        return self._open

    def halt(self, conid: int) -> list[Tick]:
        """Stop trading `conid`: its last price gets the `H` prefix and it stops ticking.
        Returns the changed fields (none if already halted). Raises NotFoundError."""
        book = self._book(conid)
        book.set_halted(True)
        self._reweigh()
        return self._changes([book])

    def resume(self, conid: int) -> list[Tick]:
        """Resume trading a halted `conid`. Raises NotFoundError."""
        book = self._book(conid)
        book.set_halted(False)
        self._reweigh()
        return self._changes([book])

    def close_session(self, now_ns: int) -> list[Tick]:
        """Close the day at `now_ns`: every last price gets the `C` prefix and the market
        stops until `open_session`. Raises ValueError if `now_ns` goes back in time."""
        self._move_to(now_ns)
        if self._open:
            for book in self._books.values():
                book.touch_last()
        self._open = False
        return self._changes(self._books.values())

    def open_session(self, now_ns: int) -> list[Tick]:
        """Start a new day at `now_ns`: each last price becomes the prior close, volume
        restarts, and every instrument has an opening print. Raises ValueError if `now_ns`
        goes back in time."""
        self._move_to(now_ns)
        self._open = True
        for book in self._books.values():
            book.start_day(book.last)
            self._first_event(book)
        return self._changes(self._books.values())

    def close_markets(self, conids: Iterable[int], now_ns: int) -> list[Tick]:
        """Close the markets of `conids` at `now_ns`: their last price gets the `C` prefix and
        they stop ticking until `start_days`. Raises NotFoundError for an unknown conid and
        ValueError if `now_ns` goes back in time."""
        books = [self._book(conid) for conid in conids]
        self._move_to(now_ns)
        for book in books:
            book.set_market_closed(True)
        self._reweigh()
        return self._changes(books)

    def start_days(self, conids: Iterable[int], now_ns: int) -> list[Tick]:
        """Start a new trading day for `conids` at `now_ns` (their session began): each last
        price becomes the prior close, volume restarts, closed markets reopen, and each has an
        opening print while the session is open. Raises as `close_markets` does."""
        books = [self._book(conid) for conid in conids]
        self._move_to(now_ns)
        for book in books:
            book.set_market_closed(False)
            book.start_day(book.last)
            self._first_event(book)
        self._reweigh()
        return self._changes(books)

    def _move_to(self, now_ns: int) -> int:
        if now_ns < self._now:
            raise ValueError(f"time cannot go back: {now_ns} < {self._now}")
        previous, self._now = self._now, now_ns
        return previous

    def _changes(self, books: Iterable[SimBook]) -> list[Tick]:
        ticks = []
        for book in books:
            changed = book.take(session_open=self._open)
            if changed:
                ticks.append(Tick(book.instrument.conid, changed, self._now))
        return ticks

    def _book(self, conid: int) -> SimBook:
        book = self._books.get(conid)
        if book is None:
            raise NotFoundError(f"unknown conid {conid}")
        return book

    def _link(self, book: SimBook) -> None:
        instrument = book.instrument
        if instrument.sec_type in (SecType.FUT, SecType.OPT):
            book.underlying = self._books.get(instrument.underlying_conid or -1)
            if instrument.expiry:
                book.expiry_ns = expiry_ns(instrument.expiry)

    def _seed_book(self, book: SimBook) -> None:
        """Activity weight, open interest and (for roots) the pre-open model value."""
        instrument, rng = book.instrument, self._rng
        weight = _ACTIVITY[instrument.sec_type] * math.exp(rng.gauss(0.0, 0.6))
        weight *= 2.0 if instrument.is_etf else 1.0
        if instrument.sec_type is SecType.OPT:
            weight *= self._near_the_money(book)
            book.open_interest = int(self._near_the_money(book) * rng.randint(100, 30_000))
        elif instrument.sec_type is SecType.FUT:
            book.open_interest = rng.randint(50_000, 2_000_000)
        book.weight = weight
        # The overnight gap: roots open near, not exactly at, their prior close.
        gap = rng.gauss(0.0, 0.5 * instrument.volatility / math.sqrt(252.0))
        book.mid = float(instrument.reference_price) * math.exp(gap)
        book.mid_ns = self._now

    def _near_the_money(self, book: SimBook) -> float:
        """1.1 at the money, falling towards 0.1 away from it: traders watch those strikes."""
        strike, underlying = book.instrument.strike, book.underlying
        if strike is None or underlying is None:
            return 1.0
        moneyness = math.log(float(strike) / float(underlying.instrument.reference_price))
        return 0.1 + math.exp(-((moneyness / 0.08) ** 2))

    def _reweigh(self) -> None:
        self._active = [
            book for book in self._books.values() if not book.halted and not book.market_closed
        ]
        weights = self._shares(self._active)
        total, self._cum_weights = 0.0, []
        for weight in weights:
            total += weight
            self._cum_weights.append(total)

    def _shares(self, books: list[SimBook]) -> list[float]:
        """Pick weights: pinned instruments get rate/total of the events, the others share the
        rest by activity (all of it goes to pinned ones when they ask for more than the total)."""
        rate = self._total_rate
        pinned = sum(b.instrument.ticks_per_second or 0.0 for b in books)
        if not rate or not pinned:
            return [book.weight for book in books]
        free = sum(book.weight for book in books if book.instrument.ticks_per_second is None)
        spare = rate - pinned
        scale = free / spare if spare > 0 and free > 0 else 1.0
        return [
            book.weight
            if book.instrument.ticks_per_second is None and spare > 0
            else (book.instrument.ticks_per_second or 0.0) * scale
            for book in books
        ]

    def _first_event(self, book: SimBook) -> None:
        value = self._value(book, self._now)
        if self._open and not book.market_closed:
            book.open_print(value, self._rng)
        elif book.quoted:
            book.requote(value, self._rng)

    def _value(self, book: SimBook, ts: int) -> float:
        """The model value of `book` at `ts` (derivatives from their underlying's value)."""
        underlying, instrument = book.underlying, book.instrument
        if underlying is None:
            return self._evolve(book, ts)
        spot = self._value(underlying, ts)
        years = years_between(ts, book.expiry_ns) if book.expiry_ns is not None else 0.0
        if instrument.sec_type is SecType.FUT:
            book.mid = futures_price(spot, years)
        else:
            strike = float(instrument.strike) if instrument.strike is not None else spot
            is_call = instrument.right is not Right.PUT
            greeks = black_scholes(spot, strike, years, instrument.volatility, call=is_call)
            book.set_greeks(greeks)
            book.mid = greeks.price
        return book.mid

    def _evolve(self, book: SimBook, ts: int) -> float:
        """Advance a root instrument's geometric Brownian motion to `ts`."""
        elapsed = ts - book.mid_ns
        if elapsed > 0:
            years = elapsed / NS_PER_TRADING_YEAR
            vol = book.instrument.volatility
            shock = vol * math.sqrt(years) * self._rng.gauss(0.0, 1.0)
            book.mid *= math.exp(shock - 0.5 * vol * vol * years)
            book.mid_ns = ts
        return book.mid

    def _prior_value(self, book: SimBook) -> float:
        """Model value at yesterday's close: roots from `reference_price`, derivatives from
        their underlying's prior value one day before the start."""
        underlying, instrument = book.underlying, book.instrument
        if underlying is None:
            return float(instrument.reference_price)
        spot = self._prior_value(underlying)
        day_before = self._now - NS_PER_DAY
        years = years_between(day_before, book.expiry_ns) if book.expiry_ns is not None else 0.0
        if instrument.sec_type is SecType.FUT:
            return futures_price(spot, years)
        strike = float(instrument.strike) if instrument.strike is not None else spot
        call = instrument.right is not Right.PUT
        return black_scholes(spot, strike, years, instrument.volatility, call=call).price
