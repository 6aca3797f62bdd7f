"""The market hours a gateway simulates: every instrument's calendar, and what happens when.

`--market-hours always` (the default) keeps the simulator trading around the clock, so a
newcomer sees prices move at 3 a.m. on a Saturday; the calendar still labels every instant
(ticks outside regular hours are extended-hours trading for history) and still times the
close, DAY expiry, MOC/LOC and OPG. `--market-hours exchange` also closes each market outside
its sessions and lets orders fill only when their market is open for them (`may_fill`).

Pure: every answer is a function of the instant asked about; the server's session loop sleeps
until `next_boundary` and acts on what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice

from tickgate.market.calendar import CALENDARS, MarketCalendar, Phase, calendar_of
from tickgate.model.instruments import Instrument

__all__ = ["Boundary", "MarketHours", "Mode", "Transition"]


class Mode(StrEnum):
    """How the simulator treats time outside a market's sessions."""

    ALWAYS = "always"
    EXCHANGE = "exchange"


class Boundary(StrEnum):
    """The four instants of a session."""

    START = "start"  # trading begins (pre-market, or the whole session): a new day
    OPEN = "open"  # regular hours begin: OPG orders fill
    CLOSE = "close"  # regular hours end: DAY orders expire, MOC/LOC fill
    END = "end"  # trading ends (after-hours included): the market closes


#: Boundaries at one instant are handled in this order: a session that closes at the instant its
#: successor starts ends first, and a new day starts before it opens.
_ORDER = (Boundary.CLOSE, Boundary.END, Boundary.START, Boundary.OPEN)


@dataclass(frozen=True, slots=True)
class Transition:
    """A boundary of one calendar's session at `at_ns`, and the conids it concerns."""

    at_ns: int
    calendar: MarketCalendar
    boundary: Boundary
    conids: tuple[int, ...]


class MarketHours:
    """The calendars of a catalogue's instruments under one `Mode`."""

    def __init__(self, instruments: Iterable[Instrument], mode: Mode) -> None:
        self.mode = mode
        self._calendar_of: dict[int, MarketCalendar] = {}
        self._by_calendar: dict[str, list[int]] = {}
        self.calendars: tuple[MarketCalendar, ...] = ()
        self._conids: dict[str, tuple[int, ...]] = {}
        self.add_instruments(instruments)

    def add_instruments(self, instruments: Iterable[Instrument]) -> None:
        """Learn the calendars of instruments that joined the catalogue (a catalogue
        listener; also how the constructor starts). A conid already known keeps its calendar;
        the next `closed_conids` and `next_transitions` include the new ones."""
        for instrument in instruments:
            if instrument.conid in self._calendar_of:
                continue
            calendar = calendar_of(instrument)
            self._calendar_of[instrument.conid] = calendar
            self._by_calendar.setdefault(calendar.name, []).append(instrument.conid)
        self.calendars = tuple(c for c in CALENDARS if c.name in self._by_calendar)
        self._conids = {name: tuple(conids) for name, conids in self._by_calendar.items()}

    def calendar(self, conid: int) -> MarketCalendar | None:
        """The calendar of `conid`, None for a conid outside the catalogue."""
        return self._calendar_of.get(conid)

    def conids(self, calendar: MarketCalendar) -> tuple[int, ...]:
        """The conids that trade on `calendar`."""
        return self._conids.get(calendar.name, ())

    def phase(self, conid: int, now_ns: int) -> Phase:
        """The calendar's phase of `conid` at `now_ns` (REGULAR for an unknown conid)."""
        calendar = self._calendar_of.get(conid)
        return Phase.REGULAR if calendar is None else calendar.phase(now_ns)

    def may_fill(self, conid: int, now_ns: int, *, outside_rth: bool) -> bool:
        """True when an order on `conid` may fill (or trigger) at `now_ns`: always in `always`
        mode; in `exchange` mode in regular hours, and in extended hours with `outside_rth`."""
        if self.mode is Mode.ALWAYS:
            return True
        phase = self.phase(conid, now_ns)
        return phase is Phase.REGULAR or (phase is Phase.EXTENDED and outside_rth)

    def closed_conids(self, now_ns: int) -> list[int]:
        """The conids the simulator shows closed at `now_ns` (none in `always` mode)."""
        if self.mode is Mode.ALWAYS:
            return []
        return [
            conid
            for calendar in self.calendars
            if calendar.phase(now_ns) is Phase.CLOSED
            for conid in self.conids(calendar)
        ]

    def next_transitions(self, now_ns: int) -> list[Transition]:
        """The earliest session boundaries strictly after `now_ns`, all at the same instant,
        in the order they must be handled (closes before ends, then starts, then opens)."""
        found: list[Transition] = []
        for calendar in self.calendars:
            conids = self.conids(calendar)
            # The next boundary lies in the current or the next session (FX's next session
            # starts at the very instant the current one ends).
            for hours in islice(calendar.sessions_after(now_ns), 2):
                for boundary, instant in zip(Boundary, hours.boundaries(), strict=True):
                    if instant > now_ns:
                        found.append(Transition(instant, calendar, boundary, conids))
        first = min(t.at_ns for t in found)
        due = [t for t in found if t.at_ns == first]
        return sorted(due, key=lambda t: _ORDER.index(t.boundary))

    def describe(self, now_ns: int) -> str:
        """One line for the startup banner: the mode, and each market's phase now."""
        parts = [f"{c.name} {c.phase(now_ns).value}" for c in self.calendars]
        trading = "around the clock" if self.mode is Mode.ALWAYS else "in their sessions only"
        return f"market hours: {self.mode.value} (markets trade {trading}); now: " + ", ".join(
            parts
        )
