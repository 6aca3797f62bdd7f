"""REST: market data snapshots (with the pre-flight rule), unsubscribes and history bars."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tickgate.clock import NS_PER_MS
from tickgate.errors import RequestError
from tickgate.market.history.payload import Shape, history_payload
from tickgate.market.history.query import default_bar, parse_bar, parse_period
from tickgate.model.instruments import invalid_conid
from tickgate.protocol import fields as F
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import (
    Handler,
    HttpError,
    error_response,
    int_list,
    json_body,
    json_response,
    parse_int,
    query_bool,
    query_int,
)

SNAPSHOT_CONIDS = 100
SNAPSHOT_FIELDS = 50
ALWAYS = (F.SERVER_ID, F.AVAILABILITY)


def require_primed(gateway: Gateway) -> None:
    """Refuse market data until `/iserver/accounts` primed the session (reference §10.1)."""
    if gateway.config.require_priming and not gateway.session.primed:
        raise HttpError("Please query /accounts first", status=500)


def requested_fields(raw: str | None) -> tuple[int, ...] | None:
    """Field ids of a `fields=` parameter; unknown ids are refused by name."""
    if raw is None or not raw.strip():
        return None
    ids = int_list(raw, "fields", limit=SNAPSHOT_FIELDS)
    unknown = [fid for fid in ids if fid not in F.KNOWN_FIELDS]
    if unknown:
        raise RequestError(f"unknown field id {', '.join(map(str, unknown))} in fields")
    return tuple(ids)


async def snapshot(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    require_primed(gateway)
    conids, fields = snapshot_query(request)
    return json_response([_snapshot_row(gateway, conid, fields) for conid in conids])


def snapshot_query(request: web.Request) -> tuple[list[int], tuple[int, ...] | None]:
    """The `conids` (each an instrument) and `fields` (None: not given) of a snapshot request.
    Raises RequestError naming what is missing, malformed or unknown."""
    gateway = gateway_of(request)
    raw_conids = request.query.get("conids")
    if raw_conids is None:
        raise RequestError("missing required parameter 'conids'")
    conids = int_list(raw_conids, "conids", limit=SNAPSHOT_CONIDS)
    fields = requested_fields(request.query.get("fields"))
    for conid in conids:
        if gateway.catalogue.find(conid) is None:
            raise RequestError(invalid_conid(conid))
    return conids, fields


def _snapshot_row(gateway: Gateway, conid: int, fields: tuple[int, ...] | None) -> dict[str, Any]:
    session = gateway.session
    row: dict[str, Any] = {"conid": conid, "conidEx": str(conid)}
    if conid not in session.preflighted:
        # The first request only opens the stream, like the real gateway: ids, no data.
        session.preflighted[conid] = fields or F.DEFAULT_FIELDS
        return row
    if fields is not None:
        session.preflighted[conid] = fields
    row.update(market_values(gateway, conid, session.preflighted[conid]))
    return row


def market_values(gateway: Gateway, conid: int, fields: tuple[int, ...]) -> dict[str, Any]:
    """The market engine's current values of `fields` for `conid` in the snapshot's wire form
    (ids as keys, with `_updated` epoch ms and `server_id`); fields without a value are left
    out."""
    values = gateway.market.snapshot(conid, fields + ALWAYS)
    row: dict[str, Any] = {str(fid): value for fid, value in F.wire_values(values).items()}
    updated = gateway.market.updated_ns(conid)
    row["_updated"] = (updated or gateway.clock.now_ns()) // NS_PER_MS
    row["server_id"] = values.get(F.SERVER_ID, "q0")
    return row


async def unsubscribe(request: web.Request) -> web.Response:
    body = await json_body(request)
    if "conid" not in body:
        raise RequestError("missing required field 'conid'")
    conid = parse_int(body["conid"], "conid")
    if gateway_of(request).session.preflighted.pop(conid, None) is None:
        # ibind tolerates exactly 404 here (reference §8.4).
        return error_response("unknown", status=404)
    return json_response({"success": True})


async def unsubscribe_legacy(request: web.Request) -> web.Response:
    conid = parse_int(request.match_info["conid"], "conid")
    if gateway_of(request).session.preflighted.pop(conid, None) is None:
        return error_response("unknown", status=404)
    return json_response({"confirmed": "success"})


async def unsubscribe_all(request: web.Request) -> web.Response:
    gateway_of(request).session.preflighted.clear()
    return json_response({"unsubscribed": True})


async def history(request: web.Request) -> web.Response:
    """Bars from the simulator's own history (reference §8.4)."""
    return json_response(await history_answer(request))


async def history_answer(
    request: web.Request, *, bar_required: bool = False, shape: Shape = history_payload
) -> dict[str, Any]:
    """The bars the request's query asks for (conid, period, bar, startTime, outsideRth,
    source), in `shape` (`/iserver/marketdata/history`'s by default).

    Raises RequestError for bad input, and for no bars ("No data.").
    """
    gateway, query = gateway_of(request), request.query
    conid = query_int(request, "conid")
    instrument = gateway.catalogue.find(conid)
    if instrument is None:
        raise RequestError(invalid_conid(conid))
    period_text = query.get("period", "1w")
    period = parse_period(period_text)
    bar_text = query.get("bar")
    if bar_required and not bar_text:
        raise RequestError("missing required parameter 'bar'")
    bar = parse_bar(bar_text) if bar_text else default_bar(period)
    outside_rth = query_bool(request, "outsideRth", default=False)
    compute = gateway.history.plan(
        conid,
        period=period,
        bar=bar,
        start_time=query.get("startTime") or None,
        outside_rth=outside_rth,
        source=query.get("source", "trades").lower(),
    )
    with gateway.history_slots.take():
        # Long windows take 100+ ms: compute them off the event loop so streams keep flowing.
        bars = await asyncio.get_running_loop().run_in_executor(None, compute)
    return shape(
        instrument,
        bars,
        period=period,
        bar=bar,
        outside_rth=outside_rth,
        server_id=str(next(gateway.ids.history_server_ids)),
        end_ns=gateway.clock.now_ns(),
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/iserver/marketdata/history", history),
    ("GET", "/iserver/marketdata/snapshot", snapshot),
    ("POST", "/iserver/marketdata/unsubscribe", unsubscribe),
    ("GET", "/iserver/marketdata/unsubscribeall", unsubscribe_all),
    ("GET", "/iserver/marketdata/{conid}/unsubscribe", unsubscribe_legacy),
]
