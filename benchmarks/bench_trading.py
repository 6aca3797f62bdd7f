"""Trading cost against history (issue 9): a placement and a quote at 0, 10k, 100k past orders.

    python benchmarks/bench_trading.py [--orders 100000] [--samples 300] [--quick]
    python benchmarks/run.py --scenario trading-history      # the same, from the one command

In process, on the real pieces the gateway wires: `TradingEngine` on a `SqliteEventStore` (a
real file, `synchronous=FULL`), `MarketEngine` with the trading `QuoteFeed` as its listener, the
built-in catalogue; and once more on a `MemoryEventStore`, the engine's own cost without the
disk. A durable placement waits for an fsync (~0.2 ms here) whose time drifts with the file
system (a fresh file's first thousand commits are up to 3x slower), so on SQLite the check
compares the CPU time of a placement (`time.process_time_ns`, which the fsync wait is not part
of); the wall time is reported beside it.
History is made by placing and cancelling resting limit orders (the issue's "places and cancels
100,000 orders"); all of it on one trading day, the worst case for the hot
state, since the day's orders stay there. At each checkpoint it measures, as medians over
`--samples`:

- placement: `place` of one resting limit order (validation, the commit, the ack), wall and CPU;
- quote: `MarketEngine.apply` of one tick for a conid with one working order that the tick does
  not fill (the feed, the match, the marks);

then reopens the store (a restart) and measures both again, plus the time to open, and last a
quote for a conid with 10,000 working limit orders far from the market (the idle cost). The target:
the cost at 100k within 1.2x of the cost at 0, for both stores. Writes
`results/<date>-trading-history.json`.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import report

from tickgate.clock import SystemClock
from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.market.engine import MarketEngine
from tickgate.model.accounts import AccountConfig
from tickgate.model.ticks import Tick
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.engine import TradingEngine
from tickgate.trading.feed import QuoteFeed
from tickgate.trading.store import EventStore, MemoryEventStore

NAME = "trading-history"
ACCOUNT = "DU1234567"
CONID = 265598  # AAPL in the built-in catalogue
QUOTED = 8314  # IBM: the quoted conid with its one working order
TARGET_RATIO = 1.2
#: Resting (working, unreachable) limit orders on the quoted conid for the last measurement.
RESTING = 10_000


class Bench:
    """One engine on one store file, with the market engine and feed the gateway would wire."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.memory = MemoryEventStore() if path is None else None
        self.catalogue = default_catalogue(today=datetime.date(2026, 1, 5))
        self.market = MarketEngine(self.catalogue)
        self.seq = 0
        self._tick(CONID, 100.0)
        self._tick(QUOTED, 150.0)
        self.open()

    def open(self) -> float:
        """(Re)open the engine on the store; returns the seconds it took."""
        started = time.perf_counter()
        store: EventStore = self.memory if self.memory is not None else SqliteEventStore(self.path)
        self.engine = TradingEngine(
            self.catalogue, self.market, store, SystemClock(), accounts=[AccountConfig(ACCOUNT)]
        )
        self.market = MarketEngine(self.catalogue)  # listeners of the old engine go with it
        self._tick(CONID, 100.0)
        self._tick(QUOTED, 150.0)
        self.market.add_listener(QuoteFeed(self.engine, self.market).on_market)
        self.engine.quotes = self.market
        self.engine.desk.suppress(["o163", "o354", "o10151"])
        return time.perf_counter() - started

    def close(self) -> None:
        # The memory store is the "file" a restart reopens, so only the SQLite store is closed
        # (a closed store refuses further use).
        if self.memory is None:
            self.engine.store.close()

    def _tick(self, conid: int, price: float) -> None:
        self.seq += 1
        fields = {31: f"{price:.2f}", 84: f"{price - 0.01:.2f}", 86: f"{price + 0.01:.2f}",
                  88: str(100 + self.seq % 7), 85: str(100 + self.seq % 5)}  # fmt: skip
        self.market.apply(Tick(conid, fields, time.time_ns()))

    def place(self, conid: int = CONID) -> int:
        order = {"conid": conid, "side": "BUY", "orderType": "LMT", "quantity": 1,
                 "price": 50.0, "tif": "GTC"}  # fmt: skip
        [ack] = commands.place(self.engine, ACCOUNT, [order])
        return int(ack["order_id"])

    def cancel(self, order_id: int) -> None:
        self.engine.desk.cancel(ACCOUNT, order_id)

    def history(self, count: int) -> None:
        """Place and cancel `count` orders."""
        for _ in range(count):
            self.cancel(self.place())

    def placement_us(self, samples: int) -> tuple[float, float]:
        """Median µs of one placement, wall and CPU (each placed order is cancelled outside
        the timing)."""
        wall, cpu = [], []
        for _ in range(samples):
            started, started_cpu = time.perf_counter_ns(), time.process_time_ns()
            order_id = self.place()
            cpu.append(time.process_time_ns() - started_cpu)
            wall.append(time.perf_counter_ns() - started)
            self.cancel(order_id)
        return statistics.median(wall) / 1000, statistics.median(cpu) / 1000

    def quote_us(self, samples: int) -> float:
        """Median µs of one tick for a conid with one working (unfilled) order."""
        working = self.place(QUOTED)
        times = []
        for n in range(samples):
            price = 150.0 + (n % 10) * 0.01
            started = time.perf_counter_ns()
            self._tick(QUOTED, price)
            times.append(time.perf_counter_ns() - started)
        self.cancel(working)
        return statistics.median(times) / 1000

    def resting_quote_us(self, resting: int, samples: int) -> float:
        """Median µs of one tick for a conid with `resting` working limits far from the market
        (what an idle gateway with many resting orders pays on every tick)."""
        for _ in range(resting):
            self.place(QUOTED)
        return self.quote_us(samples)


