"""The README's example: an ibind bot tested with nothing but the pytest plugin's fixtures.

The gateway serves TLS with its own certificate, which ibind is told to trust (`cacert`), and
the tests are plain synchronous functions, as a bot's own tests would be.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("IBIND_WS_PING_INTERVAL", "3")  # see README, "Use tickgate with ibind"

import pytest
from ibind import IbkrClient
from ibind.client.ibkr_utils import OrderRequest, QuestionType

from tickgate.pytest_plugin import TickgateServer

ANSWERS = {QuestionType.MARKET_ORDER_CONFIRMATION: True}


def buy_unless_halted(client: IbkrClient, account: str, symbol: str, quantity: int) -> bool:
    """The bot under test: buy `quantity` at market unless the stock is halted (its last
    price reads `H...`). Returns whether it bought."""
    conid = client.stock_conid_by_symbol(symbol).data[symbol]
    client.receive_brokerage_accounts()
    last = ""
    for _ in range(20):  # the first snapshot is a pre-flight; fields arrive on a later one
        last = client.live_marketdata_snapshot(str(conid), ["31"]).data[0].get("31", "")
        if last:
            break
    if not last or last.startswith("H"):
        return False
    order = OrderRequest(
        conid=conid, side="BUY", quantity=quantity, order_type="MKT", acct_id=account
    )
    client.place_order(order, ANSWERS, account)
    return True


@pytest.fixture
def client(tickgate_server: TickgateServer) -> Iterator[IbkrClient]:
    rest = IbkrClient(url=tickgate_server.rest_url + "/", cacert=str(tickgate_server.certificate))
    yield rest
    rest.close()


@pytest.mark.tickgate(tls=True, seed=7, accounts=["DU0000001"])
def test_the_bot_buys_when_the_stock_trades(
    tickgate_server: TickgateServer, client: IbkrClient
) -> None:
    assert buy_unless_halted(client, "DU0000001", "AAPL", 10)
    positions = client.positions("DU0000001").data
    assert [(p["ticker"], p["position"]) for p in positions] == [("AAPL", 10.0)]


@pytest.mark.tickgate(tls=True, accounts=["DU0000001"])
def test_the_bot_stays_out_of_a_halted_stock(
    tickgate_server: TickgateServer, client: IbkrClient
) -> None:
    tickgate_server.halt("AAPL")
    assert not buy_unless_halted(client, "DU0000001", "AAPL", 10)
    assert client.positions("DU0000001").data == []
    tickgate_server.resume("AAPL")
    assert buy_unless_halted(client, "DU0000001", "AAPL", 10)
