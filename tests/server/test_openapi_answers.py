"""The document's schemas against a trading day's real answers.

schemathesis reaches a 200 of most routes only now and then (random conids are unknown), so
this test walks the Client Portal routes with values a bot would send, after fills in a stock,
an option, a future and an FX pair, and checks each answer against its entry in the served
document (status, content type and schema), so positions, orders, trades and previews of
every kind are held to what the document promises.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests
import schemathesis

from tickgate.model.instruments import SecType
from tickgate.pytest_plugin import StartGateway, TickgateServer


class Checked:
    """A client whose every answer is validated against the gateway's own document."""

    def __init__(self, server: TickgateServer) -> None:
        self.base = server.base_url
        self.schema = schemathesis.openapi.from_url(f"{self.base}/v1/api/openapi.json")
        self.http = requests.Session()
        self.seen: set[str] = set()

    def __call__(self, method: str, path: str, body: Any = None, *, status: int = 200) -> Any:
        response = self.http.request(method, self.base + path, json=body, timeout=10)
        route = urllib.parse.urlsplit(path).path
        operation = self.schema.find_operation_by_path(method, route)
        assert operation is not None, f"{method} {route} is not in the document"
        assert response.status_code == status, (method, path, response.text[:500])
        operation.validate_response(response)  # raises naming the mismatch
        self.seen.add(operation.label)
        return response.json() if "json" in response.headers["Content-Type"] else None

    def place(self, account: str, order: dict[str, Any]) -> str:
        """Place `order`, confirm each question; the new order's id."""
        answer = self("POST", f"/v1/api/iserver/account/{account}/orders", {"orders": [order]})
        while "id" in answer[0]:
            answer = self("POST", f"/v1/api/iserver/reply/{answer[0]['id']}", {"confirmed": True})
        assert "order_id" in answer[0], answer
        return str(answer[0]["order_id"])


def first(server: TickgateServer, kind: SecType) -> Any:
    return next(i for i in server.running.gateway.catalogue if i.sec_type is kind)


