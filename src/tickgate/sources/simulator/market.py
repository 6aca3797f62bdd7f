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

Layered instruments (`background`, and `add` while running: the built-in universe beyond the
seeded core, instruments created on first search) are simulated by the same model on a second
random stream, at their own total rate (`background_ticks_per_second`, spread by activity, with
events due by simulated time), so their presence changes no value, no pick and no timing of the
core instruments. The `background` ones start from that stream in catalogue order; each one
`add`ed later starts from a generator seeded by (seed, conid) alone, so it opens at the same
place whatever else was added before it. A layered option or future reads a core underlying's
current value without moving it.

Determinism: the same catalogue, seed, start and sequence of calls give identical ticks.
"""

from __future__ import annotations

import heapq
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
        background: Iterable[Instrument] = (),
        background_ticks_per_second: float = 0.0,
    ) -> None:
        """Build the market as of `start_ns`; `catalogue` is iterated once.

        `session_open` says whether the market starts trading or closed (showing prior
        closes until `open_session`). `ticks_per_second` is the total rate the source will
        ask for; it lets instruments with their own `ticks_per_second` get exactly that share
        of the events. The conids in `closed` start with their market closed (prior close
        shown, no opening print). `background` instruments are layered (see the module
        docstring), ticking `background_ticks_per_second` events in all (0: they keep their
        opening quote). Raises ValueError for a negative background rate.
        """
        if background_ticks_per_second < 0:
            raise ValueError("background_ticks_per_second must be >= 0")
        self._seed = seed
        self._rng = Random(seed)
        self._layered_rng = Random(f"tickgate-layered:{seed}")
        self._layered_rate = background_ticks_per_second
        self._layered_credit = 0.0
        self._total_rate = ticks_per_second
        self._now = start_ns
        self._open = session_open
        self._books = {i.conid: SimBook(i, weight=0.0) for i in catalogue}
        layered = [SimBook(i, weight=0.0, layered=True) for i in background]
        self._books.update((book.instrument.conid, book) for book in layered)
        for conid in closed:
            self._book(conid).set_market_closed(True)
        for book in self._books.values():
            self._link(book)
        core = [book for book in self._books.values() if not book.layered]
        for book in core:
            self._seed_book(book, self._rng)
        for book in layered:  # the layered stream, in catalogue order: one generator, not one each
            self._seed_book(book, self._layered_rng)
        for book in core:
            book.start_day(book.ticks_of(self._prior_value(book)))
            self._first_event(book)
        for book in layered:
            book.start_day(book.ticks_of(self._prior_value(book)))
            self._first_event(book)
        self._active: list[SimBook] = []
        self._cum_weights: list[float] = []
        self._layered_active: list[SimBook] = []
        self._layered_cum: list[float] = []
        self._reweigh()

    def add(self, instruments: Iterable[Instrument], *, closed: Collection[int] = ()) -> list[Tick]:
        """Simulate instruments that joined the catalogue while running, layered, from
        `now_ns`; the conids of `closed` start with their market closed. Returns each one's
        full state as one tick (for the market engine). An option or future whose underlying
        is neither simulated already nor in `instruments` follows its own random walk.
        A conid already simulated is left as it is (and gets no tick)."""
        books = [
            SimBook(i, weight=0.0, layered=True) for i in instruments if i.conid not in self._books
        ]
        self._books.update((book.instrument.conid, book) for book in books)
        for book in books:
            book.set_market_closed(book.instrument.conid in closed)
            self._link(book)
        rngs = [self._rng_of_new(book) for book in books]
        for book, rng in zip(books, rngs, strict=True):
            self._seed_book(book, rng)
        for book, rng in zip(books, rngs, strict=True):
            book.start_day(book.ticks_of(self._prior_value(book)))
            self._first_event(book, rng)
        self._reweigh()
        return [
            Tick(book.instrument.conid, book.render_all(session_open=self._open), self._now)
            for book in books
        ]

    def _rng_of_new(self, book: SimBook) -> Random:
        # By (seed, conid) alone: a layered instrument opens the same whatever came before it.
        return Random(f"tickgate-instrument:{self._seed}:{book.instrument.conid}")

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
        if n_ticks < 0:
            raise ValueError(f"n_ticks must be >= 0, got {n_ticks}")
        start = self._move_to(now_ns)
        layered = self._layered_events(start, now_ns)
        if not self._open:
            return []
        ticks = self._events(start, now_ns, n_ticks, self._active, self._cum_weights, self._rng)
        if layered:
            more = self._events(
                start, now_ns, layered, self._layered_active, self._layered_cum, self._layered_rng
            )
            ticks = list(heapq.merge(ticks, more, key=lambda tick: tick.ts_ns))
        return ticks

    def _layered_events(self, start: int, now_ns: int) -> int:
        """How many layered events fall due between `start` and `now_ns` (simulated time),
        at most one second's worth: a long jump skips the rest, as the source does."""
        if not self._layered_rate:
            return 0
        self._layered_credit += (now_ns - start) * self._layered_rate / NS_PER_S
        due = int(self._layered_credit)
        self._layered_credit -= due
        return min(due, max(1, int(self._layered_rate)))

    def _events(
        self,
        start: int,
        now_ns: int,
        n_ticks: int,
        active: list[SimBook],
        cum_weights: list[float],
        rng: Random,
    ) -> list[Tick]:
        if n_ticks == 0 or not active:
            return []
        span, ticks, layered = now_ns - start, [], rng is self._layered_rng
        chosen = rng.choices(active, cum_weights=cum_weights, k=n_ticks)
        for i, book in enumerate(chosen):
            ts = start + span * (i + 1) // n_ticks
            book.step(self._value(book, ts, layered=layered), rng)
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

    def _seed_book(self, book: SimBook, rng: Random) -> None:
        """Activity weight, open interest and (for roots) the pre-open model value."""
        instrument = book.instrument
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
        books = [b for b in self._books.values() if not b.halted and not b.market_closed]
        self._active = [book for book in books if not book.layered]
        self._cum_weights = _cumulative(self._shares(self._active, self._total_rate))
        self._layered_active = [book for book in books if book.layered]
        self._layered_cum = _cumulative(self._shares(self._layered_active, self._layered_rate))

    def _shares(self, books: list[SimBook], rate: float | None) -> list[float]:
        """Pick weights: pinned instruments get rate/total of the events, the others share the
        rest by activity (all of it goes to pinned ones when they ask for more than the total)."""
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

    def _first_event(self, book: SimBook, rng: Random | None = None) -> None:
        """The opening print (or, market closed, a fresh quote); a layered book draws from
        `rng` (its own at its start) or else the layered stream, a core book from the core's."""
        if rng is None:
            rng = self._layered_rng if book.layered else self._rng
        value = self._value(book, self._now, layered=book.layered)
        if self._open and not book.market_closed:
            book.open_print(value, rng)
        elif book.quoted:
            book.requote(value, rng)

    def _value(self, book: SimBook, ts: int, *, layered: bool = False) -> float:
        """The model value of `book` at `ts` (derivatives from their underlying's value).
        For a `layered` event a core book's value is read, never moved (see the module
        docstring)."""
        underlying, instrument = book.underlying, book.instrument
        if underlying is None:
            if layered and not book.layered:
                return book.mid
            return self._evolve(book, ts)
        spot = self._value(underlying, ts, layered=layered)
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
        """Advance a root instrument's geometric Brownian motion to `ts`, on its stream."""
        elapsed = ts - book.mid_ns
        if elapsed > 0:
            years = elapsed / NS_PER_TRADING_YEAR
            vol = book.instrument.volatility
            rng = self._layered_rng if book.layered else self._rng
            shock = vol * math.sqrt(years) * rng.gauss(0.0, 1.0)
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


def _cumulative(weights: list[float]) -> list[float]:
    total, found = 0.0, []
    for weight in weights:
        total += weight
        found.append(total)
    return found
