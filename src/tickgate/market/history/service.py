"""Historical bars for ``/iserver/marketdata/history`` and the ``smh`` topic.

`HistoryService` answers history requests from a deterministic synthetic pre-history (see
`history.synthetic`) that ends at the anchor, the instant the service was built (the simulator's
start, where every instrument stands at its reference price), followed by the 1-minute bars it
records from the market engine's live trades.

Windows (protocol reference §8.4): bars end at ``startTime`` (UTC, clamped to now) or now. When
that instant lies outside any data (a weekend, the night), the window ends at the latest data
before it, like IBKR answering a Saturday request with Friday's bars. Minute and hour periods
reach back that much clock time; ``Nd`` takes the last N trading dates that have data; weeks,
months and years are calendar spans. The window's first bar is always whole: its start is moved
back to the start of the bar it falls in. Live bars are kept whatever the session (the simulator
trades whenever tickgate runs) while ``outside_rth=False`` keeps only regular-hours synthetic
windows. Quote sources are modelled from trades: midpoint and bid_ask bars are the trade bars,
bid and ask ones one tick below and above; none of them has volume.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from tickgate.clock import NS_PER_MINUTE, NS_PER_S, Clock
from tickgate.errors import NotFoundError, RequestError
from tickgate.market.bars import Bar, LiveBars
from tickgate.market.calendar import calendar_of
from tickgate.market.history.query import (
    MAX_POINTS,
    BarSize,
    Period,
    check_step,
    parse_bar,
    parse_period,
)
from tickgate.market.history.synthetic import SyntheticHistory
from tickgate.market.history.window import InstrumentData
from tickgate.model.instruments import Instrument
from tickgate.protocol import fields as F
from tickgate.protocol.rest_values import shown

__all__ = [
    "LIVE_MINUTES",
    "SOURCES",
    "HistoryService",
    "Instruments",
    "Lender",
    "parse_start_time",
]

#: Live 1-minute bars kept per conid: a week of round-the-clock trading.
LIVE_MINUTES = 7 * 1440
#: Synthetic histories kept at once (least recently used ones are rebuilt on demand).
SYNTHETIC_CACHE = 64
SOURCES = ("trades", "midpoint", "bid_ask", "bid", "ask")
_START_TIME = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}$", re.ASCII)  # "٢٠٢٤..." is no date


#: Bars that are not this service's to compute, for one request (conid, period, bar,
#: start_time, outside_rth, source): a relay lends its upstream's for the instruments it learnt
#: from it. Returns the request's computation (which raises as `HistoryService.plan`'s may),
#: or None when the service's own bars answer.
Lender = Callable[[int, Period, BarSize, str | None, bool, str], Callable[[], list[Bar]] | None]


class Instruments(Protocol):
    """Where the service looks instruments up (the catalogue)."""

    def get(self, conid: int) -> Instrument:
        """The instrument of `conid`; raises NotFoundError when there is none."""
        ...


def parse_start_time(text: str) -> int:
    """Epoch ns of a ``YYYYMMDD-HH:mm:ss`` UTC time. Raises RequestError (400) otherwise."""
    try:
        if not _START_TIME.match(text):
            raise ValueError(text)
        moment = datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise RequestError(
            f"invalid startTime {shown(text)}: expected YYYYMMDD-HH:mm:ss (UTC)"
        ) from None
    return int(moment.timestamp()) * NS_PER_S


class HistoryService:
    """Bars of every instrument: synthetic before the anchor, recorded live trades after it.

    `anchor_ns` defaults to the clock's time at construction. Same seed and anchor, same
    synthetic history. Memory: at most `live_minutes` live bars per conid that traded, and
    `SYNTHETIC_CACHE` synthetic histories. Owned by the event loop: not thread-safe.
    """

    def __init__(
        self,
        instruments: Instruments,
        *,
        seed: int,
        clock: Clock,
        anchor_ns: int | None = None,
        live_minutes: int = LIVE_MINUTES,
    ) -> None:
        self._instruments = instruments
        self._seed = seed
        self._clock = clock
        anchor = clock.now_ns() if anchor_ns is None else anchor_ns
        self._anchor_ns = anchor - anchor % NS_PER_MINUTE
        self._live_minutes = live_minutes
        self._live: dict[int, LiveBars] = {}
        self._synthetic: OrderedDict[int, SyntheticHistory] = OrderedDict()
        self._compute_lock = threading.Lock()
        self._lender: Lender | None = None

    def lend_from(self, lender: Lender | None) -> None:
        """Ask `lender` first for the bars of every request (None: this service answers all)."""
        self._lender = lender

    def record(self, conid: int, changed: Mapping[int, str], ts_ns: int) -> None:
        """The market engine listener: account a trade reported in `changed`. Never raises."""
        live = self._live.get(conid)
        if live is None:
            live = self._live[conid] = LiveBars(
                since_ns=self._anchor_ns, capacity=self._live_minutes
            )
        # Only a new last price or cumulative volume can report a trade (`LiveBars`): most
        # ticks are quotes alone, and skipping the call for them keeps the tick path short.
        if F.LAST in changed or F.VOLUME_EXACT in changed:
            live.record(changed, ts_ns)

    def bars(
        self,
        conid: int,
        *,
        period: Period | str,
        bar: BarSize | str,
        start_time: str | None = None,
        outside_rth: bool = False,
        source: str = "trades",
    ) -> list[Bar]:
        """Chronological bars of `conid` for the window described in the module docstring.

        Returns [] when the window holds no data. Raises NotFoundError for an unknown conid and
        RequestError (400) for a bad period, bar, start time or source, a bar outside the
        period's step sizes, or more than `MAX_POINTS` bars.
        """
        query = self.plan(
            conid,
            period=period,
            bar=bar,
            start_time=start_time,
            outside_rth=outside_rth,
            source=source,
        )
        return query()

    def plan(
        self,
        conid: int,
        *,
        period: Period | str,
        bar: BarSize | str,
        start_time: str | None = None,
        outside_rth: bool = False,
        source: str = "trades",
    ) -> Callable[[], list[Bar]]:
        """Validate a request on the owning thread and return its computation.

        Long windows take a tenth of a second or more to compute; the returned callable may run
        on a worker thread while this service keeps recording (it reads a snapshot of the live
        bars, and computations are serialised by a lock). Raises as `bars` does, the
        `MAX_POINTS` check when the callable runs; or as the lender (`lend_from`) does.
        """
        instrument = self._instruments.get(conid)
        period = parse_period(period) if isinstance(period, str) else period
        size = parse_bar(bar) if isinstance(bar, str) else bar
        check_step(period, size)
        kind = source.lower()
        if kind not in SOURCES:
            raise RequestError(
                f"invalid source {shown(source)}: expected one of {', '.join(SOURCES)}"
            )
        if self._lender is not None:
            lent = self._lender(conid, period, size, start_time, outside_rth, kind)
            if lent is not None:
                return lent
        now = self._clock.now_ns()
        end = now if start_time is None else min(parse_start_time(start_time), now)
        live = self._live.get(conid)
        data = InstrumentData(
            self._synthetic_of(instrument),
            None if live is None else live.copy(),
            calendar_of(instrument),
            not outside_rth,
            instrument.min_tick,
        )

        def compute() -> list[Bar]:
            with self._compute_lock:  # synthetic histories extend themselves lazily
                out = data.bars(period, size, end)
            if len(out) > MAX_POINTS:
                raise RequestError(
                    f"period {period.text} with bar {size.text} gives {len(out)} bars, more "
                    f"than the {MAX_POINTS} allowed: ask for a larger bar or a shorter period"
                )
            return _as_source(out, kind, instrument.min_tick)

        return compute

    def average_daily_volume(self, conid: int) -> float:
        """The average daily volume of `conid` in its synthetic past (0 when the instrument
        has no volume, or is not in the catalogue)."""
        try:
            instrument = self._instruments.get(conid)
        except NotFoundError:
            return 0.0
        return self._synthetic_of(instrument).day_volume

    def _synthetic_of(self, instrument: Instrument) -> SyntheticHistory:
        history = self._synthetic.get(instrument.conid)
        if history is None:
            history = SyntheticHistory(instrument, seed=self._seed, anchor_ns=self._anchor_ns)
            self._synthetic[instrument.conid] = history
            if len(self._synthetic) > SYNTHETIC_CACHE:
                self._synthetic.popitem(last=False)
        self._synthetic.move_to_end(instrument.conid)
        return history


def _as_source(bars: list[Bar], source: str, tick: Decimal) -> list[Bar]:
    if source == "trades":
        return bars
    shift = {"bid": -tick, "ask": tick}.get(source, Decimal(0))
    return [
        Bar(
            b.start_ns,
            max(tick, b.open + shift),
            max(tick, b.high + shift),
            max(tick, b.low + shift),
            max(tick, b.close + shift),
            0,
        )
        for b in bars
    ]
