"""A relay in front of a real upstream tickgate process that is killed and started again on
the same port: the relay reconnects by itself and its clients get values again without
subscribing again."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
from tests.conftest import StartServer, call
from tests.e2e.gateway_process import launch

from tickgate.server.relay_control import RELAY

AAPL = 265598


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate()


async def test_the_relay_reconnects_to_a_restarted_upstream_process(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    port = free_port()
    upstream, base = launch(tmp_path / "first", "--port", str(port))
    try:
        relay = await start(source="relay", upstream=f"http://127.0.0.1:{port}")
        status = relay.runner.app[RELAY]
        await until(lambda: status.serving)
        tickle = await call(http, "POST", relay.base_url + "/v1/api/tickle")
        cookie = "api=" + json.dumps({"session": tickle["session"]})
        ws = await http.ws_connect(relay.ws_base + "/v1/api/ws", headers={"Cookie": cookie})
        await ws.send_str(f'smd+{AAPL}+{{"fields":["31","84","86"]}}')

        async def next_quote() -> dict[str, str]:
            async with asyncio.timeout(30):
                while True:
                    frame = orjson.loads((await ws.receive()).data)
                    if frame.get("topic") == f"smd+{AAPL}" and "31" in frame:
                        return dict(frame)

        await next_quote()
        lines = await call(http, "GET", base.removesuffix("/v1/api") + "/tickgate/status")
        assert lines["marketDataLines"] == 1

        stop(upstream)
        await until(lambda: status.state == "down")
        delivered = relay.gateway.hub.stats().frames_delivered  # nothing comes while down
        upstream, base = launch(tmp_path / "second", "--port", str(port))
        await until(lambda: status.serving)
        assert status.reconnects >= 1
        async with asyncio.timeout(30):
            while (await call(http, "GET", base.removesuffix("/v1/api") + "/tickgate/status"))[
                "marketDataLines"
            ] != 1:
                await asyncio.sleep(0.05)
        # Frames reach the client again although it never re-sent smd.
        await until(lambda: relay.gateway.hub.stats().frames_delivered > delivered)
        await next_quote()
        await ws.close()
    finally:
        stop(upstream)
