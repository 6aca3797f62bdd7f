"""Micro-benchmark of the tick path: `MarketEngine.apply` with the gateway's real listeners.

Usage: PYTHONPATH=src python benchmarks/bench_tick_path.py [--ticks N] [--runs R] [--alerts A]

Builds one gateway's services (`server.app.build_gateway`: market engine, streaming hub,
history, trading's quote feed; in-memory store, no subscribers, no open orders), pre-computes N
simulator ticks and times `MarketEngine.apply` over them. Prints the median µs per tick of R
runs: what one tick costs the event loop before any fan-out to clients. With `--alerts A`, the
same run is timed again with A price alerts that never fire spread over every instrument (the
alert book evaluates each tick of a watched conid), and both lines are printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tickgate.clock import FakeClock
from tickgate.config import Config
from tickgate.protocol.rest.alerts import alert_spec
from tickgate.server.app import build_gateway
from tickgate.sources.simulator.market import MarketSimulator


def run(ticks: int, *, alerts: int = 0) -> float:
    """Seconds per tick for one run over `ticks` fresh simulator ticks, with `alerts` price
    alerts (round-robin over the instruments, thresholds no price reaches)."""
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as data:
        config = Config(store="memory", tls=False, data_dir=Path(data))
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
    apply = gateway.market.apply
    for tick in simulator.initial_ticks():
        apply(tick)
    plan = simulator.advance(clock.now_ns() + ticks * 100_000, ticks)
    start = time.perf_counter()
    for tick in plan:
        apply(tick)
    return (time.perf_counter() - start) / len(plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=0, help="also time with this many alerts")
    args = parser.parse_args()
    for alerts in sorted({0, args.alerts}):
        samples = [run(args.ticks, alerts=alerts) * 1e6 for _ in range(args.runs)]
        print(
            f"tick path, {alerts} alerts: median {statistics.median(samples):.2f} µs/tick "
            f"(min {min(samples):.2f}, max {max(samples):.2f}; "
            f"{args.runs} runs of {args.ticks} ticks)"
        )


if __name__ == "__main__":
    main()
