"""Alerts and FYI over a real socket: IBKR's shapes, refusals, firing on the market and the
clock (with its `ntf` frame and FYI notification), and survival across a restart."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, StartServer, WsClient, call, make_config
from tests.server.fixed_market import FixedMarket
from tests.server.test_rest_orders import place_confirmed
from tests.server.test_ws_api import Connect, authed

from tickgate.clock import NS_PER_S, ShiftedClock
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.protocol.rest.alerts import ibkr_time
from tickgate.server.app import RunningServer, build_app, start_server

ACCT = "DU1234567"
AAPL, IBM = 265598, 8314
#: The keys of IBKR's documented examples, one set per answer.
CREATED = {"order_id", "order_status", "request_id", "success", "text", "warning_message"}
ACKNOWLEDGED = {"failure_list", "order_id", "request_id", "success", "text"}
LISTED = {
    "account",
    "alert_active",
    "alert_name",
    "alert_repeatable",
    "alert_triggered",
    "order_id",
    "order_time",
}
DETAIL = {
    "account",
    "alert_active",
    "alert_default_type",
    "alert_email",
    "alert_message",
    "alert_mta_currency",
    "alert_mta_defaults",
    "alert_name",
    "alert_play_audio",
    "alert_repeatable",
    "alert_send_message",
    "alert_show_popup",
    "alert_triggered",
    "bg_color",
    "condition_outside_rth",
    "condition_size",
    "conditions",
    "expire_time",
    "fg_color",
    "itws_orders_only",
    "order_id",
    "order_not_editable",
    "order_status",
    "tif",
    "time_zone",
    "tool_id",
}
CONDITION = {
    "condition_logic_bind",
    "condition_operator",
    "condition_time_zone",
    "condition_trigger_method",
    "condition_type",
    "condition_value",
    "conidex",
    "contract_description_1",
}
NOTIFICATION = {"D", "FC", "HT", "ID", "MD", "MS", "R"}


def alert_body(**changes: Any) -> dict[str, Any]:
    """IBKR's documented creation example, on AAPL at 200."""
    body = {
        "alertMessage": "AAPL above 200",
        "alertName": "AAPL_Price",
        "alertRepeatable": 0,
        "conditions": [
            {
                "conidex": f"{AAPL}@SMART",
                "logicBind": "n",
                "operator": ">=",
                "timeZone": "US/Eastern",
                "triggerMethod": "0",
                "type": 1,
                "value": "200",
            }
        ],
        "email": "jonh.smith@example.com",
        "expireTime": "20231231-12:00:00",
        "iTWSOrdersOnly": 0,
        "outsideRth": 1,
        "sendMessage": 1,
        "showPopup": 1,
        "tif": "GTC",
    }
    return {**body, **changes}


def condition(**changes: Any) -> dict[str, Any]:
    return {**alert_body()["conditions"][0], **changes}


async def start_on(tmp_path: Path, market: FixedMarket, **changes: Any) -> RunningServer:
    """A gateway on a market that holds still (ticks are injected), on the suite's clock."""
    app = build_app(
        make_config(tmp_path, **changes),
        source=market.for_gateway,
        clock=ShiftedClock(SERVER_EPOCH_NS),
    )
    server = await start_server(app)
    await asyncio.wait_for(market.ready.wait(), 10)
    return server


def tick(server: RunningServer, conid: int, last: str) -> None:
    """A trade at `last` with the book around it, as a source would publish it."""
    cents = round(float(last) * 100)
    fields = {F.LAST: last, F.BID: f"{(cents - 1) / 100:.2f}", F.ASK: f"{(cents + 1) / 100:.2f}"}
    server.gateway.bus.publish(Tick(conid, fields, server.gateway.clock.now_ns()))


async def ntf_before_echo(ws: WsClient) -> list[dict[str, Any]]:
    """The `ntf` frames the socket got before the answer to a `tic` sent now: frames leave in
    order, and ticks fire alerts synchronously, so this is every notification owed so far."""
    await ws.send("tic")
    seen = []
    while (frame := await ws.recv()).get("topic") != "tic":
        if frame.get("topic") == "ntf":
            seen.append(frame)
    return seen


