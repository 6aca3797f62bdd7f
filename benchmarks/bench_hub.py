"""Micro-benchmark of market-data fan-out: hub → channels → outboxes → one write per turn.

Usage: PYTHONPATH=src python benchmarks/bench_hub.py [--ticks N] [--per-turn K]
       PYTHONPATH=src python benchmarks/bench_hub.py --ab [--rounds R]

Each scenario feeds N ticks to `StreamingHub.on_market`, K ticks per simulated event-loop turn,
then runs the outboxes' scheduled flushes (what `loop.call_soon` would do) into a null transport.
It prints delivered frames per second, i.e. frames that reached an outbox's transport write,
and the fan-out core in use (`streaming.fanout`: "c" or "python").

`--ab` compares the two cores: it runs the realistic build (1,000 outboxes x 20 of 500 conids)
in child processes, alternating TICKGATE_PURE_PYTHON=0 and 1 for R rounds, and prints the best
microseconds per tick (hub.on_market: select, encode, frame, the fan-out pushes) and per write
(the flushes) of each core at about 1.2 and 4 frames a write. Best-of, because on a shared
machine only the least disturbed round measures the code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

from tickgate.clock import SystemClock
from tickgate.protocol.portal import encode_market
from tickgate.server.traffic import WRITE_BYTES_BUCKETS, Buckets
from tickgate.streaming.fanout import IMPLEMENTATION
from tickgate.streaming.hub import StreamingHub
from tickgate.streaming.outbox import Outbox

FIELDS = (31, 84, 85, 86, 88)


class NullTransport:
    """Accepts every write instantly, so only tickgate's own work is measured."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


class EmptyStore:
    def snapshot(self, conid: int, fields: tuple[int, ...]) -> Mapping[int, str]:
        return {}

    def updated_ns(self, conid: int) -> int | None:
        return None


def _ignore(*_: object) -> None:
    return None


def build(
    clients: int, conids: int, per_client: int
) -> tuple[StreamingHub, list[Outbox], list[Callable[[], None]]]:
    """A hub with `clients` outboxes, each subscribed to `per_client` of `conids` conids."""
    hub = StreamingHub(EmptyStore(), SystemClock())
    scheduled: list[Callable[[], None]] = []
    rng = random.Random(7)
    outboxes = []
    # Outboxes sample their write sizes for /metrics in the server: so they do here.
    write_sizes = Buckets(WRITE_BYTES_BUCKETS)
    for _ in range(clients):
        outbox = Outbox(
            NullTransport(),
            schedule=scheduled.append,
            on_congested=_ignore,
            on_overflow=_ignore,
            on_write_sample=write_sizes.observe,
        )
        for conid in rng.sample(range(1, conids + 1), per_client):
            hub.subscribe_market(
                outbox,
                conid,
                FIELDS,
                tempo_ms=0,
                snapshot=False,
                dialect="legacy",
                encoder=encode_market,
            )
        outboxes.append(outbox)
    return hub, outboxes, scheduled


def run(
    clients: int, conids: int, per_client: int, ticks: int, per_turn: int
) -> tuple[float, int, int]:
    """Returns (seconds, frames delivered, transport writes)."""
    hub, outboxes, scheduled = build(clients, conids, per_client)
    rng = random.Random(11)
    plan = [
        (rng.randint(1, conids), {31: f"{100 + i % 997 / 100:.2f}", 84: f"{i % 89}"})
        for i in range(ticks)
    ]
    start = time.perf_counter()
    for offset in range(0, ticks, per_turn):
        for conid, changed in plan[offset : offset + per_turn]:
            hub.on_market(conid, changed, offset)
        for flush in scheduled:
            flush()
        scheduled.clear()
    elapsed = time.perf_counter() - start
    frames = sum(o.stats.frames_written for o in outboxes)
    writes = sum(o.stats.writes for o in outboxes)
    return elapsed, frames, writes


def split_costs(ticks: int, per_turn: int) -> dict[str, float]:
    """The realistic build's microseconds per tick (on_market) and per write (the flushes),
    each the best turn's over `ticks` ticks, so that a turn disturbed by the machine's other
    work does not count."""
    hub, outboxes, scheduled = build(1000, 500, 20)
    rng = random.Random(11)
    plan = [
        (rng.randint(1, 500), {31: f"{100 + i % 997 / 100:.2f}", 84: f"{i % 89}"})
        for i in range(ticks)
    ]
    best_tick = best_write = float("inf")
    clock = time.perf_counter
    for offset in range(0, ticks, per_turn):
        turn = plan[offset : offset + per_turn]
        start = clock()
        for conid, changed in turn:
            hub.on_market(conid, changed, offset)
        pushed = clock()
        writes = len(scheduled)
        for flush in scheduled:
            flush()
        flushed = clock()
        scheduled.clear()
        best_tick = min(best_tick, (pushed - start) / len(turn))
        if writes:
            best_write = min(best_write, (flushed - pushed) / writes)
    frames = sum(o.stats.frames_written for o in outboxes)
    writes = sum(o.stats.writes for o in outboxes)
    return {
        "us_per_tick": best_tick * 1e6,
        "us_per_write": best_write * 1e6,
        "frames_per_write": frames / writes,
    }


def ab(rounds: int, ticks: int) -> None:
    """Both cores, alternated in child processes; prints the best of `rounds` for each."""
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(rounds):
        for pure in ("0", "1"):
            env = {**os.environ, "TICKGATE_PURE_PYTHON": pure}
            out = subprocess.run(
                [sys.executable, __file__, "--split", "--ticks", str(ticks)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for line in out.splitlines():
                row = json.loads(line)
                key = (row.pop("core"), int(row.pop("per_turn")))
                results.setdefault(key, []).append(row)
    print(f"best of {rounds} rounds, {ticks} ticks each, 1000 outboxes x 20 of 500 conids")
    for (core, per_turn), rows in sorted(results.items()):
        tick = min(r["us_per_tick"] for r in rows)
        write = min(r["us_per_write"] for r in rows)
        frames = rows[0]["frames_per_write"]
        print(
            f"core {core:6}  {per_turn:3} ticks a turn  {frames:4.2f} frames a write  "
            f"us/tick {tick:6.2f}  us/write {write:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--per-turn", type=int, default=50)
    parser.add_argument("--ab", action="store_true", help="compare the C and Python cores")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--split", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ab:
        ab(args.rounds, min(args.ticks, 8_000))
        return
    if args.split:  # one child of --ab: JSON lines on stdout
        for per_turn in (30, 100):
            row = split_costs(args.ticks, per_turn)
            print(json.dumps({"core": IMPLEMENTATION, "per_turn": per_turn, **row}))
        return
    scenarios = [
        ("100 clients, 1 conid", 100, 1, 1),
        ("1000 clients, 1 conid", 1000, 1, 1),
        ("1000 clients, 10 of 100 conids", 1000, 100, 10),
    ]
    print(f"ticks={args.ticks}  ticks per turn={args.per_turn}  core={IMPLEMENTATION}")
    print(
        f"{'scenario':34} {'frames':>10} {'writes':>8} {'seconds':>8} "
        f"{'frames/s':>12} {'ticks/s':>10}"
    )
    for name, clients, conids, per_client in scenarios:
        seconds, frames, writes = run(clients, conids, per_client, args.ticks, args.per_turn)
        print(
            f"{name:34} {frames:>10} {writes:>8} {seconds:>8.3f} "
            f"{frames / seconds:>12,.0f} {args.ticks / seconds:>10,.0f}"
        )


if __name__ == "__main__":
    main()
