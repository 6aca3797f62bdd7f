"""ibind 0.2.2, unmodified, against tickgate's /v1/api/ws over TLS (reference §1, §7.1).

ibind is synchronous and threaded: its calls run in worker threads (`asyncio.to_thread`) while
the gateway serves on the test's event loop. Events reach a queue sink; nothing may reach
ibind's logs at error level.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from ibind import IbkrClient, IbkrWsClient, events
from ibind.client.ibkr_utils import OrderRequest, QuestionType
from ibind.ibkr_ws.ibkr_subscriptions import (
    AccountLedgerSubscription,
    AccountSummarySubscription,
    MarketDataSubscription,
    MarketHistorySubscription,
    OrdersSubscription,
    PnlSubscription,
    TradesSubscription,
)
from tests.conftest import StartServer, call
from tests.server.test_big_days import WORKING, fold_day

from tickgate.server.app import RunningServer
from tickgate.trading.state import FIRST_ORDER_ID

# ibind talks to a self-signed server with cacert=False, as users do; urllib3 warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")

AAPL, MSFT, SPY = "265598", "272093", "756733"
ACCOUNT = "DU1234567"
FIELDS = ["31", "84", "86", "85", "88"]


class QueueSink:
    """ibind's EventSink protocol: every event lands in a thread-safe queue."""

    def __init__(self) -> None:
        self.events: queue.Queue[Any] = queue.Queue()

    def emit(self, event: Any) -> None:
        self.events.put(event)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if predicate(event):
                return event
        raise AssertionError("no matching ibind event in time")


def ibind_ws(
    server: RunningServer, sink: QueueSink, *, rest_url: str | None = None
) -> IbkrWsClient:
    rest = IbkrClient(url=rest_url or server.base_url + "/v1/api/", cacert=False)
    return IbkrWsClient(
        account_id=ACCOUNT,
        url=server.ws_base + "/v1/api/ws",
        ibkr_client=rest,
        cacert=False,
        sink=sink,
        synchronous_output_events=True,
    )


def ibind_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("ibind") and r.levelno >= logging.ERROR
    ]


@pytest.fixture
async def running(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[RunningServer, IbkrWsClient, QueueSink]]:
    """A TLS gateway and a started ibind client; shutdown included, no ibind errors allowed."""
    caplog.set_level(logging.INFO, logger="ibind")
    server = await start(tls=True, ticks_per_second=3000.0)
    sink = QueueSink()
    client = ibind_ws(server, sink)
    assert await asyncio.to_thread(client.start), "ibind did not reach AUTHENTICATED in time"
    yield server, client, sink
    await stop(client)
    assert not ibind_errors(caplog)


async def stop(client: IbkrWsClient) -> None:
    """Shut ibind down and close its REST keep-alive connections before the server stops."""
    assert await asyncio.to_thread(client.shutdown)
    client._ibkr_client.close()


async def test_market_data_for_several_conids_with_moving_prices(
    running: tuple[RunningServer, IbkrWsClient, QueueSink],
) -> None:
    _, client, sink = running
    subscriptions = [MarketDataSubscription(conid=c, fields=FIELDS) for c in (AAPL, MSFT, SPY)]
    handles = [client.subscribe(s) for s in subscriptions]
    assert await asyncio.to_thread(client.wait_all, handles, 10) == []
    prices: set[str] = set()

    def moving(event: Any) -> bool:
        if (
            isinstance(event, events.MarketData)
            and event.conid == SPY
            and "bid_price" in event.data
        ):
            prices.add(event.data["bid_price"])
        return len(prices) >= 3

    await asyncio.to_thread(sink.wait_for, moving, 15)
    for subscription in subscriptions:
        assert await asyncio.to_thread(client.unsubscribe(subscription).wait, 5)


async def test_tic_and_history(running: tuple[RunningServer, IbkrWsClient, QueueSink]) -> None:
    _, client, sink = running
    first = await asyncio.to_thread(client.tic)
    second = await asyncio.to_thread(client.tic)
    assert first is not None and second is not None
    assert second["lastAccessed"] > first["lastAccessed"]
    history = MarketHistorySubscription(conid=AAPL, period="1d", bar="5min", outside_rth=True)
    assert await asyncio.to_thread(client.subscribe(history).wait, 10)
    bars = await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketHistory), 5)
    assert bars.data["data"]
    assert await asyncio.to_thread(client.unsubscribe(history).wait, 10)


