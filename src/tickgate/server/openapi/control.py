"""Entries of tickgate's own control routes under `/tickgate/` (not IBKR's): market halts and
sessions, status, connections, replay and recording, fault injection, the token login
(`market_control`, `operator_view`, `replay_control`, `faults.routes`, `login`)."""

from __future__ import annotations

from typing import Any

from tickgate.server.openapi.schema import (
    BOOLEAN,
    CONID,
    INTEGER,
    NUMBER,
    OWN,
    STRING,
    JsonSchema,
    Operation,
    array,
    map_of,
    nullable,
    obj,
    op,
    path,
    query,
)

NOT_SIMULATOR = "the market source is not the simulator"
NOT_REPLAY = "the market source is not a replay"
BAD_BODY = "the body is not a JSON object, has an unknown key, or a value is out of range"

FAULT = obj(
    {"id": INTEGER, "kind": STRING, "callsLeft": nullable(INTEGER), "secondsLeft": nullable(NUMBER)}
)
HALT = obj({"conid": INTEGER, "halted": BOOLEAN, "ticks": INTEGER})
MARKET = obj(
    {
        "name": STRING,
        "timeZone": STRING,
        "phase": STRING,
        "nextChange": INTEGER,
        "instruments": INTEGER,
    }
)
STATUS = obj(
    {
        "version": STRING,
        "source": STRING,
        "seed": INTEGER,
        "ticksPerSecond": NUMBER,
        "sessionOpen": nullable(BOOLEAN),
        "marketHours": STRING,
        "markets": array(MARKET),
        "instruments": INTEGER,
        "connections": INTEGER,
        "channels": INTEGER,
        "subscriptions": INTEGER,
        "marketDataLines": INTEGER,
        "health": obj({"healthy": BOOLEAN, "components": map_of(obj({"healthy": BOOLEAN}))}),
        "faults": array(FAULT),
    }
)
CONNECTIONS = obj(
    {
        "total": INTEGER,
        "shown": INTEGER,
        "connections": array(obj({})),
        "session": obj({"authenticated": BOOLEAN, "marketDataLines": INTEGER}),
        "slowReaderCloses": INTEGER,
        "source": obj({"name": STRING, "started": BOOLEAN, "running": BOOLEAN}),
    }
)
REPLAY = obj(
    {
        "state": STRING,
        "speed": {"anyOf": [NUMBER, STRING]},
        "loop": BOOLEAN,
        "position": nullable(STRING),
        "replayTime": STRING,
        "ticks": INTEGER,
        "files": array(STRING),
    }
)
RECORDING = obj(
    {
        "file": STRING,
        "files": array(STRING),
        "ticks": INTEGER,
        "frames": INTEGER,
        "bytesWritten": INTEGER,
        "failure": nullable(STRING),
    }
)
_SECONDS = {"type": "number", "exclusiveMinimum": 0}
_CALLS = {"type": "integer", "minimum": 1, "maximum": 1_000_000}
_MS = {"type": "number", "minimum": 0}


def _control(method: str, route: str, summary: str, **rest: Any) -> list[Operation]:
    return op(method, route, summary, prefixes=OWN, tag="control", **rest)


def _fault(
    route: str,
    summary: str,
    ok: JsonSchema,
    body: JsonSchema,
    *,
    conflict: str | None = None,
    missing: str | None = None,
) -> list[Operation]:
    errors = {400: BAD_BODY} | ({409: conflict} if conflict else {})
    errors |= {404: missing} if missing else {}
    return op("POST", route, summary, ok=ok, body=body, errors=errors, prefixes=OWN, tag="faults")


