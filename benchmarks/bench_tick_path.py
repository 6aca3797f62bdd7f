"""Micro-benchmark of the tick path: `MarketEngine.apply` with the gateway's real listeners.

Usage: PYTHONPATH=src python benchmarks/bench_tick_path.py [--ticks N] [--runs R] [--alerts A]
       [--no-universe]

Builds one gateway's services (`server.app.build_gateway`: market engine, streaming hub,
history, trading's quote feed, the alert book; in-memory store, no subscribers, no open
orders), pre-computes N simulator ticks and times `MarketEngine.apply` over them. Prints, over
R runs, the median wall and CPU (this thread's) µs per tick with their spread, and the Python
function calls per tick: what one tick costs the event loop before any fan-out to clients. The
call count is deterministic (the same tree and input give the same count whatever the
machine's load), so it compares two trees where a loaded machine's times cannot. With
`--alerts A`, the same runs are repeated with A price alerts that never fire spread over every
instrument (the alert book evaluates each tick of a watched conid), and both lines are printed.

`--no-universe` leaves the built-in universe out: the seeded core's instruments alone. The
simulator's ticks depend on the catalogue, so this is how a tree from before the universe is
compared on the same ticks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from tickgate.clock import FakeClock
from tickgate.config import Config
from tickgate.model.ticks import Tick
from tickgate.protocol.rest.alerts import alert_spec
from tickgate.server.app import build_gateway
from tickgate.server.gateway import Gateway
from tickgate.sources.simulator.market import MarketSimulator


@dataclass(frozen=True)
class Run:
    """One run: seconds of wall and of this thread's CPU time per tick."""

    wall: float
    cpu: float


def prepare(ticks: int, *, alerts: int, universe: bool) -> tuple[Gateway, list[Tick]]:
    """A gateway with `alerts` price alerts (round-robin over the instruments, thresholds no
    price reaches) whose market holds every opening quote, and `ticks` fresh simulator ticks."""
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as data:
        config = Config(store="memory", tls=False, data_dir=Path(data), universe=universe)
        gateway = build_gateway(config, clock)
    conids = [i.conid for i in gateway.catalogue]
    account = config.accounts[0].account_id
    for n in range(alerts):
        condition = {"type": 1, "conidex": str(conids[n % len(conids)]), "operator": ">=",
                     "value": "100000000", "logicBind": "n"}  # fmt: skip
        body = {"alertName": f"a{n}", "outsideRth": 1, "conditions": [condition]}
        gateway.alerts.submit(alert_spec(account, body)[0])
    simulator = MarketSimulator(
        gateway.catalogue, seed=7, start_ns=clock.now_ns(), ticks_per_second=10_000
    )
    for tick in simulator.initial_ticks():
        gateway.market.apply(tick)
    return gateway, simulator.advance(clock.now_ns() + ticks * 100_000, ticks)


def run(ticks: int, *, alerts: int = 0, universe: bool = True) -> Run:
    """Wall and CPU time per tick of one run over `ticks` fresh simulator ticks."""
    gateway, plan = prepare(ticks, alerts=alerts, universe=universe)
    apply = gateway.market.apply
    start, cpu = time.perf_counter(), time.thread_time()
    for tick in plan:
        apply(tick)
    return Run((time.perf_counter() - start) / len(plan), (time.thread_time() - cpu) / len(plan))


def calls_per_tick(ticks: int, *, alerts: int = 0, universe: bool = True) -> float:
    """Python function calls (`apply` itself included) per tick of one run: deterministic."""
    gateway, plan = prepare(ticks, alerts=alerts, universe=universe)
    apply, calls = gateway.market.apply, 0

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        for tick in plan:
            apply(tick)
    finally:
        sys.setprofile(None)
    return calls / len(plan)


def spread(samples: list[float]) -> str:
    """Median with the quartiles (min and max for fewer than four samples), in µs."""
    if len(samples) >= 4:
        low, _, high = statistics.quantiles(samples, n=4)
    else:
        low, high = min(samples), max(samples)
    return f"{statistics.median(samples) * 1e6:.2f} ({low * 1e6:.2f}–{high * 1e6:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=0, help="also time with this many alerts")
    parser.add_argument(
        "--no-universe", action="store_true", help="the seeded core's instruments alone"
    )
    args = parser.parse_args()
    universe = not args.no_universe
    for alerts in sorted({0, args.alerts}):
        runs = [run(args.ticks, alerts=alerts, universe=universe) for _ in range(args.runs)]
        calls = calls_per_tick(min(args.ticks, 20_000), alerts=alerts, universe=universe)
        print(
            f"tick path, {alerts} alerts{'' if universe else ', no universe'}: "
            f"µs/tick median (quartiles) wall {spread([r.wall for r in runs])}, "
            f"cpu {spread([r.cpu for r in runs])}; {calls:.2f} Python calls/tick "
            f"({args.runs} runs of {args.ticks} ticks)"
        )


if __name__ == "__main__":
    main()
