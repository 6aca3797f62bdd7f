"""ibind 0.2.2's IbkrClient, unmodified, against tickgate's REST API over TLS (reference §7.3).

ibind is synchronous: each call runs in a worker thread while the gateway serves on the test's
event loop. Nothing may reach ibind's logs at error level.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ibind import IbkrClient
from ibind.client.ibkr_utils import OrderRequest, QuestionType
from tests.conftest import StartServer

pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")

AAPL = 265598


@pytest.fixture
async def client(start: StartServer, caplog: pytest.LogCaptureFixture) -> AsyncIterator[IbkrClient]:
    caplog.set_level(logging.INFO, logger="ibind")
    server = await start(tls=True)
    rest = IbkrClient(url=server.base_url + "/v1/api/", cacert=False)
    yield rest
    rest.close()
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("ibind") and r.levelno >= logging.ERROR
    ]
    assert not errors, errors


async def call(method: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(method, *args, **kwargs)


async def test_session_calls(client: IbkrClient) -> None:
    tickle = await call(client.tickle)
    assert (
        tickle.data["session"]
        and (await call(client.tickle)).data["session"] == tickle.data["session"]
    )
    assert await call(client.check_health) is True
    accounts = await call(client.portfolio_accounts)
    assert accounts.data[0]["id"] == "DU1234567"


async def test_contract_lookups(client: IbkrClient) -> None:
    found = await call(client.search_contract_by_symbol, "AAPL")
    assert any(str(row["conid"]) == str(AAPL) for row in found.data)
    conids = await call(client.stock_conid_by_symbol, "AAPL")
    assert conids.data == {"AAPL": AAPL}
    futures = await call(client.security_future_by_symbol, "ES")
    assert futures.data["ES"] and all(row["symbol"] == "ES" for row in futures.data["ES"])


async def test_snapshot_with_preflight_and_history(client: IbkrClient) -> None:
    await call(client.receive_brokerage_accounts)
    await call(client.live_marketdata_snapshot, str(AAPL), ["31", "84", "86"])
    snapshot = (await call(client.live_marketdata_snapshot, str(AAPL), ["31", "84", "86"])).data[0]
    assert float(snapshot["84"]) < float(snapshot["86"])
    by_symbol = await call(client.live_marketdata_snapshot_by_symbol, "AAPL", ["84", "86"])
    assert "AAPL" in by_symbol


async def test_history_by_conid(client: IbkrClient) -> None:
    history = await call(
        client.marketdata_history_by_conid, str(AAPL), bar="5min", period="1d", outside_rth=True
    )
    assert history.data["data"] and history.data["symbol"] == "AAPL"


ANSWERS = {
    QuestionType.MARKET_ORDER_CONFIRMATION: True,
    QuestionType.PRICE_PERCENTAGE_CONSTRAINT: True,
    QuestionType.MISSING_MARKET_DATA: True,
}


async def test_order_lifecycle(client: IbkrClient) -> None:
    account = "DU1234567"
    await call(client.receive_brokerage_accounts)
    market = OrderRequest(conid=AAPL, side="BUY", quantity=10, order_type="MKT", acct_id=account)
    placed = await call(client.place_order, market, ANSWERS, account)
    filled_id = placed.data["order_id"]
    status = await call(client.order_status, filled_id)
    assert status.data["order_status"] == "Filled"

    await call(client.live_marketdata_snapshot, str(AAPL), ["84"])  # the pre-flight
    snapshot = await call(client.live_marketdata_snapshot, str(AAPL), ["84"])
    bid = float(snapshot.data[0]["84"])
    resting = OrderRequest(
        conid=AAPL,
        side="BUY",
        quantity=5,
        order_type="LMT",
        price=round(bid * 0.9, 2),
        acct_id=account,
        coid="ibind-1",
    )
    rest_id = (await call(client.place_order, resting, ANSWERS, account)).data["order_id"]
    lower = OrderRequest(
        conid=AAPL,
        side="BUY",
        quantity=6,
        order_type="LMT",
        price=round(bid * 0.85, 2),
        acct_id=account,
    )
    await call(client.modify_order, rest_id, lower, ANSWERS, account)
    assert float((await call(client.order_status, rest_id)).data["size"]) == 6
    live = await call(client.live_orders, force=True, account_id=account)
    assert {int(o["orderId"]) for o in live.data["orders"]} >= {int(filled_id), int(rest_id)}
    await call(client.cancel_order, rest_id, account)
    assert (await call(client.order_status, rest_id)).data["order_status"] == "Cancelled"

    trades = await call(client.trades, "1", account)
    assert trades.data[0]["size"] == 10
    positions = await call(client.positions, account)
    assert [(p["conid"], p["position"]) for p in positions.data] == [(AAPL, 10.0)]
    pnl = await call(client.account_profit_and_loss)
    assert f"{account}.Core" in pnl.data["upnl"]
    summary = await call(client.portfolio_summary, account)
    assert summary.data["netliquidation"]["amount"] > 0


async def test_watchlist_create_and_delete(client: IbkrClient) -> None:
    rows = [{"C": AAPL}]
    created = await call(client.create_watchlist, "77", "Tech", rows)
    assert created.data["id"] == "77"
    deleted = await call(client.delete_watchlist, "77")
    assert deleted.data["data"] == {"deleted": "77"}
    assert (await call(client.get_all_watchlists)).data["data"]["user_lists"] == []


async def test_positions2(client: IbkrClient) -> None:
    account = "DU1234567"
    await call(client.receive_brokerage_accounts)
    market = OrderRequest(conid=AAPL, side="BUY", quantity=10, order_type="MKT", acct_id=account)
    await call(client.place_order, market, ANSWERS, account)
    await call(client.portfolio_accounts)  # IBKR asks for this before portfolio2
    [row] = (await call(client.positions2, account, sort="position", direction="d")).data
    assert row["conid"] == str(AAPL) and row["position"] == 10.0 and row["description"] == "AAPL"


async def test_hmds_market_scanner(client: IbkrClient) -> None:
    answer = await call(
        client.hmds_market_scanner, "STK", "STK.US.MAJOR", "MOST_ACTIVE", "STK", [], max_items=5
    )
    rows = answer.data["Contracts"]["Contract"]
    assert answer.data["total"] == len(rows) == 5 and all(row["contractID"] for row in rows)