async def test_account_channels_follow_an_order_placed_over_rest(
    running: tuple[RunningServer, IbkrWsClient, QueueSink],
) -> None:
    _, client, sink = running
    subscriptions = [
        OrdersSubscription(),
        PnlSubscription(),
        TradesSubscription(),
        AccountSummarySubscription(account_id=ACCOUNT),
        AccountLedgerSubscription(account_id=ACCOUNT),
    ]
    handles = [client.subscribe(s) for s in subscriptions]
    assert await asyncio.to_thread(client.wait_all, handles, 10) == []
    order = OrderRequest(conid=int(MSFT), side="BUY", quantity=7, order_type="MKT", acct_id=ACCOUNT)
    answers = {QuestionType.MARKET_ORDER_CONFIRMATION: True}
    placed = await asyncio.to_thread(client._ibkr_client.place_order, order, answers, ACCOUNT)
    order_id = int(placed.data["order_id"])

    def filled_order(event: Any) -> bool:
        rows = event.data.get("args", []) if isinstance(event, events.Orders) else []
        return any(r.get("orderId") == order_id and r.get("status") == "Filled" for r in rows)

    await asyncio.to_thread(sink.wait_for, filled_order, 10)
    trade = await asyncio.to_thread(
        sink.wait_for, lambda e: isinstance(e, events.Trades) and bool(e.data.get("args")), 10
    )
    assert trade.data["args"][0]["size"] == 7
    await asyncio.to_thread(
        sink.wait_for,
        lambda e: (
            isinstance(e, events.Pnl) and any(r.get("mv") for r in e.data.get("args", {}).values())
        ),
        10,
    )
    for subscription in subscriptions:
        assert await asyncio.to_thread(client.unsubscribe(subscription).wait, 10)


async def test_a_token_guarded_gateway_works_with_the_token_in_ibinds_url(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    # ibind unmodified: requests sends the URL's password as Basic authentication, and the
    # socket is let in by ibind's `api` cookie, the session only a token holder can learn.
    caplog.set_level(logging.INFO, logger="ibind")
    token = "ibind-token-0123456789"
    server = await start(tls=True, auth_token=token)
    sink = QueueSink()
    url = f"https://ibind:{token}@127.0.0.1:{server.port}/v1/api/"
    client = ibind_ws(server, sink, rest_url=url)
    assert await asyncio.to_thread(client.start), "ibind did not reach AUTHENTICATED in time"
    subscription = MarketDataSubscription(conid=AAPL, fields=FIELDS)
    assert await asyncio.to_thread(client.subscribe(subscription).wait, 10)
    await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketData), 10)
    assert await asyncio.to_thread(client.unsubscribe(subscription).wait, 10)
    await stop(client)
    assert not ibind_errors(caplog)


async def test_resubscribes_after_smd_expiry_and_recovers_after_a_dropped_socket(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ibind")
    server = await start(tls=True, ticks_per_second=3000.0, smd_expiry_seconds=2)
    sink = QueueSink()
    client = ibind_ws(server, sink)
    assert await asyncio.to_thread(client.start)
    # ibind marks the binding expired after `expiry_seconds` and re-sends `smd` once no frame
    # has revived it: here the server ends the stream after 2 s, so ibind must re-subscribe.
    subscription = MarketDataSubscription(conid=SPY, fields=FIELDS).model_copy(
        update={"expiry_seconds": 1}
    )
    assert await asyncio.to_thread(client.subscribe(subscription).wait, 10)
    await asyncio.to_thread(_wait_until, lambda: _sent_smd(caplog) >= 3, 20)
    await asyncio.to_thread(_drain, sink)
    await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketData), 5)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
        body = {"code": 1011, "reason": "test drops the socket"}
        await call(http, "POST", server.base_url + "/tickgate/faults/drop", json=body)
    await asyncio.to_thread(_wait_until, lambda: len(server.gateway.connections) == 1, 20)
    await asyncio.to_thread(_drain, sink)
    await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketData), 20)
    assert await asyncio.to_thread(client.unsubscribe(subscription).wait, 10)
    await stop(client)


def _sent_smd(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if "Sending payload: smd+" in r.getMessage())


def _wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _drain(sink: QueueSink) -> None:
    while True:
        try:
            sink.events.get_nowait()
        except queue.Empty:
            return


async def test_trades_history_in_many_str_frames_reaches_ibind_whole(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A day of executions larger than the outbox arrives as many `str` frames, which ibind
    emits as one Trades event each: every execution once, in order."""
    caplog.set_level(logging.INFO, logger="ibind")
    server = await start(tls=True, store="memory", outbox_limit_bytes=65_536)
    fold_day(server, 3_000)
    sink = QueueSink()
    client = ibind_ws(server, sink)
    assert await asyncio.to_thread(client.start)
    try:
        handle = client.subscribe(TradesSubscription())
        assert await asyncio.to_thread(handle.wait, 10)
        executions: list[str] = []
        frames = 0
        while len(executions) < 3_000 - WORKING:
            event = await asyncio.to_thread(
                sink.wait_for, lambda e: isinstance(e, events.Trades), 10
            )
            executions += [trade["execution_id"] for trade in event.data["args"]]
            frames += 1
        expected = [f"{FIRST_ORDER_ID + i:08x}.00000001.01.01" for i in range(WORKING, 3_000)]
        assert executions == expected
        assert frames > 20
        assert await asyncio.to_thread(client.unsubscribe(TradesSubscription()).wait, 10)
    finally:
        await stop(client)
    assert not ibind_errors(caplog)
