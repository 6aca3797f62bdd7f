"""REST: trading alerts (`/iserver/account/{acct}/alert[s]`, `.../alert/activate`,
`/iserver/account/alert/{id}`, `/iserver/account/mta`) in IBKR's shapes, kept and evaluated by
the gateway's `AlertBook`; and the timer that hands it the clock's instants."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from tickgate.clock import NS_PER_S, Clock
from tickgate.errors import RequestError
from tickgate.protocol.rest import alerts as shapes
from tickgate.protocol.rest_values import shown
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_body, json_response
from tickgate.trading.alerts import AlertBook

log = logging.getLogger("tickgate.alerts")

#: The longest the timer sleeps between looks at the book (a new alert may be due sooner).
TIMER_POLL_SECONDS = 0.25
#: The user's mobile trading assistant alert: one per user, of fixed ids.
MTA_ALERT_ID = 1_399_999_999
MTA_TOOL_ID = 55_834_574_848


def _book(request: web.Request) -> AlertBook:
    return gateway_of(request).alerts


async def submit(request: web.Request) -> web.Response:
    """Create an alert, or modify the one of the body's `orderId`."""
    account = request.match_info["account"]
    spec, modifies = shapes.alert_spec(account, await json_body(request))
    alert = _book(request).submit(spec, modifies=modifies)
    log.info("alert %d %s for %s", alert.alert_id, "modified" if modifies else "created", account)
    return json_response(shapes.submitted(alert.alert_id))


async def list_alerts(request: web.Request) -> web.Response:
    alerts = _book(request).alerts(request.match_info["account"])
    return json_response([shapes.list_row(a) for a in alerts])


async def detail(request: web.Request) -> web.Response:
    query_type = request.query.get("type", "Q")
    if query_type != "Q":
        raise RequestError(f"Invalid type: {shown(query_type)}; expected Q")
    book = _book(request)
    alert = book.get(shapes.alert_id(request.match_info["alert_id"]))
    return json_response(shapes.detail(alert, book.describe))


async def activate(request: web.Request) -> web.Response:
    """Activate or deactivate one alert, or every alert of the account for `alertId` 0."""
    body = await json_body(request)
    if "alertId" not in body:
        raise RequestError("missing required field 'alertId'")
    if "alertActive" not in body:
        raise RequestError("missing required field 'alertActive' (1 activates, 0 deactivates)")
    alert_id = shapes.alert_id(body["alertId"])
    active = shapes.flag(body["alertActive"], "alertActive")
    _book(request).activate(request.match_info["account"], alert_id, active)
    return json_response(shapes.acknowledged(alert_id))


async def delete(request: web.Request) -> web.Response:
    """Delete one alert, or every alert of the account for id 0. The MTA alert cannot be
    deleted: IBKR documents a delete of it as resetting it to its defaults, which tickgate's
    MTA alert never leaves, so the answer is the usual acknowledgement and nothing changes."""
    alert_id = shapes.alert_id(request.match_info["alert_id"])
    account = request.match_info["account"]
    if alert_id == MTA_ALERT_ID:
        _book(request).alerts(account)  # an unknown account is refused as for any alert
        log.info("MTA alert reset to its defaults for %s (it has no other state)", account)
        return json_response(shapes.acknowledged(alert_id))
    deleted = _book(request).delete(account, alert_id)
    log.info("alerts deleted: %s", ", ".join(map(str, deleted)) or "none")
    return json_response(shapes.acknowledged(alert_id))


async def mta(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    account = gateway.config.accounts[0]
    return json_response(
        shapes.mta(
            account.account_id, account.base_currency, alert_id=MTA_ALERT_ID, tool_id=MTA_TOOL_ID
        )
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/iserver/account/{account}/alert", submit),
    ("GET", "/iserver/account/{account}/alerts", list_alerts),
    ("POST", "/iserver/account/{account}/alert/activate", activate),
    ("DELETE", "/iserver/account/{account}/alert/{alert_id}", delete),
    ("GET", "/iserver/account/alert/{alert_id}", detail),
    ("GET", "/iserver/account/mta", mta),
]


def install(app: web.Application, book: AlertBook, clock: Clock) -> None:
    """Run the book's timer while `app` runs: time conditions and GTD expiries fire on the
    gateway's clock."""
    app.cleanup_ctx.append(_timer(book, clock))


def _timer(
    book: AlertBook, clock: Clock
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def run(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_tick_time(book, clock))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return run


async def _tick_time(book: AlertBook, clock: Clock) -> None:
    while True:
        now = clock.now_ns()
        due = book.next_due_ns()
        wait = TIMER_POLL_SECONDS
        if due is not None and due <= now:
            try:
                book.on_time(now)  # marks `now` seen: the next due instant is later
                continue
            except Exception:  # a store that refuses a write: logged, tried again next pass
                log.exception("alert timer failed")
        elif due is not None:
            wait = min(wait, (due - now) / NS_PER_S)
        await asyncio.sleep(wait)
