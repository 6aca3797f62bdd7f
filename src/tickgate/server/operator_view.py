"""`GET /tickgate/connections`: what every WebSocket connection holds, for the page's Operator tab.

Read-only and computed when asked from the owners of each piece: the connection (id, peer,
opening time), its outbox (bytes queued, frames and bytes written, conflations), the streaming
hub (market-data streams with fields and tempo, lines in use), the account streams (topics) and
the source's run and health. Nothing here keeps a record of its own.

Bounded: at most `MAX_CONNECTIONS` connections are described (the oldest first), with the total
count beside them, so a gateway holding thousands answers in milliseconds. Like every
`/tickgate/` route it passes the gatekeeper's address, `Host`, origin and token checks.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any

from aiohttp import web

from tickgate.clock import NS_PER_MS
from tickgate.dialects import api, portal
from tickgate.errors import RequestError
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import json_response, parse_int
from tickgate.server.source_run import SOURCE_RUN, SourceRun
from tickgate.server.ws import Connection

CONNECTIONS_PATH = "/tickgate/connections"
#: The most connections one answer describes (`?limit=` may ask for fewer).
MAX_CONNECTIONS = 500
#: WebSocket path -> the dialect its sessions speak (the hub's dialect names).
DIALECT_OF_PATH = {"/v1/portal/ws": portal.DIALECT, "/v1/api/ws": api.DIALECT}


def topic_name(key: Hashable) -> str:
    """An account-stream key as one readable word: `("ssd", "DU1", (), ())` -> `ssd+DU1`.

    Keys are the dialects' own tuples; empty parts (no filters, no keys) are left out and a
    nested tuple reads as a comma list."""
    parts = key if isinstance(key, tuple) else (key,)
    words = []
    for part in parts:
        if part is None or part == ():
            continue
        words.append(",".join(map(str, part)) if isinstance(part, tuple) else str(part))
    return "+".join(words)


def describe_connection(gateway: Gateway, connection: Connection) -> dict[str, Any]:
    """One connection as the operator sees it (see docs/control.md for the members)."""
    outbox = connection.outbox
    stats = outbox.stats
    now = gateway.clock.monotonic_ns()
    streams = [
        {
            "conid": stream.conid,
            "fields": list(stream.fields),
            "tempo": stream.tempo_ms,
            "expiresInMs": None
            if stream.expires_ns is None
            else max(0, stream.expires_ns - now) // NS_PER_MS,
        }
        for stream in gateway.hub.streams_of(outbox)
    ]
    path = connection.path
    return {
        "id": connection.id,
        "dialect": DIALECT_OF_PATH.get(path, path),
        "path": path,
        "peer": connection.peer,
        "openedAt": connection.opened_ns // NS_PER_MS,
        "marketData": streams,
        "marketDataLines": len(streams),
        "accountTopics": sorted(topic_name(k) for k in gateway.accounts.topics_of(outbox)),
        "outboxBytes": stats.pending_bytes,
        "transportBytes": connection.transport.get_write_buffer_size(),
        "framesSent": stats.frames_written,
        "bytesSent": stats.bytes_written,
        "writes": stats.writes,
        "conflated": stats.conflated,
        "closing": outbox.closed,
    }


def describe_source(gateway: Gateway, source: SourceRun) -> dict[str, Any]:
    """The data source's run state and whether every market component is healthy (their
    details are in `/tickgate/status`)."""
    return {
        "name": source.name,
        "started": source.started,
        "running": source.running,
        "healthy": gateway.market.health.report()["healthy"],
    }


def connections_payload(gateway: Gateway, source: SourceRun, limit: int) -> dict[str, Any]:
    """The whole answer: the oldest `limit` connections, the total, the session's lines, the
    source."""
    config = gateway.config
    oldest = heapq.nsmallest(limit, gateway.connections, key=lambda c: (c.opened_ns, c.id))
    return {
        "total": len(gateway.connections),
        "shown": len(oldest),
        "connections": [describe_connection(gateway, c) for c in oldest],
        "session": {
            "authenticated": gateway.session.authenticated,
            "marketDataLines": gateway.hub.lines_in_use(),
            "marketDataLineLimit": config.md_lines,
            "marketDataLinesPerConnection": config.md_lines_per_connection,
        },
        "slowReaderCloses": gateway.traffic.slow_reader_closes,
        "source": describe_source(gateway, source),
    }


async def connections(request: web.Request) -> web.Response:
    """200 with `connections_payload`; 400 for a `limit` that is not 1..MAX_CONNECTIONS."""
    raw = request.query.get("limit")
    limit = MAX_CONNECTIONS if raw is None else parse_int(raw, "limit")
    if not 1 <= limit <= MAX_CONNECTIONS:
        raise RequestError(f"limit must be between 1 and {MAX_CONNECTIONS}, got {limit}")
    payload = connections_payload(gateway_of(request), request.app[SOURCE_RUN], limit)
    return json_response(payload)


def add_routes(app: web.Application) -> None:
    """Register `GET /tickgate/connections`."""
    app.router.add_get(CONNECTIONS_PATH, connections)
