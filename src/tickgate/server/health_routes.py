"""`GET /healthz` (the process answers) and `GET /readyz` (it can serve what clients ask for).

Where they sit in the access rules: both pass the client-address, Host and origin checks like
every route (a probe from another machine needs `--allow-ip`, as any client does), but need no
`--auth-token`, since orchestrators' probes rarely carry one and the answers hold no orders,
accounts or session ids. `/metrics` is not among them: it needs the token when one is set.
"""

from __future__ import annotations

from aiohttp import web

from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import json_response
from tickgate.server.source_run import SOURCE_RUN, SourceRun
from tickgate.server.store_probe import ProbedStore

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
#: Served without the token (see the module docstring).
PROBE_PATHS = frozenset({HEALTHZ_PATH, READYZ_PATH})
SOURCE_TASK = "task source"


def not_ready_reasons(gateway: Gateway, source: SourceRun) -> list[str]:
    """Why `gateway` cannot serve now: its data source is not running or failed recently, its
    order store is closed or failing, or its bus reports no connection. Empty when ready."""
    reasons: list[str] = []
    name = source.name
    if not source.started:
        reasons.append(f"the {name} source has not started")
    elif not source.running:
        reasons.append(f"the {name} source has stopped")
    else:
        component = gateway.market.health.report()["components"].get(SOURCE_TASK)
        if component is not None and not component["healthy"]:
            reasons.append(f"the {name} source failed recently: {component['lastError']}")
    source_problem = source.problem()
    if source_problem is not None:
        reasons.append(source_problem)
    store = gateway.trading.store
    problem = store.problem() if isinstance(store, ProbedStore) else None
    if problem is not None:
        reasons.append(problem)
    # A bus that can lose its connection (NATS) says so; the in-process bus has none to lose.
    if getattr(gateway.bus, "connected", True) is False:
        reasons.append("the bus is not connected")
    return reasons


async def healthz(_request: web.Request) -> web.Response:
    """200 `{"status": "ok"}` whenever the process answers at all."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 `{"status": "ready"}`, or 503 `{"status": "not ready", "reasons": [...]}`."""
    reasons = not_ready_reasons(gateway_of(request), request.app[SOURCE_RUN])
    if reasons:
        return json_response({"status": "not ready", "reasons": reasons}, status=503)
    return json_response({"status": "ready"})


def add_routes(app: web.Application) -> None:
    """Register `/healthz` and `/readyz`."""
    app.router.add_get(HEALTHZ_PATH, healthz)
    app.router.add_get(READYZ_PATH, readyz)
