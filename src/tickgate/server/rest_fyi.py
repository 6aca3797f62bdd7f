"""REST: FYI notifications (`/fyi/notifications`, `/fyi/unreadnumber`, `/fyi/settings`,
`/fyi/deliveryoptions`, `/fyi/disclaimer`) in IBKR's shapes, from the gateway's `FyiCenter`.

Every edit answers IBKR's acknowledgement `{"T": ms it took, "V": 1}`.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tickgate.clock import NS_PER_S
from tickgate.errors import RequestError
from tickgate.protocol.rest_values import json_bool, printable_text
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_body, json_response, query_int
from tickgate.trading.fyi import Device, FyiCenter, Notification, typecode


def _fyi(request: web.Request) -> FyiCenter:
    return gateway_of(request).fyi


def _row(notification: Notification) -> dict[str, Any]:
    return {
        "D": f"{notification.at_ns // NS_PER_S}.0",
        "FC": notification.code,
        "HT": 0,
        "ID": notification.notification_id,
        "MD": notification.body,
        "MS": notification.title,
        "R": int(notification.read),
    }


def _codes(request: web.Request, name: str) -> list[str]:
    return [code for raw in request.query.getall(name, []) for code in raw.split(",")]


def _acknowledged(started: float, **extra: Any) -> web.Response:
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    return json_response({**extra, "T": elapsed_ms, "V": 1})


async def notifications(request: web.Request) -> web.Response:
    """The newest notifications (`max` 1 to 10), filtered by `include`/`exclude` typecodes,
    older than `id` when given (the next page)."""
    before = request.query.get("id") or None
    found = _fyi(request).notifications(
        limit=query_int(request, "max", default=10),
        include=_codes(request, "include"),
        exclude=_codes(request, "exclude"),
        before=before,
    )
    return json_response([_row(n) for n in found])


async def more(request: web.Request) -> web.Response:
    """The older route for the next page: the notifications older than `id`."""
    before = request.query.get("id")
    if not before:
        raise RequestError("missing required parameter 'id'")
    found = _fyi(request).notifications(limit=10, before=before)
    return json_response([_row(n) for n in found])


async def mark_read(request: web.Request) -> web.Response:
    started = time.perf_counter()
    marked = _fyi(request).mark(request.match_info["notification_id"])
    return _acknowledged(started, P={"ID": marked.notification_id, "R": int(marked.read)})


async def unread(request: web.Request) -> web.Response:
    return json_response({"BN": _fyi(request).unread()})


async def settings(request: web.Request) -> web.Response:
    rows = [
        {"A": int(enabled), "FC": code, "FD": description, "FN": title, "H": int(read)}
        for code, title, description, enabled, read in _fyi(request).settings()
    ]
    return json_response(rows)


async def set_setting(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await json_body(request)
    if "enabled" not in body:
        raise RequestError("missing required field 'enabled': {\"enabled\": true|false}")
    _fyi(request).set_enabled(request.match_info["typecode"], json_bool(body["enabled"], "enabled"))
    return _acknowledged(started)


async def delivery_options(request: web.Request) -> web.Response:
    fyi = _fyi(request)
    devices = [
        {"NM": d.name, "I": d.device_id, "UI": d.ui_name, "A": int(d.enabled)}
        for d in fyi.devices()
    ]
    return json_response({"M": int(fyi.email), "E": devices})


async def set_email(request: web.Request) -> web.Response:
    started = time.perf_counter()
    raw = request.query.get("enabled")
    if raw is None:
        raise RequestError("missing required parameter 'enabled' (true or false)")
    _fyi(request).set_email(json_bool(raw, "enabled"))
    return _acknowledged(started)


async def set_device(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await json_body(request)
    device_id = printable_text(body.get("deviceId"), "deviceId", max_length=200)
    if "enabled" not in body:
        raise RequestError("missing required field 'enabled' (true or false)")
    name = device_id if body.get("deviceName") is None else body["deviceName"]
    ui_name = device_id if body.get("uiName") is None else body["uiName"]
    device = Device(
        device_id,
        printable_text(name, "deviceName", max_length=200),
        printable_text(ui_name, "uiName", max_length=200),
        json_bool(body["enabled"], "enabled"),
    )
    _fyi(request).set_device(device)
    return _acknowledged(started)


async def delete_device(request: web.Request) -> web.Response:
    _fyi(request).delete_device(request.match_info["device_id"])
    return web.Response(text="")  # IBKR answers an empty body


async def disclaimer(request: web.Request) -> web.Response:
    code = typecode(request.match_info["typecode"])
    return json_response({"DT": _fyi(request).disclaimer(code), "FC": code})


async def read_disclaimer(request: web.Request) -> web.Response:
    started = time.perf_counter()
    _fyi(request).read_disclaimer(request.match_info["typecode"])
    return _acknowledged(started)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/fyi/notifications", notifications),
    ("GET", "/fyi/notifications/more", more),
    ("PUT", "/fyi/notifications/{notification_id}", mark_read),
    ("GET", "/fyi/unreadnumber", unread),
    ("GET", "/fyi/settings", settings),
    ("POST", "/fyi/settings/{typecode}", set_setting),
    ("GET", "/fyi/deliveryoptions", delivery_options),
    ("PUT", "/fyi/deliveryoptions/email", set_email),
    ("POST", "/fyi/deliveryoptions/device", set_device),
    ("DELETE", "/fyi/deliveryoptions/{device_id}", delete_device),
    ("GET", "/fyi/disclaimer/{typecode}", disclaimer),
    ("PUT", "/fyi/disclaimer/{typecode}", read_disclaimer),
]
