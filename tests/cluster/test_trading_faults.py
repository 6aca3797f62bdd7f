"""Trading faults with real processes: a real nats-server, a core and an edge started as
`python -m tickgate --nats URL --cluster NAME [--cluster-role edge]`, the core killed with
SIGKILL and started again on its data directory."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.bus.ticks import eventually
from tests.conftest import WsClient
from tests.e2e.gateway_process import launch

from tickgate.bus.nats_server import NatsServerProcess

ACCT = "DU1234567"
CLUSTER = "faults"
AAPL = 265598


#: A killed core's lease lapses this long after its last renewal; a new core waits that out.
LEASE = ("--cluster-lease-seconds", "2")


def launch_core(
    data: Path, nats: NatsServerProcess, *, timeout: float = 30
) -> tuple[subprocess.Popen[str], str]:
    """Start a core; while a killed core's lease has not lapsed the new one refuses to start
    (naming it), so start it again until it takes the lease."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return launch(data, "--nats", nats.url, "--cluster", CLUSTER, *LEASE)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


@contextmanager
def member(
    data: Path, nats: NatsServerProcess, *role: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    if role:
        proc, base = launch(data, "--nats", nats.url, "--cluster", CLUSTER, *role)
    else:
        proc, base = launch_core(data, nats)
    try:
        yield proc, base
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


@pytest.fixture
async def nats(tmp_path: Path) -> AsyncIterator[NatsServerProcess]:
    # JetStream holds the core's lease (one core per cluster).
    server = NatsServerProcess(extra_args=["-js", "-sd", str(tmp_path / "jetstream")])
    await server.start()
    yield server
    await server.stop()


async def place(http: aiohttp.ClientSession, base: str, quantity: int) -> tuple[int, Any]:
    """Place a market buy, answering its question; (status, body) of the last answer."""
    order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": quantity, "tif": "DAY"}
    async with http.post(f"{base}/iserver/account/{ACCT}/orders", json={"orders": [order]}) as r:
        status, body = r.status, await r.json()
    while status == 200 and isinstance(body, list) and "message" in body[0]:
        async with http.post(
            f"{base}/iserver/reply/{body[0]['id']}", json={"confirmed": True}
        ) as r:
            status, body = r.status, await r.json()
    return status, body


async def wait_answering(http: aiohttp.ClientSession, base: str, timeout: float = 30) -> None:
    """Wait until the edge's trading routes answer 200 again (the core is back)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with http.get(f"{base}/iserver/account/orders") as r:
            if r.status == 200:
                return
            assert r.status == 503, await r.text()
        assert asyncio.get_running_loop().time() < deadline, "the edge never recovered"
        await asyncio.sleep(0.1)


async def edge_socket(http: aiohttp.ClientSession, base: str) -> WsClient:
    async with http.post(base + "/tickle") as response:
        session = (await response.json())["session"]
    ws_url = base.replace("http://", "ws://").removesuffix("/v1/api") + "/v1/api/ws"
    ws = WsClient(
        await http.ws_connect(ws_url, headers={"Cookie": "api=" + json.dumps({"session": session})})
    )
    await ws.recv_until(lambda f: f.get("topic") == "sts", timeout=15)
    return ws


async def fills_of(ws: WsClient, count: int) -> list[str]:
    seen: list[str] = []
    while len(seen) < count:
        frame = await ws.recv_until(
            lambda f: f.get("topic") == "str" and bool(f["args"]), timeout=30
        )
        seen += [t["execution_id"] for t in frame["args"]]
    return seen


async def test_a_killed_core_gives_503s_then_the_edge_recovers_with_every_order_and_fill(
    nats: NatsServerProcess, tmp_path: Path
) -> None:
    with (
        member(tmp_path / "core", nats) as (core, _core_base),
        member(tmp_path / "edge", nats, "--cluster-role", "edge") as (_edge, edge_base),
    ):
        async with aiohttp.ClientSession() as http:
            await wait_answering(http, edge_base)
            ws = await edge_socket(http, edge_base)
            await ws.send("str+{}")
            await ws.recv_until(lambda f: f.get("topic") == "str", timeout=15)
            status, ack = await place(http, edge_base, 3)
            assert status == 200, ack
            before = int(ack[0]["order_id"])
            first = await fills_of(ws, 1)

            core.send_signal(signal.SIGKILL)
            core.wait()
            # No core: trading answers 503 at once, never hangs; market data still answers.
            loop = asyncio.get_running_loop()
            started = loop.time()
            status, body = await place(http, edge_base, 1)
            assert status == 503 and "error" in body
            assert loop.time() - started < 10
            async with http.get(f"{edge_base}/iserver/secdef/info?conid={AAPL}&sectype=STK") as r:
                assert r.status == 200

            core, _core_base = launch_core(tmp_path / "core", nats)
            try:
                await wait_answering(http, edge_base)
                # The order acknowledged before the kill was stored; the edge sees it again.
                async with http.get(f"{edge_base}/iserver/account/order/status/{before}") as r:
                    assert r.status == 200 and (await r.json())["order_status"] == "Filled"
                status, ack = await place(http, edge_base, 2)
                assert status == 200, ack
                later = await fills_of(ws, 1)
                assert later != first
                async with http.get(f"{edge_base}/iserver/account/trades?days=1") as r:
                    trades = await r.json()
                assert set(first + later) <= {t["execution_id"] for t in trades}
            finally:
                stop(core)


async def test_orders_acknowledged_through_an_edge_survive_the_cores_kill9(
    nats: NatsServerProcess, tmp_path: Path
) -> None:
    acked: set[int] = set()
    with member(tmp_path / "edge", nats, "--cluster-role", "edge") as (_edge, edge_base):
        core, _core_base = launch_core(tmp_path / "core", nats)
        try:
            async with aiohttp.ClientSession() as http:
                await wait_answering(http, edge_base)

                async def worker() -> None:
                    for _ in range(500):
                        status, body = await place(http, edge_base, 1)
                        if status != 200:
                            return  # the core died under us: a 503, never a hang
                        acked.add(int(body[0]["order_id"]))

                workers = [asyncio.create_task(worker()) for _ in range(3)]
                await eventually(lambda: len(acked) >= 30, "30 acknowledged orders", timeout=60)
                core.send_signal(signal.SIGKILL)
                await asyncio.wait_for(asyncio.gather(*workers), 30)
        finally:
            stop(core)
        with member(tmp_path / "core", nats) as (_core, _base):
            async with aiohttp.ClientSession() as http:
                await wait_answering(http, edge_base)
                async with http.get(f"{edge_base}/iserver/account/orders") as r:
                    stored = {int(o["orderId"]) for o in (await r.json())["orders"]}
    assert len(acked) >= 30
    assert acked <= stored  # nothing acknowledged is lost
