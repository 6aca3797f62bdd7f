"""Entries of the service routes: probes, metrics, the page and its assets, and this document
(`health_routes`, `metrics`, `page`, `openapi.routes`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    OWN,
    STRING,
    Operation,
    array,
    obj,
    op,
    path,
)

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/healthz",
        "The process answers",
        ok=obj({"status": STRING}),
        prefixes=OWN,
        tag="service",
    ),
    *op(
        "GET",
        "/readyz",
        "The gateway can serve (its source runs, its store and bus work)",
        ok=obj({"status": STRING}),
        errors={503: "not ready: `reasons` say why"},
        bodies={503: obj({"status": STRING, "reasons": array(STRING)})},
        prefixes=OWN,
        tag="service",
    ),
    *op(
        "GET",
        "/metrics",
        "Prometheus metrics (text exposition format)",
        ok=None,
        ok_media="text/plain",
        prefixes=OWN,
        tag="service",
    ),
    *op(
        "GET",
        "/",
        "The page: console, watchlist, paper trading",
        ok=None,
        ok_media="text/html",
        prefixes=OWN,
        tag="service",
    ),
    *op(
        "GET",
        "/static/{name}",
        "An asset of the page",
        ok=None,
        ok_media="*/*",
        params=(path("name", STRING),),
        errors={404: "no such asset"},
        prefixes=OWN,
        tag="service",
    ),
    *op(
        "GET",
        "/openapi.json",
        "This document",
        ok=obj({"openapi": STRING, "info": obj({}), "paths": obj({})}),
        tag="service",
    ),
]