@pytest.mark.slow
def test_a_trading_days_answers_match_the_document(tickgate_server_factory: StartGateway) -> None:
    server = tickgate_server_factory(ticks_per_second=200.0)
    call = Checked(server)
    account = server.config.accounts[0].account_id
    stock, future, fx = (first(server, k) for k in (SecType.STK, SecType.FUT, SecType.CASH))
    api = "/v1/api"

    for method in ("GET", "POST"):
        call(method, f"{api}/tickle")
        call(method, f"{api}/iserver/auth/status")
    call("POST", f"{api}/iserver/auth/ssodh/init")
    call("GET", f"{api}/iserver/reauthenticate")
    call("GET", f"{api}/sso/validate")
    call("GET", f"{api}/iserver/accounts")
    call("GET", f"{api}/portfolio/accounts")
    call("GET", f"{api}/portfolio/subaccounts")
    call("POST", f"{api}/iserver/account", {"acctId": account})

    # Contracts: the stock, its option chain, a future, an FX pair.
    found = call("GET", f"{api}/iserver/secdef/search?symbol={stock.symbol}")
    call("POST", f"{api}/iserver/secdef/search", {"symbol": stock.symbol, "secType": "STK"})
    months = next(s["months"] for s in found[0]["sections"] if s["secType"] == "OPT")
    month = months.split(";")[0]
    strikes = call("GET", f"{api}/iserver/secdef/strikes?conid={stock.conid}&month={month}")
    strike = strikes["call"][len(strikes["call"]) // 2]
    options = call(
        "GET",
        f"{api}/iserver/secdef/info?conid={stock.conid}&sectype=OPT&month={month}"
        f"&strike={strike}&right=C",
    )
    option = options[0]["conid"]
    call("GET", f"{api}/iserver/secdef/info?conid={stock.conid}")
    call("GET", f"{api}/trsrv/futures?symbols={future.symbol}")
    call("GET", f"{api}/trsrv/stocks?symbols={stock.symbol}")
    call("GET", f"{api}/trsrv/secdef?conids={stock.conid},{option}")
    call("POST", f"{api}/trsrv/secdef", {"conids": [future.conid, fx.conid]})
    call("GET", f"{api}/trsrv/secdef/schedule?assetClass=STK&symbol={stock.symbol}")
    call("GET", f"{api}/trsrv/all-conids?exchange={stock.listing_exchange}")
    for conid in (stock.conid, option, future.conid):
        call("GET", f"{api}/iserver/contract/{conid}/info")
        call("GET", f"{api}/iserver/contract/{conid}/info-and-rules?isBuy=true")
        call("GET", f"{api}/iserver/contract/{conid}/algos")
        call("POST", f"{api}/iserver/contract/rules", {"conid": conid, "isBuy": True})
    base, quote = fx.symbol.split(".")
    call("GET", f"{api}/iserver/currency/pairs?currency={quote}")
    call("GET", f"{api}/iserver/exchangerate?source={base}&target={quote}")

    # Market data: pre-flight, then values; history; the beta routes.
    conids = f"{stock.conid},{option},{future.conid},{fx.conid}"
    for _ in range(2):
        call("GET", f"{api}/iserver/marketdata/snapshot?conids={conids}&fields=31,84,86,7295")
    call("GET", f"{api}/md/snapshot?conids={conids}")
    call("GET", f"{api}/iserver/marketdata/history?conid={stock.conid}&period=1d&bar=1h")
    call("GET", f"{api}/hmds/history?conid={future.conid}&period=2d&bar=1h")
    call("POST", f"{api}/iserver/marketdata/unsubscribe", {"conid": option})
    call("GET", f"{api}/iserver/marketdata/{future.conid}/unsubscribe")
    call("GET", f"{api}/iserver/marketdata/unsubscribeall")

    # Orders: fills of every kind, a resting order modified and cancelled, previews.
    for conid, quantity in ((stock.conid, 10), (option, 2), (future.conid, 1), (fx.conid, 20000)):
        order = {"conid": conid, "orderType": "MKT", "side": "BUY", "quantity": quantity}
        call("POST", f"{api}/iserver/account/{account}/orders/whatif", {"orders": [order]})
        call("POST", f"{api}/iserver/account/{account}/order/whatif", order)
        call.place(account, {**order, "tif": "DAY"})
    resting = call.place(
        account,
        {"conid": stock.conid, "orderType": "LMT", "side": "BUY", "quantity": 1, "tif": "GTC",
         "price": float(stock.reference_price) * 0.98},
    )  # fmt: skip
    call("GET", f"{api}/iserver/account/order/status/{resting}")
    call(
        "POST",
        f"{api}/iserver/account/{account}/order/{resting}",
        {"quantity": 2, "price": float(stock.reference_price) * 0.97},
    )
    call("GET", f"{api}/iserver/account/orders?filters=Submitted,filled&force=true")
    call("DELETE", f"{api}/iserver/account/{account}/order/{resting}")
    call("DELETE", f"{api}/iserver/account/{account}/order/-1")
    refused = {"conid": stock.conid, "orderType": "LMT", "side": "BUY", "quantity": 1}
    assert "error" in call("POST", f"{api}/iserver/account/{account}/order", refused)
    call("POST", f"{api}/iserver/questions/suppress", {"messageIds": ["o163"]})
    call("POST", f"{api}/iserver/questions/suppress/reset")
    call("GET", f"{api}/iserver/account/trades?days=2")
    call("GET", f"{api}/iserver/account/pnl/partitioned")

    # Portfolio: the positions those fills made.
    held = call("GET", f"{api}/portfolio/{account}/positions/0")
    assert {row["conid"] for row in held} >= {stock.conid, option, future.conid}
    call("GET", f"{api}/portfolio/{account}/positions")
    call("GET", f"{api}/portfolio/{account}/position/{option}")
    for view in ("summary", "ledger", "allocation"):
        call("GET", f"{api}/portfolio/{account}/{view}")

    # Scanner and watchlists.
    params = call("GET", f"{api}/iserver/scanner/params")
    scan = params["scan_type_list"][0]["code"]
    kind = params["instrument_list"][0]["type"]
    where = params["location_tree"][0]["locations"][0]["type"]
    call(
        "POST", f"{api}/iserver/scanner/run", {"instrument": kind, "location": where, "type": scan}
    )
    call(
        "POST",
        f"{api}/hmds/scanner",
        {"instrument": kind, "locations": where, "scanCode": scan, "maxItems": 5},
    )
    rows = [{"H": "Tech"}, {"C": stock.conid}, {"C": str(option)}]
    call("POST", f"{api}/iserver/watchlist", {"id": "11", "name": "day", "rows": rows})
    call("GET", f"{api}/iserver/watchlist?id=11")
    call("GET", f"{api}/iserver/watchlists?SC=USER_WATCHLIST")
    call("DELETE", f"{api}/iserver/watchlist?id=11")

    # Portfolio Analyst, from the day's ledger.
    call("POST", f"{api}/pa/performance", {"acctIds": [account], "period": "1D"})
    call("POST", f"{api}/pa/allperiods", {"acctIds": [account]})
    call("POST", f"{api}/pa/summary", {"acctIds": [account]})
    call(
        "POST",
        f"{api}/pa/transactions",
        {"acctIds": [account], "conids": [stock.conid], "currency": "USD"},
    )

    # tickgate's own routes.
    call("GET", "/tickgate/status")
    call("GET", "/tickgate/connections?limit=5")
    call("POST", f"/tickgate/market/{stock.conid}/halt")
    call("POST", f"/tickgate/market/{stock.conid}/resume")
    call("GET", "/tickgate/faults")
    call("GET", "/healthz")
    call("GET", "/readyz")
    call("GET", "/metrics")
    call("GET", "/v1/portal/openapi.json")
    call("POST", "/tickgate/session/close")
    call("POST", "/tickgate/session/open")
    call("POST", f"{api}/logout")
    call("GET", f"{api}/iserver/accounts", status=401)

    assert len(call.seen) >= 75  # the walk covered the routes, not a few of them
