"""Big days: the first account frame of a day of 100,000 orders (and `str` over 100,000 fills)
reaches a real client over a real socket, in chunks; live events that happen meanwhile follow
the snapshot; a reader that does not read is closed only once events truly pile up.

The day is written straight into the gateway's SQLite store (as a restart after a busy day
finds it) rather than placed through 100,000 REST calls; the gateway replays it on start.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import WsClient, make_config

from tickgate.clock import NS_PER_S, FakeClock
from tickgate.model.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tickgate.server.app import RunningServer, build_app, start_server
from tickgate.server.ws import Connection
from tickgate.trading.events import OrderAccepted, OrderFilled, StoredEvent
from tickgate.trading.state import FIRST_ORDER_ID

ACCT = "DU1234567"
TOPIC = f"realtime-account-data+{ACCT}"
AAPL = 265598
BIG_DAY = 100_000
#: A Wednesday, 10:00 in New York: mid-session under any calendar, far from any close.
NOW_NS = 1_772_636_400 * NS_PER_S
WORKING = 120


def day_events(orders: int, working: int, *, now_ns: int = NOW_NS) -> Iterator[StoredEvent]:
    """`orders` AAPL orders of the hour before `now_ns`, oldest first: `working` resting buy
    limits far below the market, then filled market orders alternating buy and sell."""
    start = now_ns - 3600 * NS_PER_S
    one, limit, commission = Decimal(1), Decimal("1.00"), Decimal("1.00")
    for i in range(orders):
        order_id = FIRST_ORDER_ID + i
        ts = start + i * 1_000_000
        if i < working:
            yield OrderAccepted(
                Order(order_id, ACCT, AAPL, Side.BUY, OrderType.LMT, one, TimeInForce.GTC,
                      OrderStatus.SUBMITTED, ts, ts, price=limit)
            )  # fmt: skip
            continue
        side = Side.BUY if i % 2 == 0 else Side.SELL
        price = Decimal(19_000 + i % 100) / 100
        order = Order(order_id, ACCT, AAPL, side, OrderType.MKT, one, TimeInForce.DAY,
                      OrderStatus.FILLED, ts, ts, filled_quantity=one, avg_price=price,
                      last_execution_ns=ts)  # fmt: skip
        execution = f"{order_id:08x}.00000001.01.01"
        yield OrderFilled(
            order, Fill(execution, order_id, ACCT, AAPL, side, one, price, commission, ts)
        )


async def start_with_day(tmp_path: Path, orders: int, **changes: Any) -> RunningServer:
    """A gateway (fake clock at `NOW_NS`, memory store) whose trading state holds a day of
    `orders` orders, folded in by the engine's own `TradingState.apply` (what a restart does
    with the stored events, without 100,000 JSON round trips)."""
    config = make_config(tmp_path, store="memory", **changes)
    server = await start_server(build_app(config, clock=FakeClock(NOW_NS)))
    fold_day(server, orders)
    return server


def fold_day(server: RunningServer, orders: int) -> None:
    """Fold a day of `orders` orders (see `day_events`, ending at the server's clock) into the
    server's trading state with the engine's own `TradingState.apply`."""
    trading = server.gateway.trading
    for event in day_events(orders, WORKING, now_ns=server.gateway.clock.now_ns()):
        trading.state.apply(event, trading.instrument)


@pytest.fixture
async def big_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_with_day(tmp_path, BIG_DAY, outbox_limit_bytes=1 << 20)
    yield server
    await server.stop()


async def primed(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.base_url + "/v1/api/iserver/accounts") as response:
        assert response.status == 200


def only_connection(server: RunningServer) -> Connection:
    (connection,) = server.gateway.connections
    assert isinstance(connection, Connection)
    return connection


async def test_a_day_of_100k_orders_and_fills_arrives_whole_on_both_dialects(
    big_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await primed(big_server, http)
    ws = WsClient(await http.ws_connect(big_server.ws_base + "/v1/portal/ws"))
    await ws.send(f"s+{TOPIC}")
    rows: list[tuple[int, str]] = []
    frames = 0
    first = await ws.recv(timeout=30)
    rows += [(o["orderId"], o["status"]) for o in first["orders"]]
    frames += 1
    # A live event while the snapshot is still on its way: the first order is cancelled.
    assert len(rows) < BIG_DAY
    big_server.gateway.trading.desk.cancel(ACCT, FIRST_ORDER_ID)
    rows_at_cancel = len(rows)
    while len(rows) < BIG_DAY:
        frame = await ws.recv(timeout=30)
        assert frame["topic"] == TOPIC and "orders" in frame, frame
        rows += [(o["orderId"], o["status"]) for o in frame["orders"]]
        frames += 1
    assert rows_at_cancel < BIG_DAY
    assert [order_id for order_id, _ in rows] == list(
        range(FIRST_ORDER_ID, FIRST_ORDER_ID + BIG_DAY)
    )
    assert rows[0] == (FIRST_ORDER_ID, "Submitted")  # as it was when the snapshot was taken
    assert frames > 50
    pnl = await ws.recv(timeout=10)
    assert f"{ACCT}.Core" in pnl["pnl"]  # the snapshot ends with the P&L, as before
    cancelled = await ws.recv_until(
        lambda f: any(o["status"] == "Cancelled" for o in f.get("orders", [])), timeout=10
    )
    assert [o["orderId"] for o in cancelled["orders"]] == [FIRST_ORDER_ID]
    await ws.close()
    await str_sends_every_fill_as_further_str_frames(big_server, http)


async def str_sends_every_fill_as_further_str_frames(
    big_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(big_server.base_url + "/v1/api/tickle") as response:
        session = (await response.json())["session"]
    ws = WsClient(
        await http.ws_connect(
            big_server.ws_base + "/v1/api/ws",
            headers={"Cookie": "api=" + json.dumps({"session": session})},
        )
    )
    await ws.recv_until(lambda f: f.get("topic") == "sts")
    await ws.send("str+{}")
    assert await ws.recv_until(lambda f: f.get("topic") == "str") == {"topic": "str", "args": []}
    executions: list[str] = []
    frames = 0
    while len(executions) < BIG_DAY - WORKING:
        frame = await ws.recv(timeout=30)
        if frame.get("topic") == "str":
            executions += [trade["execution_id"] for trade in frame["args"]]
            frames += 1
    expected = [f"{FIRST_ORDER_ID + i:08x}.00000001.01.01" for i in range(WORKING, BIG_DAY)]
    assert executions == expected
    assert frames > 50
    await ws.close()


class SilentSocket:
    """A raw WebSocket client that subscribes and then reads nothing, with a small receive
    buffer, so the gateway's writes really back up (an aiohttp client would keep reading
    into its own memory)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)

    async def handshake(self, loop: asyncio.AbstractEventLoop) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /v1/portal/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(self.sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += await loop.sock_recv(self.sock, 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    async def send(self, loop: asyncio.AbstractEventLoop, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        await loop.sock_sendall(self.sock, bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    async def close_frame(self, loop: asyncio.AbstractEventLoop) -> tuple[int, str]:
        """Read (at last) everything the server sent, up to its close frame."""
        buffer = b""
        pos = 0
        while True:
            while len(buffer) - pos < 10:
                buffer += await loop.sock_recv(self.sock, 1 << 20)
            opcode, length = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F
            header = 2
            if length == 126:
                (length,) = struct.unpack_from("!H", buffer, pos + 2)
                header = 4
            elif length == 127:
                (length,) = struct.unpack_from("!Q", buffer, pos + 2)
                header = 10
            while len(buffer) < pos + header + length:
                buffer += await loop.sock_recv(self.sock, 1 << 20)
            body = buffer[pos + header : pos + header + length]
            if opcode == 0x8:
                return struct.unpack("!H", body[:2])[0], body[2:].decode()
            pos += header + length
            if pos > 1 << 24:
                buffer, pos = buffer[pos:], 0


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_reader_that_does_not_read_is_closed_only_when_live_events_pile_up(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # Ten thousand orders (~7 MB) are more than the kernel's socket buffers take.
    big_server = await start_with_day(tmp_path, 10_000, outbox_limit_bytes=65_536)
    try:
        await silent_reader_is_closed(big_server, http)
    finally:
        await big_server.stop()


async def silent_reader_is_closed(big_server: RunningServer, http: aiohttp.ClientSession) -> None:
    await primed(big_server, http)
    loop = asyncio.get_running_loop()
    silent = SilentSocket(big_server.port)
    try:
        await silent.handshake(loop)
        await silent.send(loop, f"s+{TOPIC}")
        await wait_for(lambda: len(big_server.gateway.connections) == 1)
        connection = only_connection(big_server)
        outbox = connection.outbox
        # The snapshot backs up: the kernel takes no more, the pump waits for it to drain.
        await wait_for(
            lambda: connection.transport.get_write_buffer_size() > outbox.high_water // 2
        )
        assert not outbox.closed and connection.running("snapshot")
        # Live events: all working orders cancelled at once, more than the outbox may hold.
        big_server.gateway.trading.desk.cancel(ACCT, -1)
        assert outbox.closed
        code, reason = await asyncio.wait_for(silent.close_frame(loop), 60)
        assert code == 1008 and reason.startswith("slow consumer")
    finally:
        silent.sock.close()
