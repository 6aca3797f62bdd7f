"""A cluster member process of the benchmarks: the real roles, the benchmark's feed on the core.

Usage (bench_cluster.py starts it):

    python benchmarks/cluster_main.py --role core|edge --nats URL --cluster NAME
                                      [--rate R] [--instruments N] [--data-dir PATH]

Like `server_main.py`: prints `{"port": P, "conids": [...]}` once it listens, starts the feed
on SIGUSR1 (the core's; an edge ignores it) and serves until SIGTERM or SIGINT. On SIGUSR2
the core prints `{"ticks": N}`, the ticks its feed has produced so far. The member is
built by `tickgate.server.app.build_app` with the cluster membership `tickgate serve --nats`
joins, the limits that would refuse a load test lifted as in `server_main.bench_config`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

import orjson
import uvloop
from feeds import PacedFeed
from server_main import bench_config, pick_conids, report_ticks

from tickgate.server.app import ON_LISTENING, RunningServer, build_app, setup_runner, tune_gc
from tickgate.server.cluster.membership import join
from tickgate.server.gateway import Gateway
from tickgate.sources.base import DataSource


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=("core", "edge"), required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/tickgate-bench-cluster"))
    parser.add_argument("--rate", type=float, default=20_000.0)
    parser.add_argument("--instruments", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--outbox-limit", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--tls", action="store_true")
    return parser.parse_args()


async def serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, gate.set)
    config = dataclasses.replace(
        bench_config(args), nats=args.nats, cluster=args.cluster, cluster_role=args.role
    )
    membership = await join(config)
    chosen: list[int] = []
    feeds: list[PacedFeed] = []

    def source(gateway: Gateway) -> DataSource:
        chosen.extend(pick_conids(gateway, args.instruments))
        feeds.append(PacedFeed(chosen, rate=args.rate, seed=args.seed, gate=gate))
        return feeds[0]

    loop.add_signal_handler(signal.SIGUSR2, lambda: report_ticks(feeds[0] if feeds else None))

    app = build_app(config, source=source if args.role == "core" else None, cluster=membership)
    runner = await setup_runner(app)
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = int(runner.addresses[0][1])
    server = RunningServer(runner, "127.0.0.1", port, False)
    for hook in app.get(ON_LISTENING, ()):  # what `start_server` runs once it listens
        await hook(server)
    tune_gc()
    if not chosen:  # an edge: the same catalogue, so the core's choice
        chosen.extend(pick_conids(server.gateway, args.instruments))
    sys.stdout.write(orjson.dumps({"port": port, "conids": chosen}).decode() + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await membership.close()


if __name__ == "__main__":
    uvloop.run(serve(parse_args()))
