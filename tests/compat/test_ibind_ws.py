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

import pytest
from ibind import IbkrClient, IbkrWsClient, events
from ibind.ibkr_ws.ibkr_subscriptions import (
    AccountLedgerSubscription,
    AccountSummarySubscription,
    MarketDataSubscription,
    MarketHistorySubscription,
    PnlSubscription,
    TradesSubscription,
)
from tests.conftest import StartServer

from tickgate.server.app import RunningServer

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


def ibind_ws(server: RunningServer, sink: QueueSink) -> IbkrWsClient:
    rest = IbkrClient(url=server.base_url + "/v1/api/", cacert=False)
    return IbkrWsClient(
        account_id=ACCOUNT,
        url=server.ws_base + "/v1/api/ws",
        ibkr_client=rest,
        cacert=False,
        sink=sink,
        synchronous_output_events=True,
    )


@pytest.fixture
def no_ibind_errors(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.INFO, logger="ibind")
    yield caplog
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("ibind") and r.levelno >= logging.ERROR
    ]
    assert not errors, errors


@pytest.fixture
async def running(
    start: StartServer,
) -> AsyncIterator[tuple[RunningServer, IbkrWsClient, QueueSink]]:
    server = await start(tls=True, ticks_per_second=3000.0)
    sink = QueueSink()
    client = ibind_ws(server, sink)
    assert await asyncio.to_thread(client.start), "ibind did not reach AUTHENTICATED within 5 s"
    yield server, client, sink
    await stop(client)


async def stop(client: IbkrWsClient) -> None:
    """Shut ibind down and close its REST keep-alive connections before the server stops."""
    assert await asyncio.to_thread(client.shutdown)
    client._ibkr_client.close()


async def test_market_data_for_several_conids_with_moving_prices(
    running: tuple[RunningServer, IbkrWsClient, QueueSink], no_ibind_errors: Any
) -> None:
    _, client, sink = running
    handles = [
        client.subscribe(MarketDataSubscription(conid=c, fields=FIELDS)) for c in (AAPL, MSFT, SPY)
    ]
    failed = await asyncio.to_thread(client.wait_all, handles, 10)
    assert failed == []
    prices: set[str] = set()

    def moving(event: Any) -> bool:
        if (
            isinstance(event, events.MarketData)
            and event.conid == AAPL
            and "bid_price" in event.data
        ):
            prices.add(event.data["bid_price"])
        return len(prices) >= 3

    await asyncio.to_thread(sink.wait_for, moving, 15)
    unsubscribed = client.unsubscribe(MarketDataSubscription(conid=AAPL, fields=FIELDS))
    assert await asyncio.to_thread(unsubscribed.wait, 5)


async def test_tic_and_history(
    running: tuple[RunningServer, IbkrWsClient, QueueSink], no_ibind_errors: Any
) -> None:
    _, client, sink = running
    first = await asyncio.to_thread(client.tic)
    second = await asyncio.to_thread(client.tic)
    assert first is not None and second is not None
    history = MarketHistorySubscription(conid=AAPL, period="1d", bar="5min", outside_rth=True)
    handle = client.subscribe(history)
    assert await asyncio.to_thread(handle.wait, 10)
    bars = await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketHistory), 5)
    assert bars.data["data"]
    unsubscribed = client.unsubscribe(history)
    assert await asyncio.to_thread(unsubscribed.wait, 10)


async def test_account_channels_confirm(
    running: tuple[RunningServer, IbkrWsClient, QueueSink], no_ibind_errors: Any
) -> None:
    server, client, _ = running
    if getattr(server.gateway, "trading", None) is None:
        pytest.xfail("the trading engine has not landed: spl/str/ssd/sld have no data source")
    subscriptions = [
        PnlSubscription(),
        TradesSubscription(),
        AccountSummarySubscription(account_id=ACCOUNT),
        AccountLedgerSubscription(account_id=ACCOUNT),
    ]
    handles = [client.subscribe(s) for s in subscriptions]
    assert await asyncio.to_thread(client.wait_all, handles, 10) == []
    for subscription in subscriptions[2:]:
        assert await asyncio.to_thread(client.unsubscribe(subscription).wait, 10)


async def test_resubscribes_after_smd_expiry_and_recovers_after_a_dropped_socket(
    start: StartServer, no_ibind_errors: Any
) -> None:
    server = await start(tls=True, ticks_per_second=3000.0, smd_expiry_seconds=2)
    sink = QueueSink()
    client = ibind_ws(server, sink)
    assert await asyncio.to_thread(client.start)
    try:
        subscription = MarketDataSubscription(conid=AAPL, fields=FIELDS)
        # Expire ibind's own re-subscription clock faster than the server's (540 s by default).
        subscription = subscription.model_copy(update={"expiry_seconds": 1})
        assert await asyncio.to_thread(client.subscribe(subscription).wait, 10)
        await asyncio.sleep(3.0)  # past the server's expiry: only ibind's re-sends keep it alive
        assert server.gateway.session.lines_in_use() == 1
        await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketData), 5)
        for connection in list(server.gateway.connections):
            await connection.ws.close(code=1011, message=b"test drops the socket")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(_drain, sink)
        await asyncio.to_thread(sink.wait_for, lambda e: isinstance(e, events.MarketData), 20)
        assert client.is_authenticated()
    finally:
        await stop(client)


def _drain(sink: QueueSink) -> None:
    while True:
        try:
            sink.events.get_nowait()
        except queue.Empty:
            return
