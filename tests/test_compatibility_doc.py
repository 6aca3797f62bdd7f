"""docs/compatibility.md against the route table: each IBKR endpoint it marks served or
partial is routed, each it marks not served is not, and every Client Portal route tickgate
serves has a row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from tests.conftest import StartServer, make_config

from tickgate.server.app import build_app
from tickgate.server.http import PREFIXES

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "compatibility.md"
METHODS = ("GET", "POST", "PUT", "DELETE")
STATUSES = ("served", "partial", "not served")
ROW = re.compile(r"^\| (\w+) \| `([^`]+)` \| (\w+) \| ([a-z ]+) \| ?(.*?) ?\|$")
PLACEHOLDER = re.compile(r"\{[^}]*\}")
#: What a row's placeholders are filled with to ask the router (any other: "1").
SAMPLES = {"accountId": "DU1234567", "conid": "265598"}


@dataclass(frozen=True)
class Row:
    method: str
    endpoint: str
    source: str
    status: str
    notes: str

    @property
    def key(self) -> tuple[str, str]:
        return self.method, PLACEHOLDER.sub("{}", self.endpoint)


def rows() -> list[Row]:
    """Every endpoint row of the page's tables (a row that does not parse fails here)."""
    found = []
    for number, line in enumerate(PAGE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith(tuple(f"| {method} " for method in METHODS)):
            continue
        match = ROW.match(line)
        assert match, f"docs/compatibility.md:{number}: not a row of the endpoint tables"
        found.append(Row(*match.groups()))
    return found


def concrete(endpoint: str) -> str:
    """`endpoint` with its placeholders filled, as a client would call it."""
    return PLACEHOLDER.sub(lambda m: SAMPLES.get(m[0][1:-1], "1"), endpoint)


async def routed(app: web.Application, method: str, path: str) -> bool:
    """Whether the router sends `method path` to a handler of its own (not the catch-all)."""
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    if match.http_exception is not None:
        return False
    resource = match.route.resource
    return resource is not None and resource.canonical != "/{tail}"


def served_client_portal_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path with `{}` placeholders) of every route under the Client Portal prefixes,
    less HEAD and trailing-slash aliases."""
    served = set()
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        for prefix in PREFIXES:
            path = canonical.removeprefix(prefix)
            if path != canonical and route.method != "HEAD" and not path.endswith("/"):
                served.add((route.method, PLACEHOLDER.sub("{}", path)))
    return served


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    return build_app(make_config(tmp_path, store="memory"))


def test_every_row_is_well_formed() -> None:
    found = rows()
    assert len(found) > 100  # both references' lists, not a stray table
    for row in found:
        assert row.status in STATUSES, row
        assert row.source in ("today", "2022", "both", "tickgate"), row
        assert row.endpoint.startswith("/"), row
        if row.status != "served":
            assert row.notes, f"{row.method} {row.endpoint} is {row.status}: say what or why"
    keys = [row.key for row in found]
    assert len(keys) == len(set(keys)), "an endpoint has two rows"


async def test_the_router_tells_a_served_route_from_an_unknown_one(app: web.Application) -> None:
    assert await routed(app, "GET", "/v1/api/iserver/accounts")
    assert await routed(app, "DELETE", f"/v1/portal{concrete('/iserver/account/{a}/order/{b}')}")
    assert not await routed(app, "GET", "/v1/api/iserver/no-such-route")
    assert not await routed(app, "PUT", "/v1/api/iserver/accounts")  # a method it lacks


async def test_each_row_says_what_the_router_does(app: web.Application) -> None:
    wrong = []
    for row in rows():
        for prefix in PREFIXES:
            answered = await routed(app, row.method, prefix + concrete(row.endpoint))
            if answered != (row.status != "not served"):
                said = "not served, but it is routed" if answered else f"{row.status}, but 404"
                wrong.append(f"{row.method} {prefix}{row.endpoint}: the page says {said}")
    assert not wrong, "docs/compatibility.md is out of date:\n" + "\n".join(wrong)


async def test_each_row_marked_not_served_answers_404_over_a_socket(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    """What the page promises a client: 404 `no route for ...`, also where the path serves
    another method (there a wrong method is otherwise a 405)."""
    server = await start(store="memory")
    wrong = []
    for row in rows():
        if row.status != "not served":
            continue
        for prefix in PREFIXES:
            path = prefix + concrete(row.endpoint)
            async with http.request(row.method, server.base_url + path) as response:
                body = await response.json()
                if (response.status, body) != (404, {"error": f"no route for {row.method} {path}"}):
                    wrong.append(f"{row.method} {path}: {response.status} {body}")
    assert not wrong, wrong


def test_every_client_portal_route_tickgate_serves_has_a_row(app: web.Application) -> None:
    listed = {row.key for row in rows() if row.status != "not served"}
    missing = sorted(served_client_portal_routes(app) - listed)
    assert not missing, (
        "served but without a row in docs/compatibility.md (mark IBKR's row served, or add "
        f"one under 'Beyond IBKR's lists'): {missing}"
    )


def test_readme_names_the_page() -> None:
    assert "docs/compatibility.md" in (ROOT / "README.md").read_text(encoding="utf-8")
