"""The OpenAPI document against the route table: every served route has an entry, every entry
is served, and the document is valid OpenAPI 3.1 served under both prefixes."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import schemathesis
from aiohttp import web
from tests.conftest import call, make_config

from tickgate.server.app import RunningServer, build_app
from tickgate.server.openapi.document import UNDOCUMENTED, build, document_bytes, operations
from tickgate.server.openapi.schema import OWN, STRING, obj, op

HOW_TO_ADD = "add an entry to the area's module in src/tickgate/server/openapi/ (see its __init__)"


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route `app` serves, less HEAD (aiohttp adds it beside GET),
    trailing-slash aliases and the routes the document leaves out on purpose."""
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    served = set()
    for method, path in routes:
        if method == "HEAD" or path in UNDOCUMENTED:
            continue
        if path != "/" and path.endswith("/"):
            assert (method, path.rstrip("/")) in routes, f"{method} {path} aliases nothing"
            continue
        served.add((method, path))
    return served


def documented_routes(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {(verb.upper(), path) for path, item in paths.items() for verb in item}


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    return build_app(make_config(tmp_path, store="memory"))


def test_every_served_route_has_an_entry_and_every_entry_is_served(app: web.Application) -> None:
    served, documented = served_routes(app), documented_routes(build(operations()))
    missing = sorted(served - documented)
    assert not missing, f"served but not in the OpenAPI document ({HOW_TO_ADD}): {missing}"
    stale = sorted(documented - served)
    assert not stale, f"in the OpenAPI document but not served: {stale}"
    assert len(served) > 100  # the walk saw the whole table, both prefixes


def test_the_walk_finds_a_route_without_an_entry(app: web.Application) -> None:
    async def handler(_request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/v1/api/iserver/not-yet-documented", handler)
    missing = served_routes(app) - documented_routes(build(operations()))
    assert missing == {("GET", "/v1/api/iserver/not-yet-documented")}


def test_client_portal_entries_are_listed_under_both_prefixes() -> None:
    paths = build(operations())["paths"]
    for entry in operations():
        if entry.prefixes != OWN:
            verb = entry.method.lower()
            assert (
                verb in paths[f"/v1/api{entry.path}"] and verb in paths[f"/v1/portal{entry.path}"]
            )


def test_the_document_is_valid_openapi_3_1_with_unique_operation_ids() -> None:
    document = build(operations())
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.1 meta-schema
    ids = [o["operationId"] for item in document["paths"].values() for o in item.values()]
    assert len(ids) == len(set(ids))


def test_every_link_names_an_operation_of_the_document() -> None:
    document = build(operations())
    ids = {o["operationId"] for item in document["paths"].values() for o in item.values()}
    targets = [
        link["operationId"]
        for item in document["paths"].values()
        for o in item.values()
        for answer in o["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert targets
    assert set(targets) <= ids


def test_two_entries_for_one_method_and_path_are_refused() -> None:
    twice = op("GET", "/x", "x", ok=obj({"a": STRING}), prefixes=OWN) * 2
    with pytest.raises(ValueError, match="two entries for GET /x"):
        build(twice)


def test_an_optional_key_that_is_not_a_property_is_refused() -> None:
    with pytest.raises(ValueError, match="optional names keys"):
        obj({"a": STRING}, optional=("b",))


async def test_served_under_both_prefixes(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    for prefix in ("/v1/api", "/v1/portal"):
        async with http.get(f"{server.base_url}{prefix}/openapi.json") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert await response.read() == document_bytes()
    document = await call(http, "GET", f"{server.base_url}/v1/api/openapi.json")
    assert document["openapi"] == "3.1.0"
    snapshot = document["paths"]["/v1/api/iserver/marketdata/snapshot"]["get"]
    assert {p["name"] for p in snapshot["parameters"]} == {"conids", "fields"}
    assert set(snapshot["responses"]) >= {"200", "400", "401", "403"}
