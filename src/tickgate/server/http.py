"""Small HTTP helpers shared by the REST modules: JSON responses, query parsing, route tables."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import orjson
from aiohttp import web

from tickgate.errors import RequestError, TickgateError
from tickgate.protocol.rest_values import ascii_int, shown

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A table of REST routes: (method, path, handler); see `add_routes`.
Routes = Sequence[tuple[str, str, Handler]]
#: A middleware written as a plain function: it checks the request and hands back either the
#: next handler's own awaitable or `answered(refusal)`. Unlike an `async def` middleware that
#: awaits the handler, it leaves no frame alive for as long as the request runs, which for a
#: WebSocket is the connection's lifetime (a few hundred bytes per middleware and socket).
PassMiddleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

#: The gateway serves every REST route under both prefixes, like the real one.
PREFIXES = ("/v1/api", "/v1/portal")


class HttpError(TickgateError):
    """A refusal only the HTTP edge makes (429 too many at once, 409 wrong source, ...): it
    carries its own `status`; the core's errors get theirs from `tickgate.server.errors`."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def json_response(payload: Any, *, status: int = 200) -> web.Response:
    """A JSON response serialised with orjson (Decimal-free payloads only)."""
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def error_response(message: str, *, status: int, **extra: Any) -> web.Response:
    """The API's error shape: `{"error": "...", ...}` with an HTTP status."""
    return json_response({"error": message, **extra}, status=status)


async def answered(response: web.StreamResponse) -> web.StreamResponse:
    """`response` as the awaitable a plain-function middleware (`PassMiddleware`) returns."""
    return response


def add_routes(app: web.Application, routes: Iterable[tuple[str, str, Handler]]) -> None:
    """Register (method, path, handler) under every prefix; '*' methods mean GET and POST."""
    for method, path, handler in routes:
        methods = ("GET", "POST") if method == "*" else (method,)
        for prefix in PREFIXES:
            for verb in methods:
                # Clients differ on trailing slashes (ibind asks for `iserver/account/trades/`).
                app.router.add_route(verb, prefix + path, handler)
                app.router.add_route(verb, prefix + path + "/", handler)


def query_bool(request: web.Request, name: str, *, default: bool) -> bool:
    """A boolean query parameter, accepting Python-style `True`/`False` as ibind sends them."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise RequestError(f"{name} must be true or false, got {shown(raw)}")


def query_int(request: web.Request, name: str, *, default: int | None = None) -> int:
    """A required (or defaulted) integer query parameter."""
    raw = request.query.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise RequestError(f"missing required parameter {name!r}")
        return default
    return parse_int(raw, name)


def parse_int(raw: object, name: str) -> int:
    """A 64-bit integer from a query string, path segment or JSON value: ASCII digits only
    (surrounding ASCII spaces allowed); bools, fractions, `"١"`, `"²"` and `"1_0"` are refused
    with RequestError (400)."""
    text = raw.strip(" \t") if isinstance(raw, str) else raw
    return ascii_int(text, name, minimum=-(2**63), maximum=2**63 - 1)


def int_list(raw: str, name: str, *, limit: int) -> list[int]:
    """A comma-separated list of integers, at most `limit` of them, duplicates removed in order."""
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if not items:
        raise RequestError(f"{name} must list at least one value")
    values = list(dict.fromkeys(parse_int(item, name) for item in items))
    if len(values) > limit:
        raise RequestError(f"too many {name}: at most {limit} per request, got {len(values)}")
    return values


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty). Raises RequestError on bad JSON (a body
    of blanks only is bad JSON, not an empty body)."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


async def param(request: web.Request, name: str) -> str | None:
    """A parameter from the query string, or for POST from the JSON body (both styles exist).

    A body value must be a string, number or boolean; a list or object is a RequestError (400).
    """
    if name in request.query:
        return request.query[name]
    if request.method == "POST" and request.body_exists:  # still true once the body is read
        value = (await json_body(request)).get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise RequestError(f"{name} must be a string, got {shown(value)}")
        return str(value)
    return None


class Slots:
    """At most `limit` requests of a kind at once; one more gets a 429 with `message`."""

    def __init__(self, limit: int, message: str) -> None:
        self.limit = limit
        self.message = message
        self.in_use = 0

    @contextlib.contextmanager
    def take(self) -> Iterator[None]:
        """Hold a slot for the `with` block. Raises HttpError(429) when none is free."""
        if self.in_use >= self.limit:
            raise HttpError(self.message, status=429)
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