OPERATIONS: list[Operation] = [
    *_control(
        "GET", "/tickgate/status", "Version, source, markets, streams, health, faults", ok=STATUS
    ),
    *_control(
        "POST",
        "/tickgate/market/{conid}/halt",
        "Halt an instrument (last price H..., no fills)",
        ok=HALT,
        params=(path("conid", CONID),),
        errors={400: "the conid is malformed or unknown", 409: NOT_SIMULATOR},
    ),
    *_control(
        "POST",
        "/tickgate/market/{conid}/resume",
        "Resume a halted instrument",
        ok=HALT,
        params=(path("conid", CONID),),
        errors={400: "the conid is malformed or unknown", 409: NOT_SIMULATOR},
    ),
    *_control(
        "POST",
        "/tickgate/session/close",
        "Close the trading session now (DAY orders expire, MOC/LOC fill)",
        ok=obj({"session": STRING}),
        errors={409: NOT_SIMULATOR},
    ),
    *_control(
        "POST",
        "/tickgate/session/open",
        "Open the trading session now",
        ok=obj({"session": STRING}),
        errors={409: NOT_SIMULATOR},
    ),
    *_control(
        "GET",
        "/tickgate/connections",
        "Every WebSocket connection's streams, topics, outbox and counters",
        ok=CONNECTIONS,
        params=(query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),),
        errors={400: "limit is not from 1 to 500"},
    ),
    *_control(
        "GET",
        "/tickgate/replay",
        "Replay position, speed and state",
        ok=REPLAY,
        errors={409: NOT_REPLAY},
    ),
    *_control(
        "POST", "/tickgate/replay/pause", "Pause the replay", ok=REPLAY, errors={409: NOT_REPLAY}
    ),
    *_control(
        "POST", "/tickgate/replay/resume", "Resume the replay", ok=REPLAY, errors={409: NOT_REPLAY}
    ),
    *_control(
        "POST",
        "/tickgate/replay/seek",
        "Jump to a time of the recording",
        ok=REPLAY,
        body=obj({"time": STRING}),
        errors={
            400: "time is missing, malformed or outside the replay (its span is named)",
            409: NOT_REPLAY,
        },
    ),
    *_control(
        "POST",
        "/tickgate/replay/speed",
        "Set the replay speed (a factor or max)",
        ok=REPLAY,
        body=obj({"speed": {"anyOf": [NUMBER, STRING]}}),
        errors={400: "speed is missing or malformed", 409: NOT_REPLAY},
    ),
    *_control(
        "GET",
        "/tickgate/recording",
        "What the recorder wrote so far",
        ok=RECORDING,
        errors={409: "the gateway is not recording"},
    ),
    *_control(
        "GET",
        "/tickgate/login",
        "The token login form (303 to the page when no login is needed)",
        ok=None,
        ok_media="text/html",
        description="Answers 303 with `Location: /` when no token is set or the cookie is valid.",
    ),
    *_control(
        "POST",
        "/tickgate/login",
        "Log a browser in with the access token (form or JSON); sets the login cookie",
        ok=obj({"authenticated": BOOLEAN}),
        body=obj({"token": STRING}),
        errors={
            400: "the body is not a JSON object",
            401: "wrong token",
            404: "this gateway has no auth token",
        },
    ),
    *_control(
        "POST",
        "/tickgate/logout",
        "Delete this browser's login cookie",
        ok=obj({"authenticated": BOOLEAN}),
    ),
    *op(
        "GET",
        "/tickgate/faults",
        "Active lasting faults",
        ok=obj({"faults": array(FAULT)}),
        prefixes=OWN,
        tag="faults",
    ),
    *op(
        "DELETE",
        "/tickgate/faults",
        "End every lasting fault",
        ok=obj({"cleared": array(INTEGER)}),
        prefixes=OWN,
        tag="faults",
    ),
    *op(
        "DELETE",
        "/tickgate/faults/{id}",
        "End one lasting fault",
        ok=obj({"cleared": array(INTEGER)}),
        params=(path("id", {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),),
        errors={400: "the id is malformed", 404: "no such fault"},
        prefixes=OWN,
        tag="faults",
    ),
    *op(
        "POST",
        "/tickgate/faults/{id}",
        "Not a fault kind: the 404 names the kinds (each kind has its own route)",
        ok=None,
        errors={404: "no fault kind has this name"},
        prefixes=OWN,
        tag="faults",
    ),
    *_fault(
        "/tickgate/faults/clear",
        'End one lasting fault (`{"id": N}`) or all',
        obj({"cleared": array(INTEGER)}),
        obj({"id": nullable({"type": "integer", "minimum": 1})}, optional=("id",), closed=True),
        missing="no such fault",
    ),
    *_fault(
        "/tickgate/faults/drop",
        "Drop every WebSocket (with a close code, or abort)",
        obj({"dropped": INTEGER, "code": nullable(INTEGER)}),
        obj(
            {
                "code": {"type": "integer", "minimum": 1000, "maximum": 4999},
                "reason": STRING,
                "abort": BOOLEAN,
            },
            optional=("code", "reason", "abort"),
            closed=True,
        ),
    ),
    *_fault(
        "/tickgate/faults/logout",
        "Log the brokerage session out (for `seconds`, or until a client logs in)",
        {"anyOf": [obj({"authenticated": BOOLEAN}), FAULT]},
        obj({"seconds": _SECONDS}, optional=("seconds",), closed=True),
        conflict="the session is already logged out",
    ),
    *_fault(
        "/tickgate/faults/competing",
        "Tell every WebSocket a competing session took over",
        obj({"sockets": INTEGER}),
        obj({}, closed=True),
    ),
    *_fault(
        "/tickgate/faults/expire",
        "Expire every smd stream now",
        obj({"expired": INTEGER}),
        obj({}, closed=True),
    ),
    *_fault(
        "/tickgate/faults/rest",
        "Answer a route (or all) with an error status for some calls or seconds",
        FAULT,
        obj(
            {
                "path": STRING,
                "status": INTEGER,
                "calls": _CALLS,
                "seconds": _SECONDS,
                "retryAfter": INTEGER,
                "error": STRING,
            },
            optional=("path", "calls", "seconds", "retryAfter", "error"),
            closed=True,
        ),
    ),
    *_fault(
        "/tickgate/faults/heartbeat",
        "Stall WebSocket heartbeats for `seconds`",
        FAULT,
        obj({"seconds": _SECONDS}, closed=True),
        conflict="the heartbeat is already stalled",
    ),
    *_fault(
        "/tickgate/faults/latency",
        "Delay REST answers or WebSocket frames",
        FAULT,
        obj(
            {
                "target": STRING,
                "path": STRING,
                "ms": _MS,
                "minMs": _MS,
                "maxMs": _MS,
                "seed": INTEGER,
                "calls": _CALLS,
                "seconds": _SECONDS,
            },
            optional=("target", "path", "ms", "minMs", "maxMs", "seed", "calls", "seconds"),
            closed=True,
        ),
        conflict="WebSocket frames are already delayed",
    ),
]
