"""The tickgate server process of the benchmarks: the real gateway fed by a benchmark feed.

Usage (run.py starts it, pinned with taskset when available):

    python benchmarks/server_main.py --feed firehose|paced [--tls] [--rate R] [--instruments N]
                                     [--watch-file PATH] [--max-hold-ms MS]

Prints one JSON line `{"port": P, "conids": [...]}` once it listens, starts the feed on SIGUSR1
(sent once every client is connected and subscribed), prints `{"ticks": N, "at_ns": T}` (the
ticks the feed had produced by monotonic time T) on SIGUSR2, and serves until SIGTERM
or SIGINT. The gateway is built by `tickgate.server.app.build_app` unchanged; only the data
source is the benchmark's (see feeds.py) and the limits that would refuse a load test (market
data lines, command rate, priming) are lifted. With `--watch-file`, what the gateway holds for
each connection (outbox, transport buffer, kernel send queue, conflation; see watch.py) is
sampled while the feed runs and written to PATH as JSON on shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from pathlib import Path

import orjson
import uvloop
from aiohttp import web
from feeds import FIREHOSE_CONID, FirehoseFeed, PacedFeed
from watch import ConnectionWatch

from tickgate.config import Config
from tickgate.server.app import build_app, setup_runner, tune_gc
from tickgate.server.gateway import Gateway
from tickgate.server.tls import server_ssl_context
from tickgate.sources.base import DataSource


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feed", choices=("firehose", "paced"), default="firehose")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/tickgate-bench"))
    parser.add_argument("--rate", type=float, default=20_000.0, help="paced: ticks per second")
    parser.add_argument("--instruments", type=int, default=500, help="paced: conids fed")
    parser.add_argument("--batch", type=int, default=64, help="firehose: ticks per loop turn")
    parser.add_argument("--outbox-limit", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--watch-file", type=Path, help="write per-connection readings here")
    parser.add_argument(
        "--max-hold-ms",
        type=float,
        help="A/B: another most a frame is held under load than the shipped one (0: never held)",
    )
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=0,
        help="experiment: another gen-0 threshold than the shipped one (0: as shipped)",
    )
    return parser.parse_args()


def bench_config(args: argparse.Namespace) -> Config:
    """A gateway config whose limits do not refuse a load test."""
    return Config(
        host="127.0.0.1",
        port=args.port,
        tls=args.tls,
        data_dir=args.data_dir,
        require_priming=False,
        md_lines=1_000_000,
        md_lines_per_connection=1_000_000,
        commands_per_second=1_000_000.0,
        command_burst=1_000_000,
        outbox_limit_bytes=args.outbox_limit,
        # 100,000 sockets connecting to a loaded machine: a request head may wait its turn
        request_timeout_seconds=60.0,
        log_level="warning",
    )


def report_ticks(feed: FirehoseFeed | PacedFeed | None) -> None:
    """Print `{"ticks": N, "at_ns": T}` (the SIGUSR2 answer): the ticks `feed` has produced so
    far, and the monotonic time T at which it had (not when the loop got to the signal: a
    starved loop answers late, and its feed has not caught up yet)."""
    made = feed.made if feed is not None else 0
    answer = {"ticks": made, "at_ns": feed.made_at_ns if feed is not None else 0}
    sys.stdout.write(orjson.dumps(answer).decode() + "\n")
    sys.stdout.flush()


def pick_conids(gateway: Gateway, count: int) -> list[int]:
    """`count` conids of the catalogue, the firehose conid first, the rest in conid order.

    Raises SystemExit when the catalogue holds fewer instruments than asked for.
    """
    conids = sorted(instrument.conid for instrument in gateway.catalogue)
    if len(conids) < count:
        raise SystemExit(f"the catalogue has {len(conids)} instruments, {count} were asked for")
    rest = [conid for conid in conids if conid != FIREHOSE_CONID]
    return [FIREHOSE_CONID, *rest][:count]


async def serve(args: argparse.Namespace) -> None:
    chosen: list[int] = []
    watches: list[ConnectionWatch] = []
    feeds: list[FirehoseFeed | PacedFeed] = []
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, gate.set)
    loop.add_signal_handler(signal.SIGUSR2, lambda: report_ticks(feeds[0] if feeds else None))

    def source(gateway: Gateway) -> DataSource:
        if args.max_hold_ms is not None:
            gateway.turns.max_hold_ns = int(args.max_hold_ms * 1e6)
        if args.watch_file:
            watches.append(ConnectionWatch(gateway))
        if args.feed == "firehose":
            chosen.append(FIREHOSE_CONID)
            feeds.append(FirehoseFeed(FIREHOSE_CONID, batch=args.batch, seed=args.seed, gate=gate))
        else:
            chosen.extend(pick_conids(gateway, args.instruments))
            feeds.append(PacedFeed(chosen, rate=args.rate, seed=args.seed, gate=gate))
        return feeds[0]

    runner, port = await listen(build_app(bench_config(args), source=source), args)
    tune_gc()  # as `tickgate serve` does
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, 50, 1000)
    sys.stdout.write(orjson.dumps({"port": port, "conids": chosen}).decode() + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sampler = loop.create_task(watch_after(gate, watches[0])) if watches else None
    try:
        await stop.wait()
    finally:
        if sampler is not None:
            sampler.cancel()
            watches[0].write(args.watch_file)
        await runner.cleanup()


async def watch_after(gate: asyncio.Event, watch: ConnectionWatch) -> None:
    """Sample the connections from the feed's start until cancelled."""
    await gate.wait()
    watch.start()
    await watch.run()


async def listen(app: web.Application, args: argparse.Namespace) -> tuple[web.AppRunner, int]:
    """What `tickgate.server.app.start_server` does, minus its check that the listening server
    is an `asyncio.base_events.Server`, which fails under uvloop (the loop `tickgate serve` uses).
    """
    runner = await setup_runner(app)
    ssl_context = server_ssl_context(args.data_dir) if args.tls else None
    site = web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=ssl_context)
    await site.start()
    return runner, int(runner.addresses[0][1])


if __name__ == "__main__":
    uvloop.run(serve(parse_args()))
