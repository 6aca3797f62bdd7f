"""Control of the simulated market for tests and demos: halts, session close/open, status.

These routes are tickgate's own (under `/tickgate/`), not IBKR's: they let a test put the market
in the states a bot must survive — a halted instrument (last price `H...`), a closed session
(last price `C...`, DAY orders expired, MOC/LOC filled) — at a moment of its choosing.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from tickgate import __version__
from tickgate.errors import RequestError
from tickgate.market.market_hours import Boundary, Mode, Transition
from tickgate.model.ticks import Tick
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import json_response, parse_int
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.trading import sessions

log = logging.getLogger("tickgate.control")


def _simulator(gateway: Gateway) -> MarketSimulator:
    if gateway.simulator is None:
        raise RequestError("the market source is not the simulator: nothing to control", status=409)
    return gateway.simulator


def _publish(gateway: Gateway, ticks: list[Tick]) -> int:
    for tick in ticks:
        gateway.bus.publish(tick)
    return len(ticks)


def close_day(gateway: Gateway, *, reopen: bool) -> None:
    """Close the simulated session: market last prices turn `C...`, DAY orders expire, MOC/LOC
    fill at the close; with `reopen`, a new trading day starts at once (daily rollover)."""
    now = gateway.clock.now_ns()
    if gateway.simulator is not None:
        _publish(gateway, gateway.simulator.close_session(now))
    gateway.trading.close_session(now)
    if reopen and gateway.simulator is not None:
        _publish(gateway, gateway.simulator.open_session(now))


def apply_transition(gateway: Gateway, transition: Transition) -> None:
    """What a session boundary of one calendar does to its instruments: a new day starts at
    the session's start (the market reopens in `exchange` mode), OPG orders fill at the open,
    DAY orders expire and MOC/LOC fill at the close (the US equity close also ends the
    accounts' trading day), and in `exchange` mode the market closes at the session's end."""
    at, conids, simulator = transition.at_ns, transition.conids, gateway.simulator
    boundary = transition.boundary
    if boundary is Boundary.START and simulator is not None:
        _publish(gateway, simulator.start_days(conids, max(at, simulator.now_ns)))
    elif boundary is Boundary.OPEN:
        gateway.trading.open_auction(at, conids=conids)
    elif boundary is Boundary.CLOSE and transition.calendar is sessions.DAY_CALENDAR:
        gateway.trading.close_session(at, conids=conids)
        log.info("trading day closed: DAY orders expired, MOC/LOC filled")
    elif boundary is Boundary.CLOSE:
        gateway.trading.close_market(at, conids=conids)
    elif boundary is Boundary.END and simulator is not None and gateway.hours.mode is Mode.EXCHANGE:
        _publish(gateway, simulator.close_markets(conids, max(at, simulator.now_ns)))
    log.debug("%s %s at %d", transition.calendar.name, boundary.value, at)


async def halt(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    conid = parse_int(request.match_info["conid"], "conid")
    if gateway.catalogue.find(conid) is None:
        raise RequestError(f"Invalid conid {conid}")
    changed = _publish(gateway, _simulator(gateway).halt(conid))
    log.info("halted %d", conid)
    return json_response({"conid": conid, "halted": True, "ticks": changed})


async def resume(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    conid = parse_int(request.match_info["conid"], "conid")
    if gateway.catalogue.find(conid) is None:
        raise RequestError(f"Invalid conid {conid}")
    changed = _publish(gateway, _simulator(gateway).resume(conid))
    return json_response({"conid": conid, "halted": False, "ticks": changed})


async def session_close(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    _simulator(gateway)
    close_day(gateway, reopen=False)
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
        "marketDataLines": gateway.session.lines_in_use(),
        "health": gateway.market.health.report(),
    }
    return json_response(payload)


def markets_now(gateway: Gateway) -> list[dict[str, Any]]:
    """Each calendar in use with its phase now and its next change (epoch ms)."""
    now = gateway.clock.now_ns()
    return [
        {
            "name": calendar.name,
            "timeZone": calendar.zone.key,
            "phase": calendar.phase(now).value,
            "nextChange": calendar.next_change_ns(now) // 1_000_000,
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