@pytest.fixture
async def fixed(tmp_path: Path) -> Any:
    market = FixedMarket(
        {AAPL: ("199.00", "199.02", "199.01"), IBM: ("299.98", "300.02", "300.00")}
    )
    server = await start_on(tmp_path, market)
    yield server
    await server.stop()


async def test_create_list_read_activate_delete_in_ibkr_shapes(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(store="memory")
    for prefix in ("/v1/api", "/v1/portal"):
        base = f"{server.base_url}{prefix}/iserver/account"
        created = await call(
            http,
            "POST",
            f"{base}/{ACCT}/alert",
            json=alert_body(conditions=[condition(value="100000")]),
        )
        assert set(created) == CREATED and created["success"] and created["text"] == "Submitted"
        alert_id = created["order_id"]
        assert isinstance(alert_id, int)
        (row,) = await call(http, "GET", f"{base}/{ACCT}/alerts")
        assert set(row) == LISTED
        assert row == {
            **row,
            "account": ACCT,
            "alert_active": 1,
            "alert_name": "AAPL_Price",
            "alert_repeatable": 0,
            "alert_triggered": False,
            "order_id": alert_id,
        }
        assert re.fullmatch(r"\d{8}-\d{2}:\d{2}:\d{2}", row["order_time"])
        detail = await call(http, "GET", f"{base}/alert/{alert_id}", params={"type": "Q"})
        assert set(detail) >= DETAIL
        assert detail["alert_message"] == "AAPL above 200" and detail["tif"] == "GTC"
        assert detail["alert_email"] == "jonh.smith@example.com" and detail["expire_time"] is None
        assert (detail["condition_size"], detail["order_status"]) == (1, "Submitted")
        (cond,) = detail["conditions"]
        assert set(cond) == CONDITION
        assert cond == {
            "condition_logic_bind": "n",
            "condition_operator": ">=",
            "condition_time_zone": None,
            "condition_trigger_method": "0",
            "condition_type": 1,
            "condition_value": "100000",
            "conidex": f"{AAPL}@SMART",
            "contract_description_1": "AAPL",
        }
        off = await call(
            http,
            "POST",
            f"{base}/{ACCT}/alert/activate",
            json={"alertId": alert_id, "alertActive": 0},
        )
        assert set(off) == ACKNOWLEDGED and off["order_id"] == alert_id and off["success"]
        assert (await call(http, "GET", f"{base}/{ACCT}/alerts"))[0]["alert_active"] == 0
        modified = await call(
            http,
            "POST",
            f"{base}/{ACCT}/alert",
            json=alert_body(
                orderId=str(alert_id), alertName="renamed", conditions=[condition(value="100001")]
            ),
        )
        assert modified["order_id"] == alert_id
        deleted = await call(http, "DELETE", f"{base}/{ACCT}/alert/{alert_id}")
        assert set(deleted) == ACKNOWLEDGED and deleted["order_id"] == alert_id
        assert await call(http, "GET", f"{base}/{ACCT}/alerts") == []
        await call(http, "GET", f"{base}/alert/{alert_id}", params={"type": "Q"}, status=404)


async def test_delete_all_and_the_mta_alert(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(store="memory")
    base = f"{server.base_url}/v1/api/iserver/account"
    for value in ("100000", "100001"):
        await call(
            http,
            "POST",
            f"{base}/{ACCT}/alert",
            json=alert_body(conditions=[condition(value=value)]),
        )
    everything = await call(http, "DELETE", f"{base}/{ACCT}/alert/0")
    assert everything["order_id"] == 0 and everything["success"]
    assert await call(http, "GET", f"{base}/{ACCT}/alerts") == []
    mta = await call(http, "GET", f"{base}/mta")
    assert set(mta) >= DETAIL and mta["alert_name"] == "MTA (AutoAlert)"
    assert mta["account"] == ACCT and mta["alert_mta_currency"] == "USD"
    assert isinstance(mta["tool_id"], int) and mta["alert_repeatable"] == 1
    assert mta["conditions"][0]["conidex"] == "*@*" and mta["conditions"][0]["condition_type"] == 5
    # IBKR: the MTA alert cannot be deleted; a delete resets it to its defaults, which it has.
    reset = await call(http, "DELETE", f"{base}/{ACCT}/alert/{mta['order_id']}")
    assert reset == {**reset, "order_id": mta["order_id"], "success": True}
    assert await call(http, "GET", f"{base}/mta") == mta
    await call(http, "DELETE", f"{base}/U0000000/alert/{mta['order_id']}", status=404)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (alert_body(conditions=[condition(conidex="1@SMART")]), "Invalid conid 1"),
        (alert_body(conditions=[condition(operator="=>")]), "conditions[0].operator"),
        (alert_body(conditions=[condition(type=2)]), "conditions[0].type: 2; IBKR's types"),
        (alert_body(conditions=[condition(type=7)]), "Unsupported conditions[0].type: 7 (MTA m"),
        (alert_body(conditions=[condition(type=4, value="101")]), "conditions[0].value"),
        (alert_body(conditions=[condition(type=4, value="-1")]), "a cushion is 0 to 100 %"),
        (alert_body(conditions=[condition(value="abc")]), "conditions[0].value"),
        (alert_body(conditions=[condition(triggerMethod="9")]), "conditions[0].triggerMethod"),
        (alert_body(conditions=[condition(logicBind="x")]), "conditions[0].logicBind"),
        (alert_body(conditions=[condition(conidex="AAPL")]), "conditions[0].conidex"),
        (alert_body(conditions=[condition(type=3, value="tomorrow")]), "conditions[0].value"),
        (
            alert_body(conditions=[condition(type=3, value="20260114-16:00:00", operator=">")]),
            "conditions[0].operator",
        ),
        (
            alert_body(conditions=[condition(type=3, value="20260114-16:00:00", timeZone="Mars")]),
            "conditions[0].timeZone",
        ),
        (alert_body(conditions=[]), "Invalid conditions"),
        (alert_body(alertName=""), "Invalid alertName"),
        (alert_body(tif="DAY"), "Invalid tif"),
        (alert_body(tif="GTD", expireTime=None), "a GTD alert needs one"),
        (alert_body(tif="GTD", expireTime="20200101-00:00:00"), "not in the future"),
        (alert_body(outsideRth=2), "Invalid outsideRth"),
        (alert_body(orderId=999), "alert 999 not found"),
        (alert_body(orderId=False), "Invalid orderId"),
        (alert_body(email=0), "Invalid email"),
        (alert_body(tif="gtc"), "Invalid tif"),
        (alert_body(expireTime=5), "Invalid expireTime"),
        (alert_body(conditions=[condition(logicBind=0)]), "conditions[0].logicBind"),
        # A field of the wrong type is refused even where the condition's type ignores it.
        (alert_body(conditions=[condition(timeZone=5)]), "conditions[0].timeZone"),
        (
            alert_body(conditions=[condition(type=3, value="20260114-16:00:00", triggerMethod=[])]),
            "conditions[0].triggerMethod",
        ),
    ],
)
async def test_bad_alerts_are_refused_and_nothing_is_kept(
    start: StartServer, http: aiohttp.ClientSession, body: dict[str, Any], message: str
) -> None:
    server = await start(store="memory")
    base = f"{server.base_url}/v1/api/iserver/account"
    status = 404 if "not found" in message else 400
    answer = await call(http, "POST", f"{base}/{ACCT}/alert", json=body, status=status)
    assert message in answer["error"]
    assert await call(http, "GET", f"{base}/{ACCT}/alerts") == []


