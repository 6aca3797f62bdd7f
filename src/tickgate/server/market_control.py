"""Control of the simulated market for tests and demos: halts, session close/open, status.

These routes are tickgate's own (under `/tickgate/`), not IBKR's: they let a test put the market
in the states a bot must survive — a halted instrument (last price `H...`), a closed session
(last price `C...`, DAY orders expired, MOC/LOC filled) — at a moment of its choosing.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from aiohttp import web

from tickgate import __version__
from tickgate.clock import NS_PER_MS
from tickgate.errors import RequestError
from tickgate.model.instruments import invalid_conid
from tickgate.model.ticks import Tick
from tickgate.server import relay_control
from tickgate.server.faults.rest import FAULTS
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import HttpError, json_response, parse_int
from tickgate.sources.simulator.market import MarketSimulator

log = logging.getLogger("tickgate.control")


def _simulator(gateway: Gateway) -> MarketSimulator:
    if gateway.simulator is None:
        raise HttpError("the market source is not the simulator: nothing to control", status=409)
    return gateway.simulator


def _publish(gateway: Gateway, ticks: list[Tick]) -> int:
    for tick in ticks:
        gateway.bus.publish(tick)
    return len(ticks)


async def halt(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    conid = parse_int(request.match_info["conid"], "conid")
    if gateway.catalogue.find(conid) is None:
        raise RequestError(invalid_conid(conid))
    changed = _publish(gateway, _simulator(gateway).halt(conid))
    log.info("halted %d", conid)
    return json_response({"conid": conid, "halted": True, "ticks": changed})


async def resume(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    conid = parse_int(request.match_info["conid"], "conid")
    if gateway.catalogue.find(conid) is None:
        raise RequestError(invalid_conid(conid))
    changed = _publish(gateway, _simulator(gateway).resume(conid))
    return json_response({"conid": conid, "halted": False, "ticks": changed})


async def session_close(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    _simulator(gateway)
    gateway.days.close_day(gateway.clock.now_ns())
    log.info("session closed on request")
    return json_response({"session": "closed"})


async def session_open(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    _publish(gateway, _simulator(gateway).open_session(gateway.clock.now_ns()))
    return json_response({"session": "open"})


async def status(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    hub = gateway.hub.stats()
    payload: dict[str, Any] = {
        "version": __version__,
        "source": gateway.config.source if gateway.simulator is None else "simulator",
        "seed": gateway.config.seed,
        "ticksPerSecond": gateway.config.ticks_per_second,
        "sessionOpen": None if gateway.simulator is None else gateway.simulator.session_open,
        "marketHours": gateway.hours.mode.value,
        "markets": markets_now(gateway),
        "instruments": len(gateway.catalogue),
        "connections": len(gateway.connections),
        "channels": hub.channels,
        "subscriptions": hub.subscriptions,
        "marketDataLines": gateway.hub.lines_in_use(),
        "brokerage": dataclasses.asdict(gateway.session.status()),
        "health": gateway.market.health.report(),
        "faults": request.app[FAULTS].describe(),
    }
    relay = request.app.get(relay_control.RELAY)
    if relay is not None:
        payload["relay"] = relay.as_json()
    return json_response(payload)


def markets_now(gateway: Gateway) -> list[dict[str, Any]]:
    """Each calendar in use with its phase now and its next change (epoch ms)."""
    now = gateway.clock.now_ns()
    return [
        {
            "name": calendar.name,
            "timeZone": calendar.zone.key,
            "phase": calendar.phase(now).value,
            "nextChange": calendar.next_change_ns(now) // NS_PER_MS,
            "instruments": len(gateway.hours.conids(calendar)),
        }
        for calendar in gateway.hours.calendars
    ]


def add_routes(app: web.Application) -> None:
    """Register the control routes under `/tickgate/`."""
    app.router.add_get("/tickgate/status", status)
    app.router.add_post("/tickgate/market/{conid}/halt", halt)
    app.router.add_post("/tickgate/market/{conid}/resume", resume)
    app.router.add_post("/tickgate/session/close", session_close)
    app.router.add_post("/tickgate/session/open", session_open)
