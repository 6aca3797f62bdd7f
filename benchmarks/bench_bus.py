"""The tick bus: bytes per tick, publish -> deliver latency and throughput, in-process vs NATS.

Run: ``PYTHONPATH=src python benchmarks/bench_bus.py [--ticks 200000] [--rate 20000]``
(needs ``pip install 'tickgate[cluster]'`` for nats-server and nats-py).

- bytes: the payload of `tickgate.bus.codec` for the simulator's own ticks (default catalogue,
  seeded) and for the benchmark feed's 5-field ticks, against orjson of the same tick, and
  the bytes a NATS subscriber reads per tick (payload + the `MSG subject sid size` line).
- throughput: one publisher pushes `--ticks` ticks, 64 per event-loop turn (as the firehose
  feed does), and one subscriber member counts them; ticks per second from the first publish
  to the last delivery. For NATS both members live in this process, each with its own
  connection to a local nats-server (pinned to the other core when `taskset` exists), so the
  one Python process does the publisher's and the subscriber's work.
- nats-follow: the same over per-conid subjects, `MarketDataPublisher` (numbering, the core's
  market engine fed inside publish) to `MarketDataFollower` (one subscription per conid).
- latency: `--rate` ticks per second, paced; each tick's ts_ns is its publish time on the
  monotonic clock, read again on delivery; p50/p99/max over `--latency-seconds`.

Writes ``benchmarks/results/<date>-bus.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson
from feeds import FIREHOSE_CONID, TickMaker

from tickgate.bus.base import Bus
from tickgate.bus.codec import encode_tick
from tickgate.bus.market_data import MarketDataFollower, MarketDataPublisher
from tickgate.bus.memory import MemoryBus
from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.clock import SystemClock
from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.market.engine import MarketEngine
from tickgate.model.ticks import Tick, TickSink
from tickgate.sources.simulator.market import MarketSimulator

RESULTS = Path(__file__).resolve().parent / "results"
START_NS = 1_767_279_600_000_000_000  # 2026-01-01T15:00:00Z
BATCH = 64


def simulator_ticks(count: int) -> list[Tick]:
    catalogue = default_catalogue(today=datetime.date(2026, 1, 1))
    simulator = MarketSimulator(catalogue, seed=42, start_ns=START_NS, ticks_per_second=2_000)
    ticks: list[Tick] = []
    now = START_NS
    while len(ticks) < count:
        now += 50_000_000
        ticks.extend(simulator.advance(now, 100))
    return ticks[:count]


class Subscribable(Protocol):
    def subscribe(self, handler: TickSink) -> Callable[[], None]: ...


class SwappableSink:
    """The follower's sink, handing ticks to whichever handler the benchmark subscribed."""

    def __init__(self) -> None:
        self.handler: TickSink | None = None

    def __call__(self, tick: Tick) -> None:
        if self.handler is not None:
            self.handler(tick)

    def subscribe(self, handler: TickSink) -> Callable[[], None]:
        self.handler = handler
        return lambda: setattr(self, "handler", None)


class NumberingPublisher:
    """`MarketDataPublisher` seen as a `Bus` by the measuring functions."""

    def __init__(self, bus: NatsBus, publisher: MarketDataPublisher) -> None:
        self.publish = publisher.publish
        self.subscribe = bus.subscribe
        self.flush = bus.flush
        self.close = bus.close


def byte_costs() -> dict[str, Any]:
    sim = simulator_ticks(20_000)
    maker = TickMaker(seed=1)
    bench = [maker.make(265598) for _ in range(20_000)]

    def summary(ticks: list[Tick]) -> dict[str, float]:
        ours = [len(encode_tick(t, 1)) for t in ticks]
        as_json = [
            len(orjson.dumps([t.ts_ns, 1, t.fields], option=orjson.OPT_NON_STR_KEYS)) for t in ticks
        ]
        # What a subscriber reads: "MSG tickgate.tick.<conid> 1 <size>\r\n" payload "\r\n".
        wire = [
            len(f"MSG tickgate.tick.{t.conid} 1 {n}\r\n") + n + 2
            for t, n in zip(ticks, ours, strict=True)
        ]
        return {
            "fields_per_tick": statistics.fmean(len(t.fields) for t in ticks),
            "payload_bytes": statistics.fmean(ours),
            "orjson_bytes": statistics.fmean(as_json),
            "nats_wire_bytes": statistics.fmean(wire),
        }

    return {"simulator": summary(sim), "bench-feed": summary(bench)}


async def throughput(publisher: Bus, consumer: Subscribable, ticks: list[Tick]) -> dict[str, float]:
    done = asyncio.Event()
    received = 0
    total = len(ticks)

    def count(_tick: Tick) -> None:
        nonlocal received
        received += 1
        if received == total:
            done.set()

    leave = consumer.subscribe(count)
    start = time.perf_counter()
    for first in range(0, total, BATCH):
        for tick in ticks[first : first + BATCH]:
            publisher.publish(tick)
        await asyncio.sleep(0)
    published = time.perf_counter()
    await asyncio.wait_for(done.wait(), 120)
    end = time.perf_counter()
    leave()
    return {
        "ticks": total,
        "publish_per_s": total / (published - start),
        "delivered_per_s": total / (end - start),
    }


