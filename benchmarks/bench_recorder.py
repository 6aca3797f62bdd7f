"""Cost of recording on the tick path, and how fast a recording reads back.

Run: ``PYTHONPATH=src python benchmarks/bench_recorder.py [--ticks 500000]``.

Feeds the simulator's own ticks (the default catalogue, a seeded market) to a `Recorder`
writing a real file in a temporary directory, and prints, per tick: the time spent in
`Recorder.record` on the calling thread (the event loop's, in a gateway), the total CPU with
the writer thread's compression and writes, as CPU time (so that other load on the machine
does not count) and wall time, and the bytes on disk. Then it reads the file back with
`RecordingReader` and prints ticks per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from tickgate.clock import FakeClock
from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.model.ticks import Tick
from tickgate.server.app import tune_gc
from tickgate.sources.recorder import Recorder
from tickgate.sources.recording import RecordingHeader, RecordingReader
from tickgate.sources.simulator.market import MarketSimulator

START_NS = 1_767_279_600_000_000_000  # 2026-01-01T15:00:00Z


def simulated_ticks(count: int) -> list[Tick]:
    catalogue = default_catalogue(today=date(2026, 1, 1))
    simulator = MarketSimulator(catalogue, seed=7, start_ns=START_NS, ticks_per_second=20_000)
    ticks: list[Tick] = list(simulator.initial_ticks())
    now = START_NS
    while len(ticks) < count:
        now += 5_000_000
        ticks.extend(simulator.advance(now, 100))
    return ticks[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=500_000)
    args = parser.parse_args()
    ticks = simulated_ticks(args.ticks)
    catalogue = tuple(default_catalogue(today=date(2026, 1, 1)))
    tune_gc()  # as the serving process does: the ticks held here are start-up objects
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.tgr"
        clock = FakeClock(START_NS)
        recorder = Recorder(
            path, clock=clock, header=lambda now: RecordingHeader("bench", now, catalogue)
        )
        record = recorder.record
        started, cpu, loop = time.perf_counter_ns(), time.process_time_ns(), time.thread_time_ns()
        for tick in ticks:
            record(tick)
        per_tick_loop = (time.thread_time_ns() - loop) / len(ticks)
        recorder.close()
        per_tick_cpu = (time.process_time_ns() - cpu) / len(ticks)
        per_tick = (time.perf_counter_ns() - started) / len(ticks)
        size = path.stat().st_size
        started = time.perf_counter_ns()
        count = sum(1 for _ in RecordingReader(path).ticks())
        read_s = (time.perf_counter_ns() - started) / 1e9
    print(f"ticks                 {len(ticks):>12,}")
    print(f"tick path CPU ns/tick {per_tick_loop:>12.0f}  (the event loop's thread)")
    print(f"total CPU ns/tick     {per_tick_cpu:>12.0f}  (with the writer; wall {per_tick:.0f})")
    print(f"frames written        {recorder.stats.frames:>12,}")
    print(
        f"bytes on disk / tick  {size / len(ticks):>12.1f}  (header: {len(catalogue)} instruments)"
    )
    print(f"read back ticks/s     {count / read_s:>12,.0f}")


if __name__ == "__main__":
    main()
