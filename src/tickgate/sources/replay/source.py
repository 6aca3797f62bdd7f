"""`ReplaySource`: plays recorded ticks into the market at their own pace, or as fast as possible.

Time. The source owns a `ReplayClock` and moves it: a tick recorded at ``t`` is delivered when
replay time reaches ``t`` and carries ``ts_ns == t``, so a straight replay gives back the
recorded ticks exactly and trading, history and the session close see the recorded day.
Between ticks replay time flows at `speed` times real time (``None``: jumps from tick to tick).
Replay time never runs backwards: after a seek back or a loop it goes on from where it was, and
the replayed ticks are stamped later by the amount jumped back (`offset_ns`).

Determinism. What is delivered depends only on the inputs, `--from`/`--to` and the seeks asked
for, never on timing: inputs are merged by time (ties keep the input order), and a session
close (a `ReplayClock.sleep_until` sleeper) that falls between two ticks runs between them.

Seeks. Jumping to a time folds every tick before it into one tick per conid (the latest value
of each field), delivered at the target, so the market shows what it showed then without
replaying the jump; `--from` is a seek done before the first tick. A seek must name a time of
the replay's span (`span`: from the start to the last tick played), so replay time never leaves
the recorded span except by the offset a seek back or a loop adds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tickgate.clock import NS_PER_S
from tickgate.model.ticks import Tick, TickSink
from tickgate.sources.recording import RecordingError
from tickgate.sources.replay.clock import ReplayClock
from tickgate.sources.replay.inputs import TickInput, first_tick_ns
from tickgate.sources.replay.times import format_timestamp

log = logging.getLogger("tickgate.replay")

#: Ticks delivered before the source lets the event loop run (flush sockets, answer requests).
YIELD_EVERY = 64


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    """Where a replay stands. `position_ns` is the recorded time of the last tick delivered."""

    state: str  # "playing", "paused" or "finished"
    speed: float | None
    loop: bool
    position_ns: int | None
    replay_time_ns: int
    offset_ns: int
    ticks: int
    loops: int


class ReplaySource:
    """A `DataSource` over `inputs`; also the target of the replay control routes.

    `start_ns`/`end_ns` bound the recorded times played. `on_end` is called with the status
    each time the end is reached without `loop` (the market then keeps its last values and
    replay time stops). Control calls (`pause`, `resume`, `seek`, `set_speed`) take effect at
    once, from the event loop thread. Raises ValueError for a non-positive speed.
    """

    name = "replay"

    def __init__(
        self,
        inputs: Sequence[TickInput],
        clock: ReplayClock,
        *,
        speed: float | None = 1.0,
        loop: bool = False,
        start_ns: int | None = None,
        end_ns: int | None = None,
        on_end: Callable[[ReplayStatus], None] | None = None,
    ) -> None:
        self._inputs = list(inputs)
        self._clock = clock
        self._check_speed(speed)
        self._speed = speed
        self._loop = loop
        self._first_ns = first_tick_ns(self._inputs)
        self._start_ns = start_ns
        self._end_ns = end_ns
        self._on_end = on_end
        self._changed = asyncio.Event()
        self._paused = False
        self._finished = False
        self._seek_to: int | None = None
        self._last_ns: int | None = None  # the last tick played, once `span` has read it
        self._stream: Iterator[Tick] = iter(())
        self._next: Tick | None = None
        self._position: int | None = None
        self._offset = 0
        self._anchor_mono = 0
        self._anchor_replay = 0
        self._ticks = 0
        self._loops = 0
        self._sink: TickSink | None = None

    @property
    def start_ns(self) -> int:
        """Recorded time the replay starts at (`--from`, else the first tick)."""
        start = self._start_ns if self._start_ns is not None else self._first_ns
        return start if start is not None else self._clock.now_ns()

    # --- control -------------------------------------------------------------------------

    def pause(self) -> ReplayStatus:
        """Stop delivering ticks; replay time stops too."""
        self._sync_clock()
        self._paused = True
        self._changed.set()
        return self.status()

    def resume(self) -> ReplayStatus:
        """Go on from where `pause` stopped."""
        if self._paused:
            self._paused = False
            self._anchor()
        self._changed.set()
        return self.status()

    def seek(self, position_ns: int) -> ReplayStatus:
        """Jump to recorded time `position_ns` (see the module docstring). Raises ValueError,
        naming the span, when `position_ns` lies outside it (nothing changes then)."""
        self.check_position(position_ns)
        self._seek_to = position_ns
        self._changed.set()
        return self.status()

    def check_position(self, position_ns: int) -> None:
        """Raises ValueError, naming the replay's span, unless `position_ns` lies in it.
        Reads the inputs only as far as it must: to the first tick at or after `position_ns`,
        and to their end (once, cached) to name the span when refusing."""
        if position_ns >= self.start_ns and self.reaches(position_ns):
            return
        first, last = self.span()
        raise ValueError(
            f"{format_timestamp(position_ns)} is outside the replay, which runs from "
            f"{format_timestamp(first)} to {format_timestamp(last)}"
        )

    def span(self) -> tuple[int, int]:
        """The recorded times a seek may name: (`start_ns`, `last_tick_ns`, or `start_ns` when
        that is earlier)."""
        return self.start_ns, max(self.start_ns, self.last_tick_ns())

    def last_tick_ns(self) -> int:
        """The time of the last tick played (within `--to`; `start_ns` when none is). The
        first call reads every input to its end."""
        if self._last_ns is None:
            last = self.start_ns
            for tick in self._read(self._merged()):
                last = tick.ts_ns
            self._last_ns = last
        return self._last_ns

    def reaches(self, position_ns: int) -> bool:
        """Whether a tick is played at or after `position_ns` (a cheap look first: the tick
        due next, or the cached end, often answers without reading)."""
        if self._next is not None and self._next.ts_ns >= position_ns:
            return True
        if self._last_ns is not None:
            return position_ns <= self._last_ns
        return any(tick.ts_ns >= position_ns for tick in self._read(self._merged()))

    def set_speed(self, speed: float | None) -> ReplayStatus:
        """Play at `speed` times the recorded pace from now on (None: as fast as possible)."""
        self._check_speed(speed)
        self._sync_clock()
        self._speed = speed
        self._anchor()
        self._changed.set()
        return self.status()

    def status(self) -> ReplayStatus:
        """A snapshot of the replay's state."""
        state = "paused" if self._paused else "finished" if self._finished else "playing"
        return ReplayStatus(
            state=state,
            speed=self._speed,
            loop=self._loop,
            position_ns=self._position,
            replay_time_ns=self._clock.now_ns(),
            offset_ns=self._offset,
            ticks=self._ticks,
            loops=self._loops,
        )

    # --- the source ----------------------------------------------------------------------

    async def run(self, sink: TickSink) -> None:
        """Deliver every tick into `sink`, then wait (the market keeps its values) until a
        seek, or loop. Returns only by cancellation."""
        self._sink = sink
        self._jump(self.start_ns)
        batched = 0
        while True:
            self._changed.clear()
            if self._seek_to is not None:
                target, self._seek_to = self._seek_to, None
                self._jump(target)
            if self._paused:
                await self._wait(None)
                continue
            tick = self._next
            if tick is None:
                if self._loop and self._position is not None:
                    self._loops += 1
                    self._jump(self.start_ns)
                    continue
                self._end()
                await self._wait(None)
                continue
            due = tick.ts_ns + self._offset
            target = due if self._speed is None else self._target()
            deadline = self._clock.next_deadline()
            if deadline is not None and deadline <= min(due, target):
                self._clock.advance_to(deadline)  # a session close between two ticks
                await asyncio.sleep(0)  # let the woken task run before the next tick
                continue
            if due <= target:
                self._deliver(tick, due)
                batched += 1
                if batched >= YIELD_EVERY:
                    batched = 0
                    await asyncio.sleep(0)
                continue
            batched = 0
            self._clock.advance_to(target)
            wake = min(due, deadline) if deadline is not None else due
            assert self._speed is not None  # `target` < `due` only when paced
            await self._wait((wake - target) / self._speed / NS_PER_S)

    def _deliver(self, tick: Tick, due: int) -> None:
        self._clock.advance_to(due)
        self._position = tick.ts_ns
        self._ticks += 1
        self._advance()
        assert self._sink is not None
        self._sink(tick if due == tick.ts_ns else Tick(tick.conid, tick.fields, due))

    def _advance(self) -> None:
        try:
            self._next = next(self._stream, None)
        except RecordingError as exc:
            # A bad record deep in a file: the replay ends there, said once, instead of the
            # supervised task restarting it from the start for ever.
            log.error("replay stopped: %s", exc)
            self._stream, self._next = iter(()), None

    def _merged(self) -> Iterator[Tick]:
        """Every tick played, from the start: the inputs merged by time, cut at `--to`."""
        merged = heapq.merge(*(source.ticks() for source in self._inputs), key=_time)
        return merged if self._end_ns is None else _until(merged, self._end_ns)

    @staticmethod
    def _read(ticks: Iterator[Tick]) -> Iterator[Tick]:
        """`ticks` up to a bad record, which ends them (the replay stops there too)."""
        with contextlib.suppress(RecordingError):
            yield from ticks

    def _open(self) -> None:
        self._stream = self._merged()
        self._advance()

    def _jump(self, target: int) -> None:
        """Continue from recorded time `target`: fold what lies before it into one tick per
        conid, delivered at the replay time `target` maps to."""
        if self._position is None or target < self._position or self._next is None:
            self._open()
        folded: dict[int, dict[int, str]] = {}
        while self._next is not None and self._next.ts_ns < target:
            folded.setdefault(self._next.conid, {}).update(self._next.fields)
            self._advance()
        if target + self._offset < self._clock.now_ns():
            self._offset = self._clock.now_ns() - target  # never backwards
        at = target + self._offset
        self._clock.advance_to(at)
        self._finished = False
        self._anchor()
        assert self._sink is not None
        for conid, fields in folded.items():
            self._sink(Tick(conid, fields, at))
        if folded:
            self._position = target
            self._ticks += len(folded)

    def _end(self) -> None:
        if self._finished:
            return
        self._finished = True
        status = self.status()
        log.info("replay finished: %d ticks; the market keeps its last values", status.ticks)
        if self._on_end is not None:
            self._on_end(status)

    def _target(self) -> int:
        """The replay time real time has reached at the current speed."""
        assert self._speed is not None
        elapsed = self._clock.monotonic_ns() - self._anchor_mono
        return self._anchor_replay + int(elapsed * self._speed)

    def _sync_clock(self) -> None:
        """Bring replay time up to the real time elapsed before the pace changes."""
        if self._sink is None:
            return  # not started: nothing has elapsed
        if self._speed is not None and not self._paused and not self._finished:
            limit = self._next.ts_ns + self._offset if self._next is not None else None
            target = self._target()
            self._clock.advance_to(target if limit is None else min(target, limit))

    def _anchor(self) -> None:
        self._anchor_mono = self._clock.monotonic_ns()
        self._anchor_replay = self._clock.now_ns()

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    @staticmethod
    def _check_speed(speed: float | None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")


def _time(tick: Tick) -> int:
    return tick.ts_ns


def _until(ticks: Iterator[Tick], end_ns: int) -> Iterator[Tick]:
    for tick in ticks:
        if tick.ts_ns > end_ns:
            return
        yield tick