async def latency(
    publisher: Bus, consumer: Subscribable, *, rate: float, seconds: float
) -> dict[str, Any]:
    samples: list[int] = []

    def record(tick: Tick) -> None:
        samples.append(time.monotonic_ns() - tick.ts_ns)

    leave = consumer.subscribe(record)
    maker = TickMaker(seed=2)
    start = time.monotonic_ns()
    sent = 0
    end = start + int(seconds * 1e9)
    while (now := time.monotonic_ns()) < end:
        due = int((now - start) * rate / 1e9)
        for _ in range(due - sent):
            tick = maker.make(265598)
            publisher.publish(Tick(tick.conid, tick.fields, time.monotonic_ns()))
        sent = due
        await asyncio.sleep(0.001)
    await publisher.flush()
    deadline = time.monotonic() + 10
    while len(samples) < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    leave()
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] / 1e3

    return {
        "rate": rate,
        "sent": sent,
        "received": len(samples),
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "max_us": ordered[-1] / 1e3,
    }


async def run_nats(args: argparse.Namespace, ticks: list[Tick]) -> dict[str, Any]:
    server = NatsServerProcess()
    await server.start()
    pin(server)
    options = NatsOptions(server.url)
    publisher = await NatsBus.connect(options, outgoing_limit=len(ticks) + 1)
    consumer = await NatsBus.connect(options)
    try:
        result = {
            "throughput": await throughput(publisher, consumer, ticks),
            "latency": await latency(
                publisher, consumer, rate=args.rate, seconds=args.latency_seconds
            ),
            "dropped": publisher.stats.dropped,
        }
    finally:
        await publisher.close()
        await consumer.close()
        await server.stop()
    return result


async def run_follow(args: argparse.Namespace, ticks: list[Tick]) -> dict[str, Any]:
    """Per-conid subjects through `MarketDataPublisher` (numbering, the core's engine fed in
    `publish`) and `MarketDataFollower` (one subscription per conid, stitching)."""
    server = NatsServerProcess()
    await server.start()
    pin(server)
    options = NatsOptions(server.url)
    core = await NatsBus.connect(options, outgoing_limit=len(ticks) + 1, subscribe_all=False)
    engine = MarketEngine(default_catalogue(today=datetime.date(2026, 1, 1)))
    core.subscribe(engine.apply)
    publisher = await MarketDataPublisher.start(core, engine.snapshot, SystemClock())
    edge = await NatsBus.connect(options, subscribe_all=False)
    sink = SwappableSink()
    follower = MarketDataFollower(edge, sink)
    conids = sorted({t.conid for t in ticks} | {FIREHOSE_CONID})
    for conid in conids:
        await follower.follow(conid)
    deadline = time.monotonic() + 30
    while not all(follower.live(c) for c in conids) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    numbered = NumberingPublisher(core, publisher)
    try:
        result = {
            "conids_followed": len(conids),
            "throughput": await throughput(numbered, sink, ticks),
            "latency": await latency(numbered, sink, rate=args.rate, seconds=args.latency_seconds),
            "dropped": core.stats.dropped,
            "gaps": follower.stats.gaps,
        }
    finally:
        await follower.close()
        await publisher.close()
        await edge.close()
        await core.close()
        await server.stop()
    return result


def pin(server: NatsServerProcess) -> None:
    """nats-server on core 1, this process on core 0 (when there are two and taskset)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.system(f"taskset -pc 1 {server.pid} >/dev/null")
        os.sched_setaffinity(0, {0})


async def run_memory(args: argparse.Namespace, ticks: list[Tick]) -> dict[str, Any]:
    bus = MemoryBus()
    return {
        "throughput": await throughput(bus, bus, ticks),
        "latency": await latency(bus, bus, rate=args.rate, seconds=args.latency_seconds),
        "dropped": 0,
    }


def table(result: dict[str, Any]) -> str:
    lines = ["bytes per tick            fields  payload  orjson  NATS wire (subscriber)"]
    for name, b in result["bytes"].items():
        lines.append(
            f"  {name:<22} {b['fields_per_tick']:6.1f} {b['payload_bytes']:8.1f} "
            f"{b['orjson_bytes']:7.1f} {b['nats_wire_bytes']:9.1f}"
        )
    lines.append("bus             publish/s  delivered/s   p50 us   p99 us   max us  lost")
    for name in ("memory", "nats", "nats-follow"):
        r = result[name]
        t, lat = r["throughput"], r["latency"]
        lost = lat["sent"] - lat["received"] + r["dropped"]
        lines.append(
            f"  {name:<12} {t['publish_per_s']:10.0f} {t['delivered_per_s']:12.0f} "
            f"{lat['p50_us']:8.1f} {lat['p99_us']:8.1f} {lat['max_us']:8.1f} {lost:5d}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    ticks = simulator_ticks(args.ticks)
    result: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Other processes share this machine: the 1-minute load before the runs.
            "loadavg_1m": os.getloadavg()[0],
        },
        "args": vars(args),
        "bytes": byte_costs(),
        "memory": runner(run_memory(args, ticks)),
        "nats": runner(run_nats(args, ticks)),
        "nats-follow": runner(run_follow(args, ticks)),
    }
    text = (
        table(result) + f"\n(load average before the runs: {result['machine']['loadavg_1m']:.2f})"
    )
    print(text)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{result['date']}-bus.json"
        out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        (RESULTS / f"{result['date']}-bus.txt").write_text(text + "\n")
        print(f"written {out}")


if __name__ == "__main__":
    main()
