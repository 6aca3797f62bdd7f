"""Reference (a): the plain per-message fan-out most gateways are written as, on aiohttp.

Same endpoint (`/v1/portal/ws`), same subscription text, same feed and the same payload bytes as
tickgate (the seed dialect's `encode_market`, serialized once per tick), but delivered the usual
way: `await ws.send_str(text)` for every message and every subscribed client, i.e. one transport
write (one `send()` system call) per frame.

    python benchmarks/reference_plain.py [--batch 64] [--idle]

Prints `{"port": P, "conids": [...]}` once it listens, starts the feed on SIGUSR1 (sent once every
client is connected) and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator

import orjson
import uvloop
from aiohttp import WSMsgType, web
from feeds import FIREHOSE_CONID, TickMaker

from tickgate.protocol.portal import encode_market

SUBSCRIBE = re.compile(r"\s*s\+md\+(\d+)")
UNSUBSCRIBE = re.compile(r"\s*u\+md\+(\d+)")
SUBSCRIBERS = web.AppKey("subscribers", dict[int, set[web.WebSocketResponse]])
GATE = web.AppKey("gate", asyncio.Event)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """`GET /v1/portal/ws`: `s+md+CONID...` adds the socket to CONID's subscribers."""
    subscribers = request.app[SUBSCRIBERS]
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    mine: set[int] = set()
    try:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            if match := SUBSCRIBE.match(message.data):
                conid = int(match.group(1))
                subscribers.setdefault(conid, set()).add(ws)
                mine.add(conid)
            elif match := UNSUBSCRIBE.match(message.data):
                subscribers.get(int(match.group(1)), set()).discard(ws)
    finally:
        for conid in mine:
            subscribers.get(conid, set()).discard(ws)
    return ws


async def firehose(app: web.Application, batch: int) -> None:
    """Tick FIREHOSE_CONID as fast as possible; send each tick to each subscriber in turn."""
    subscribers = app[SUBSCRIBERS]
    maker = TickMaker(seed=1)
    await app[GATE].wait()
    while True:
        for _ in range(batch):
            tick = maker.make(FIREHOSE_CONID)
            text = encode_market(tick.conid, tick.fields, tick.ts_ns).decode()
            for ws in list(subscribers.get(tick.conid, ())):
                if not ws.closed:
                    await ws.send_str(text)
        await asyncio.sleep(0)


def build(batch: int, *, idle: bool) -> web.Application:
    """The reference app; with `idle`, subscriptions are held but nothing is published."""
    app = web.Application()
    app[SUBSCRIBERS] = {}
    app[GATE] = asyncio.Event()
    app.router.add_get("/v1/portal/ws", websocket)
    if idle:
        return app

    async def background(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(firehose(app, batch))
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app.cleanup_ctx.append(background)
    return app


async def serve(port: int, batch: int, *, idle: bool) -> None:
    app = build(batch, idle=idle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, app[GATE].set)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    sys.stdout.write(orjson.dumps({"port": bound, "conids": [FIREHOSE_CONID]}).decode() + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64, help="ticks per event-loop turn")
    parser.add_argument("--idle", action="store_true", help="hold subscriptions, publish nothing")
    options = parser.parse_args()
    uvloop.run(serve(options.port, options.batch, idle=options.idle))
