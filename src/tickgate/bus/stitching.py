"""Per-conid sequence numbers, and stitching an image to live updates (pure, no I/O).

The publisher numbers each conid's ticks 1, 2, 3 ... above a *base* taken from the wall
clock when it starts, so a restarted publisher's numbers are always above the old ones: to a
follower a restart looks like a gap, and a gap makes it fetch a fresh image.

A follower subscribes to a conid's live ticks first and then asks for the image, which comes
with the number of the last tick it includes. Live ticks that arrive before the image wait;
afterwards those it already includes are dropped, and the rest must follow on without a hole.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickgate.model.ticks import Tick


class Sequencer:
    """Hands out per-conid sequence numbers: `base + 1`, `base + 2`, ... for each conid."""

    def __init__(self, base: int) -> None:
        self.base = base
        self._last: dict[int, int] = {}

    def next(self, conid: int) -> int:
        seq = self._last.get(conid, self.base) + 1
        self._last[conid] = seq
        return seq

    def last(self, conid: int) -> int:
        """The number of the last tick handed out for `conid` (`base` before the first)."""
        return self._last.get(conid, self.base)


@dataclass(slots=True)
class StitchStats:
    duplicates: int = 0
    gaps: int = 0
    #: Live ticks dropped while waiting for an image because too many were waiting.
    overflowed: int = 0


class Stitcher:
    """The follower's state for one conid. Feed it every live tick (`on_tick`) and every image
    (`on_image`); each returns the ticks to deliver, in order, and whether an image must be
    fetched now. Guarantees: what it returns is the image followed by consecutive ticks, with
    no tick twice; after a hole it asks for an image and delivers nothing more until then.
    """

    def __init__(self, *, max_waiting: int = 10_000) -> None:
        #: The number of the last tick delivered; None while an image is awaited.
        self.last: int | None = None
        self._waiting: list[tuple[int, Tick]] = []
        self._max_waiting = max_waiting
        self.stats = StitchStats()

    @property
    def live(self) -> bool:
        return self.last is not None

    def on_tick(self, seq: int, tick: Tick) -> tuple[list[Tick], bool]:
        if self.last is None:
            self._wait(seq, tick)
            return [], False
        if seq <= self.last:
            self.stats.duplicates += 1
            return [], False
        if seq == self.last + 1:
            self.last = seq
            return [tick], False
        self.stats.gaps += 1
        self.last = None
        self._waiting = [(seq, tick)]
        return [], True

    def on_image(self, seq: int, image: Tick) -> tuple[list[Tick], bool]:
        """`image` holds every field as of tick `seq` (no fields: nothing known yet)."""
        if self.last is not None and seq <= self.last:
            return [], False  # already live past it
        out = [image] if image.fields else []
        last = seq
        waiting, self._waiting = self._waiting, []
        for index, (tick_seq, tick) in enumerate(waiting):
            if tick_seq <= last:
                continue
            if tick_seq != last + 1:
                self.stats.gaps += 1
                self.last = None
                self._waiting = waiting[index:]
                return out, True
            out.append(tick)
            last = tick_seq
        self.last = last
        return out, False

    def reset(self) -> None:
        """Forget the position (after a bus outage): hold live ticks until the next image."""
        self.last = None

    def _wait(self, seq: int, tick: Tick) -> None:
        if len(self._waiting) >= self._max_waiting:
            # The oldest are the likeliest to be covered by the image being fetched.
            del self._waiting[0]
            self.stats.overflowed += 1
        self._waiting.append((seq, tick))