async def test_other_refusals(start: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start(store="memory")
    base = f"{server.base_url}/v1/api/iserver/account"
    unknown = await call(http, "POST", f"{base}/U000/alert", json=alert_body(), status=404)
    assert unknown["error"].startswith("unknown account U000")
    await call(http, "GET", f"{base}/U000/alerts", status=404)
    await call(http, "GET", f"{base}/alert/1?type=X", status=400)
    await call(http, "GET", f"{base}/alert/abc?type=Q", status=400)
    await call(http, "DELETE", f"{base}/{ACCT}/alert/12345", status=404)
    for body, message in [
        ({"alertId": 1}, "alertActive"),
        ({"alertActive": 1}, "alertId"),
        ({"alertId": 0, "alertActive": 5}, "Invalid alertActive"),
    ]:
        answer = await call(http, "POST", f"{base}/{ACCT}/alert/activate", json=body, status=400)
        assert message in answer["error"]
    async with http.post(f"{base}/{ACCT}/alert", data=b"{not json") as response:
        assert response.status == 400 and "not valid JSON" in (await response.json())["error"]


async def test_a_crossing_fires_once_on_the_socket_and_in_fyi(
    fixed: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    base = fixed.base_url + "/v1/api"
    ws = await authed(fixed, http, ws_connect)
    created = await call(http, "POST", f"{base}/iserver/account/{ACCT}/alert", json=alert_body())
    alert_id = created["order_id"]
    tick(fixed, AAPL, "199.50")
    tick(fixed, IBM, "305.00")
    detail = await call(http, "GET", f"{base}/iserver/account/alert/{alert_id}?type=Q")
    assert detail["alert_triggered"] is False
    for last in ("200.00", "200.50", "198.00", "201.00"):
        tick(fixed, AAPL, last)
    notice = await ws.recv_until(lambda f: f.get("topic") == "ntf")
    (args,) = notice["args"]
    assert args["title"] == "AAPL_Price" and args["text"] == "AAPL above 200"
    assert args["alertId"] == alert_id and args["url"] == ""
    assert await ntf_before_echo(ws) == []  # once: no second ntf queued behind the first
    assert fixed.gateway.alerts.get(alert_id).fired == 1
    (row,) = await call(http, "GET", f"{base}/iserver/account/{ACCT}/alerts")
    assert row["alert_triggered"] is True
    unread = await call(http, "GET", f"{base}/fyi/unreadnumber")
    assert unread == {"BN": 1}
    (fyi,) = await call(http, "GET", f"{base}/fyi/notifications", params={"max": "10"})
    assert set(fyi) == NOTIFICATION
    assert fyi == {
        **fyi,
        "FC": "UA",
        "ID": args["id"],
        "MS": "AAPL_Price",
        "MD": "AAPL above 200",
        "R": 0,
        "HT": 0,
    }
    assert float(fyi["D"]) == pytest.approx(fixed.gateway.clock.now_ns() / NS_PER_S, abs=30)
    marked = await call(http, "PUT", f"{base}/fyi/notifications/{fyi['ID']}")
    assert marked["P"] == {"ID": fyi["ID"], "R": 1} and marked["V"] == 1
    assert isinstance(marked["T"], int)
    assert await call(http, "GET", f"{base}/fyi/unreadnumber") == {"BN": 0}


async def test_a_time_condition_fires_on_the_gateway_clock(
    fixed: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    base = fixed.base_url + "/v1/api"
    ws = await authed(fixed, http, ws_connect)
    soon = ibkr_time(fixed.gateway.clock.now_ns() + NS_PER_S)
    time_condition = {
        "conidex": "*",
        "logicBind": "n",
        "operator": ">=",
        "timeZone": "UTC",
        "type": 3,
        "value": soon,
    }
    created = await call(
        http,
        "POST",
        f"{base}/iserver/account/{ACCT}/alert",
        json=alert_body(alertName="soon", conditions=[time_condition]),
    )
    notice = await ws.recv_until(lambda f: f.get("topic") == "ntf", timeout=10)
    assert notice["args"][0]["alertId"] == created["order_id"]
    detail = await call(http, "GET", f"{base}/iserver/account/alert/{created['order_id']}")
    assert detail["alert_triggered"] is True and detail["time_zone"] == "UTC"


async def test_fills_and_the_close_feed_fyi(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    await place_confirmed(
        http, base, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 3}
    )
    server.gateway.trading.close_session()
    async with asyncio.timeout(5):
        while (await call(http, "GET", f"{base}/fyi/unreadnumber"))["BN"] < 2:
            await asyncio.sleep(0.01)
    close, fill = await call(http, "GET", f"{base}/fyi/notifications?max=10")
    assert (close["FC"], fill["FC"]) == ("SM", "PF")
    assert fill["MD"].startswith("Bought 3 AAPL @ ")
    only = await call(http, "GET", f"{base}/fyi/notifications?max=10&include=PF")
    assert [n["ID"] for n in only] == [fill["ID"]]
    assert await call(http, "GET", f"{base}/fyi/notifications?max=10&exclude=PF,SM") == []
    assert await call(http, "GET", f"{base}/fyi/notifications?max=10&id={close['ID']}") == [fill]
    assert await call(http, "GET", f"{base}/fyi/notifications/more?id={close['ID']}") == [fill]
    for query, message in [
        ("max=11", "Invalid max"),
        ("max=x", "max"),
        ("max=5&include=ZZ", "unknown typecode ZZ"),
    ]:
        answer = await call(http, "GET", f"{base}/fyi/notifications?{query}", status=400)
        assert message in answer["error"]
    await call(http, "PUT", f"{base}/fyi/notifications/nope", status=404)


async def test_settings_delivery_and_disclaimers(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(store="memory")
    base = server.base_url + "/v1/api/fyi"
    settings = await call(http, "GET", f"{base}/settings")
    assert all(set(s) == {"A", "FC", "FD", "FN", "H"} for s in settings)
    assert {"UA", "PF", "SM"} <= {s["FC"] for s in settings}
    edited = await call(http, "POST", f"{base}/settings/UA", json={"enabled": False})
    assert edited["V"] == 1 and isinstance(edited["T"], int)
    ua = next(s for s in await call(http, "GET", f"{base}/settings") if s["FC"] == "UA")
    assert ua["A"] == 0 and ua["FN"] == "User Alert"
    await call(http, "POST", f"{base}/settings/ZZ", json={"enabled": True}, status=400)
    await call(http, "POST", f"{base}/settings/UA", json={}, status=400)
    assert await call(http, "GET", f"{base}/deliveryoptions") == {"M": 1, "E": []}
    await call(http, "PUT", f"{base}/deliveryoptions/email?enabled=false")
    device = {
        "deviceId": "apn://mtws@ABC",
        "deviceName": "iPhone",
        "uiName": "apn://mtws@ABC",
        "enabled": True,
    }
    await call(http, "POST", f"{base}/deliveryoptions/device", json=device)
    assert await call(http, "GET", f"{base}/deliveryoptions") == {
        "M": 0,
        "E": [{"NM": "iPhone", "I": "apn://mtws@ABC", "UI": "apn://mtws@ABC", "A": 1}],
    }
    async with http.delete(f"{base}/deliveryoptions/apn:%2F%2Fmtws@ABC") as response:
        assert response.status == 200 and await response.text() == ""
    assert (await call(http, "GET", f"{base}/deliveryoptions"))["E"] == []
    await call(http, "PUT", f"{base}/deliveryoptions/email?enabled=maybe", status=400)
    disclaimer = await call(http, "GET", f"{base}/disclaimer/UA")
    assert set(disclaimer) == {"DT", "FC"} and disclaimer["FC"] == "UA" and disclaimer["DT"]
    await call(http, "PUT", f"{base}/disclaimer/UA")
    ua = next(s for s in await call(http, "GET", f"{base}/settings") if s["FC"] == "UA")
    assert ua["H"] == 1
    await call(http, "GET", f"{base}/disclaimer/ZZ", status=400)


async def test_alerts_and_notifications_survive_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    market = FixedMarket({AAPL: ("199.00", "199.02", "199.01")})
    first = await start_on(tmp_path, market)
    base = first.base_url + "/v1/api"
    fired = await call(http, "POST", f"{base}/iserver/account/{ACCT}/alert", json=alert_body())
    waiting = await call(
        http,
        "POST",
        f"{base}/iserver/account/{ACCT}/alert",
        json=alert_body(alertName="later", conditions=[condition(value="300")]),
    )
    tick(first, AAPL, "201.00")
    async with asyncio.timeout(5):
        while (await call(http, "GET", f"{base}/fyi/unreadnumber"))["BN"] < 1:
            await asyncio.sleep(0.01)
    before = await call(http, "GET", f"{base}/iserver/account/{ACCT}/alerts")
    notifications = await call(http, "GET", f"{base}/fyi/notifications?max=10")
    await first.stop()

    second = await start_on(tmp_path, FixedMarket({AAPL: ("201.00", "201.02", "201.01")}))
    try:
        base = second.base_url + "/v1/api"
        assert await call(http, "GET", f"{base}/iserver/account/{ACCT}/alerts") == before
        assert [a["alert_triggered"] for a in before] == [True, False]
        assert await call(http, "GET", f"{base}/fyi/notifications?max=10") == notifications
        tick(second, AAPL, "301.00")
        async with asyncio.timeout(5):
            while (await call(http, "GET", f"{base}/fyi/unreadnumber"))["BN"] < 2:
                await asyncio.sleep(0.01)
        newest = (await call(http, "GET", f"{base}/fyi/notifications?max=10"))[0]
        assert newest["MS"] == "later"
        rows = await call(http, "GET", f"{base}/iserver/account/{ACCT}/alerts")
        assert [r["order_id"] for r in rows] == [fired["order_id"], waiting["order_id"]]
    finally:
        await second.stop()


async def test_the_ws_client_gets_no_ntf_for_an_alert_that_does_not_fire(
    fixed: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws: WsClient = await authed(fixed, http, ws_connect)
    base = fixed.base_url + "/v1/api"
    await call(
        http,
        "POST",
        f"{base}/iserver/account/{ACCT}/alert",
        json=alert_body(conditions=[condition(operator="<=", value="100")]),
    )
    for last in ("150.00", "120.00", "100.01"):
        tick(fixed, AAPL, last)
    assert await ntf_before_echo(ws) == []


async def test_a_margin_cushion_condition_fires_when_a_position_lowers_the_cushion(
    fixed: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    base = fixed.base_url + "/v1/api"
    ws = await authed(fixed, http, ws_connect)
    margin = {"type": 4, "operator": "<=", "value": "99", "logicBind": "n", "conidex": "*"}
    body = alert_body(alertName="Cushion", alertMessage="cushion at or under 99%",
                      conditions=[margin])  # fmt: skip
    created = await call(http, "POST", f"{base}/iserver/account/{ACCT}/alert", json=body)
    alert_id = created["order_id"]
    detail = await call(http, "GET", f"{base}/iserver/account/alert/{alert_id}?type=Q")
    (shown,) = detail["conditions"]
    assert shown["condition_type"] == 4 and shown["condition_value"] == "99"
    assert shown["conidex"] is None and detail["alert_triggered"] is False
    # 1,000 shares at 199.02: maintenance 25% of ~199,010 against ~1,000,000 of net
    # liquidation leaves a cushion of ~95%, at or under 99%.
    order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1000, "tif": "DAY"}
    [ack] = await place_confirmed(http, base, order)
    assert ack["order_status"] == "Filled", ack
    notice = await ws.recv_until(
        lambda f: f.get("topic") == "ntf" and f["args"][0].get("alertId") == alert_id
    )
    (args,) = notice["args"]
    assert args["title"] == "Cushion" and args["text"] == "cushion at or under 99%"
    assert fixed.gateway.alerts.get(alert_id).fired == 1
    figures = await call(http, "GET", f"{base}/portfolio/{ACCT}/summary")
    nav = Decimal(str(figures["netliquidation"]["amount"]))
    excess = Decimal(str(figures["excessliquidity"]["amount"]))
    assert excess / nav * 100 <= 99