def measure(bench: Bench, samples: int) -> dict[str, float]:
    wall, cpu = bench.placement_us(samples)
    return {"placement_us": wall, "placement_cpu_us": cpu, "quote_us": bench.quote_us(samples)}


def run(
    orders: int, samples: int, checkpoints: list[int], log: Callable[[str], None]
) -> dict[str, Any]:
    """Both stores: the points and the checks of each."""
    document: dict[str, Any] = {"orders": orders, "samples": samples, "stores": {}, "checks": []}
    for store in ("sqlite", "memory"):
        log(f"{store} store:")
        result = run_store(store, samples, checkpoints, log)
        document["stores"][store] = result
        document["checks"] += checks(store, result, checkpoints)
    return document


def run_store(
    store: str, samples: int, checkpoints: list[int], log: Callable[[str], None]
) -> dict[str, Any]:
    """Build the history up to each checkpoint and measure there; then measure after a reopen."""
    gc.disable()  # a collection inside one sample says nothing about history
    points: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tickgate-bench-trading-") as tmp:
        path = Path(tmp) / "trading.sqlite3"
        bench = Bench(path if store == "sqlite" else None)
        done = 0
        for point in checkpoints:
            bench.history(point - done)
            done = point
            gc.collect()
            points[str(point)] = measure(bench, samples)
            log(f"  {point:>7} past orders: {points[str(point)]}")
        bench.close()
        reopen_s = bench.open()
        gc.collect()
        restarted = {**measure(bench, samples), "open_s": reopen_s}
        log(f"  after reopening at {done}+: {restarted}")
        resting = {str(RESTING): bench.resting_quote_us(RESTING, samples)}
        log(f"  quote with {RESTING} resting limits on the conid: {resting[str(RESTING)]:.1f} us")
        bench.close()
    gc.enable()
    return {"points": points, "restarted": restarted, "quote_us_with_resting": resting}


def checks(store: str, result: dict[str, Any], checkpoints: list[int]) -> list[dict[str, str]]:
    """One check per metric: the cost at the last checkpoint within the target of the first."""
    first, last = result["points"][str(checkpoints[0])], result["points"][str(checkpoints[-1])]
    out = []
    placement = ("placement_cpu_us", "placement (CPU)") if store == "sqlite" else None
    for metric, label in (placement or ("placement_us", "placement"), ("quote_us", "quote")):
        ratio = last[metric] / first[metric]
        out.append({
            "target": f"{store} store: one {label} at {checkpoints[-1]:,} past orders within "
                      f"{TARGET_RATIO}x of at {checkpoints[0]}",
            "verdict": "MET" if ratio <= TARGET_RATIO else "MISS",
            "measured": f"{last[metric]:.1f} us vs {first[metric]:.1f} us (x{ratio:.2f})",
        })  # fmt: skip
    return out


def table_lines(document: dict[str, Any]) -> list[str]:
    """Rows for the results table: per store, one per checkpoint and one after the reopen."""
    lines = []
    for store, result in document["stores"].items():
        lines.append(f"{NAME} ({store} store): past orders -> median placement / quote (us)")
        for point, values in result["points"].items():
            lines.append(f"  {int(point):>8}: {_row(values)}")
        again = result["restarted"]
        lines.append(f"  reopened: {_row(again)}  (open {again['open_s']:.2f} s)")
        for count, quote in result.get("quote_us_with_resting", {}).items():
            lines.append(f"  a quote with {int(count):,} resting limits on its conid: {quote:.1f}")
    return lines


def _row(values: dict[str, float]) -> str:
    return (
        f"placement {values['placement_us']:7.1f} (CPU {values['placement_cpu_us']:6.1f})"
        f"  quote {values['quote_us']:6.1f}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="history to build")
    parser.add_argument("--samples", type=int, default=300, help="timings per median")
    parser.add_argument("--quick", action="store_true", help="10,000 orders, 100 samples")
    return parser.parse_args(argv)


def checkpoints_for(orders: int) -> list[int]:
    return sorted({0, min(10_000, orders), orders})


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    orders, samples = (10_000, 100) if options.quick else (options.orders, options.samples)
    document = run(
        orders, samples, checkpoints_for(orders), lambda line: print(line, file=sys.stderr)
    )
    document["machine"] = report.machine()
    document["table"] = table_lines(document)
    path = report.write_result(report.today(), NAME, document, quick=options.quick)
    print("\n".join(table_lines(document)))
    for check in document["checks"]:
        print(f"{check['verdict']:<4} {NAME}: {check['target']}: {check['measured']}")
    print(f"  wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
