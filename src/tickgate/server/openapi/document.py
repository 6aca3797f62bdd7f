"""The document itself: every area's entries under the prefixes they are served at, with the
answers every route can give (access refusals, pacing, deadlines) added once here."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import orjson

from tickgate import __version__
from tickgate.server.openapi import (
    account,
    alerts,
    allocation,
    analyst,
    contracts,
    control,
    fa_models,
    fyi,
    marketdata,
    orders,
    portfolio,
    scanner,
    service,
    session,
    watchlists,
)
from tickgate.server.openapi.schema import ERROR, JsonSchema, Operation

#: One module per route area, each with its `OPERATIONS`; a new area module is listed here.
AREAS = (
    session, account, contracts, marketdata, orders, portfolio, analyst, scanner, watchlists,
    alerts, allocation, fa_models, fyi, control, service,
)  # fmt: skip

#: Served routes the document leaves out, and why (the route-coverage test reads this).
UNDOCUMENTED = {
    "/v1/api/ws": "the WebSocket upgrade of today's dialect: docs/protocol.md describes it",
    "/v1/portal/ws": "the WebSocket upgrade of the portal dialect: docs/protocol.md",
    "/{tail}": "the catch-all that answers 404 for every unknown path",
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
#: Marks an operation whose refusals (a well-formed request the engine declines) are HTTP 200
#: `{"error": ...}`, as IBKR answers order placement, preview, modification and cancellation.
REFUSAL_EXTENSION = "x-tickgate-refusal-status"
#: Answers any route can give, whatever it does (see README "Security" and "Configuration").
COMMON_ERRORS = {
    401: "an access token is required (`--auth-token`); or, for `/iserver` routes, the "
    "brokerage session is logged out",
    403: "refused by the access rules: client address, Host, or a cross-origin request",
    429: "REST pacing (`--rest-pacing`): too many requests",
}
BODY_ERRORS = {
    408: "the request body did not arrive in time",
    413: "the request body is larger than 1 MiB",
}
DESCRIPTION = """\
The REST routes of tickgate: IBKR's Client Portal Web API (served under both `/v1/api` and
`/v1/portal`, with or without a trailing slash) and tickgate's own control and service
routes. Every refusal is JSON `{"error": "..."}` with the status listed.
Keys beyond the ones listed may appear in any answer. WebSocket endpoints are described in
docs/protocol.md."""


def operations() -> list[Operation]:
    """Every entry of every area, in area order."""
    return [entry for area in AREAS for entry in area.OPERATIONS]


def build(entries: Iterable[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `entries`. Raises ValueError when two entries describe the
    same method on the same path."""
    paths: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for prefix in entry.prefixes:
            item = paths.setdefault(entry.openapi_path(prefix), {})
            verb = entry.method.lower()
            if verb in item:
                raise ValueError(f"two entries for {entry.method} {prefix}{entry.path}")
            item[verb] = _operation(entry, prefix)
    return {
        "openapi": "3.1.0",
        "info": {"title": "tickgate", "version": __version__, "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR}},
    }


def _operation(entry: Operation, prefix: str) -> dict[str, Any]:
    params = entry.path_params() + [p for p in entry.params if p.where == "query"]
    out: dict[str, Any] = {
        "operationId": entry.operation_id(prefix),
        "summary": entry.summary,
        "parameters": [p.to_openapi() for p in params],
        "responses": _responses(entry, prefix),
    }
    if entry.tag:
        out["tags"] = [entry.tag]
    if entry.description:
        out["description"] = entry.description
    if entry.refuses_with_200:
        out[REFUSAL_EXTENSION] = 200
    if entry.body is not None:
        out["requestBody"] = {
            "required": entry.body_required,
            "content": {"application/json": {"schema": entry.body}},
        }
    return out


def _responses(entry: Operation, prefix: str) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": entry.summary}
    if entry.ok is not None:
        ok["content"] = {entry.ok_media: {"schema": entry.ok}}
    else:
        ok["content"] = {entry.ok_media: {}}
    if entry.links:
        suffix = "_portal" if prefix == "/v1/portal" else ""
        ok["links"] = {
            name: {
                "operationId": link.operation_id + suffix,
                "parameters": dict(link.parameters),
                **({"description": link.description} if link.description else {}),
            }
            for name, link in entry.links.items()
        }
    responses: dict[str, Any] = {str(entry.ok_status): ok}
    errors = dict(COMMON_ERRORS)
    if entry.body is not None:
        errors |= BODY_ERRORS
    errors |= entry.errors
    for status in sorted(errors):
        schema: JsonSchema = entry.bodies.get(status, _ERROR_REF)
        responses[str(status)] = {
            "description": errors[status],
            "content": {"application/json": {"schema": schema}},
        }
    return responses


@functools.cache
def document_bytes() -> bytes:
    """The served document, built once (it depends on nothing but the entries)."""
    return orjson.dumps(build(operations()))
