"""REST: the user's watchlists (`/iserver/watchlists`, `GET|POST|DELETE /iserver/watchlist`) in
IBKR's shapes, kept by `tickgate.market.watchlists`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.market.watchlists import Row, Watchlist, Watchlists
from tickgate.protocol.rest_values import shown
from tickgate.server.http import Handler, HttpError, json_body, json_response, parse_int

log = logging.getLogger("tickgate.watchlists")

_WATCHLISTS = web.AppKey("watchlists", Watchlists)
#: IBKR numbers these answers with a message id that grows per answer (per gateway).
_MESSAGE_IDS: web.AppKey[Iterator[int]] = web.AppKey("watchlist_message_ids")
USER_WATCHLIST = "USER_WATCHLIST"


def install(app: web.Application, watchlists: Watchlists, *, message_ids: Iterator[int]) -> None:
    """Give `app` the watchlists its routes serve and the sequence their answers' MIDs take."""
    app[_WATCHLISTS] = watchlists
    app[_MESSAGE_IDS] = message_ids


def _message_id(request: web.Request) -> str:
    message_ids = request.app[_MESSAGE_IDS]
    return str(next(message_ids))


def _watchlists(request: web.Request) -> Watchlists:
    return request.app[_WATCHLISTS]


def _saved(action: str) -> HttpError:
    return HttpError(f"could not save the watchlists ({action})", status=500)


async def list_all(request: web.Request) -> web.Response:
    """Every user watchlist, newest change last (`SC=USER_WATCHLIST` is the only scope)."""
    scope = request.query.get("SC", USER_WATCHLIST)
    if scope.upper() != USER_WATCHLIST:
        raise RequestError(f"SC must be {USER_WATCHLIST}, got {shown(scope)}")
    user_lists = [
        {
            "is_open": False,
            "read_only": False,
            "name": w.name,
            "modified": w.modified_ms,
            "id": w.id,
            "type": "watchlist",
        }
        for w in _watchlists(request).all()
    ]
    return json_response(
        {
            "data": {
                "scanners_only": False,
                "show_scanners": False,
                "bulk_delete": False,
                "user_lists": user_lists,
            },
            "action": "content",
            "MID": _message_id(request),
        }
    )


def _query_id(request: web.Request) -> str:
    raw = request.query.get("id")
    if raw is None or not raw.strip():
        raise RequestError("missing required parameter 'id'")
    return raw.strip()


async def get_one(request: web.Request) -> web.Response:
    watchlists = _watchlists(request)
    return json_response(_payload(watchlists, watchlists.get(_query_id(request))))


def _payload(watchlists: Watchlists, watchlist: Watchlist) -> dict[str, Any]:
    instruments: list[dict[str, Any]] = []
    for row in watchlist.rows:
        if row.conid is None:
            instruments.append({"H": row.header})
            continue
        instrument = watchlists.instrument(row.conid)
        if instrument is None:  # a catalogue file changed since: keep the row, say what is known
            instruments.append({"C": str(row.conid), "conid": row.conid})
            continue
        kind = instrument.sec_type.value
        instruments.append(
            {
                "ST": kind,
                "C": str(row.conid),
                "conid": row.conid,
                "name": instrument.name,
                "fullName": instrument.symbol,
                "assetClass": kind,
                "ticker": instrument.symbol,
            }
        )
    return {
        "id": watchlist.id,
        "hash": str(watchlist.modified_ms),
        "name": watchlist.name,
        "readOnly": False,
        "instruments": instruments,
    }


def _rows(raw: object) -> list[Row]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError("rows must be a list of {C: conid} or {H: header} objects")
    rows = []
    for item in raw:
        if isinstance(item, dict) and set(item) == {"C"}:
            rows.append(Row(conid=parse_int(item["C"], "C")))
        elif isinstance(item, dict) and set(item) == {"H"} and isinstance(item["H"], str):
            rows.append(Row(header=item["H"]))
        else:
            raise RequestError(f"a row is {{C: conid}} or {{H: header}}, got {shown(item)}")
    return rows


async def create(request: web.Request) -> web.Response:
    """Create (or replace) the watchlist of the body's `id`."""
    body = await json_body(request)
    raw_id, name = body.get("id"), body.get("name")
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise RequestError("missing or invalid field 'id': a number (or its text)")
    if not isinstance(name, str):
        raise RequestError("missing or invalid field 'name': a string")
    watchlists = _watchlists(request)
    try:
        watchlist = watchlists.put(str(raw_id), name, _rows(body.get("rows")))
    except OSError as exc:
        log.error("saving watchlist %s failed: %s", raw_id, exc)
        raise _saved("create") from None
    log.info("watchlist %s saved (%d rows)", watchlist.id, len(watchlist.rows))
    return json_response(_payload(watchlists, watchlist))


async def _delete_id(request: web.Request) -> str:
    """The id to delete: `?id=` wins; else the JSON body's `id` (ibind sends `{"id": "77"}`)."""
    if "id" in request.query or not request.body_exists:
        return _query_id(request)
    raw_id = (await json_body(request)).get("id")
    if raw_id is None:
        raise RequestError("missing required parameter 'id' (in the query or the JSON body)")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        raise RequestError(f"invalid field 'id': a number (or its text), got {shown(raw_id)}")
    return str(raw_id).strip()


async def delete(request: web.Request) -> web.Response:
    """Delete the watchlist of `id`, given in the query or the JSON body."""
    watchlist_id = await _delete_id(request)
    try:
        _watchlists(request).delete(watchlist_id)
    except OSError as exc:
        log.error("deleting watchlist %s failed: %s", watchlist_id, exc)
        raise _saved("delete") from None
    return json_response(
        {"data": {"deleted": watchlist_id}, "action": "context", "MID": _message_id(request)}
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/iserver/watchlists", list_all),
    ("GET", "/iserver/watchlist", get_one),
    ("POST", "/iserver/watchlist", create),
    ("DELETE", "/iserver/watchlist", delete),
]
