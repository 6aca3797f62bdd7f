"""Who may talk to the gateway, checked before any handler, pacing or session rule runs.

In order, a request must come from an allowed client address (loopback, or `--allow-ip`), name
the gateway in its `Host` header (so a DNS-rebound name gets nowhere), come from the gateway's
own page or no page at all (so another site open in the same browser can neither trade nor
read), and, when `--auth-token` is set, carry the token or the page's login cookie.

The origin rule is the one that stops a browser: a cross-origin `fetch`, a `text/plain` or form
POST with `mode: "no-cors"`, an `<img>` GET or a WebSocket all reach the server even though the
page cannot read the answer, so the refusal has to happen here, before anything changes. Every
API route is covered, GETs too: `/iserver/accounts` primes the session, a snapshot pre-flights,
`reauthenticate` logs in, and any request between an order question and its reply makes the
reply stale. Only the page itself (`/`, `/static/*`, the login form) may be opened from
anywhere. Requests without `Origin` and `Sec-Fetch-Site` (scripts, bots, ibind) pass this rule.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable
from dataclasses import dataclass

from aiohttp import web

from tickgate import access
from tickgate.config import Config
from tickgate.errors import ConfigError
from tickgate.server import login
from tickgate.server.gateway import GATEWAY
from tickgate.server.health_routes import PROBE_PATHS
from tickgate.server.http import Handler, answered, error_response

log = logging.getLogger("tickgate.access")

#: What a browser on another site may open: the page and its assets (navigations, no state).
PAGE_PREFIXES = ("/static/",)
PAGE_PATHS = frozenset({"/", login.LOGIN_PATH})
WEBSOCKET_PATHS = frozenset({"/v1/portal/ws", "/v1/api/ws"})
#: Fetch metadata values meaning "a page of another origin asked for this".
FOREIGN_SITES = frozenset({"cross-site", "same-site"})
PREFLIGHT_MAX_AGE = "600"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The access rules of one gateway, from its configuration."""

    networks: tuple[access.Network, ...]
    host_names: frozenset[str]
    host_addresses: frozenset[access.Address]
    any_host: bool
    origins: frozenset[str]
    token: str | None

    @classmethod
    def from_config(cls, config: Config) -> AccessPolicy:
        """The policy `config` asks for. Raises ConfigError for a bad entry."""
        names = {"localhost", socket.gethostname().lower(), *config.allow_host}
        if not access.parse_address(config.host) and config.host not in access.WILDCARD_HOSTS:
            names.add(config.host.lower())
        addresses = {
            address
            for address in map(access.parse_address, (config.host, *config.allow_host))
            if address is not None
        }
        return cls(
            networks=access.parse_networks(config.allow_ip),
            host_names=frozenset(names),
            host_addresses=frozenset(addresses),
            any_host="*" in config.allow_host,
            origins=frozenset(config.allow_origin),
            token=config.auth_token,
        )

    def client_allowed(self, request: web.Request) -> bool:
        """The peer is loopback or inside an allowed network (everyone when none are set)."""
        if not self.networks:
            return True
        address = access.parse_address(request.remote or "")
        return address is not None and access.address_allowed(address, self.networks)

    def host_allowed(self, request: web.Request) -> bool:
        """The Host header names this gateway: one of its names, a loopback address, the
        address it was bound to, or the address the request actually arrived on."""
        header = request.headers.get("Host")
        if header is None or self.any_host:
            return True  # no browser omits Host, so without one there is nothing to rebind
        host = access.host_of(header)
        if host in self.host_names:
            return True
        address = access.parse_address(host)
        if address is None:
            return False
        return address.is_loopback or address in self.host_addresses or address == _local(request)

    def origin_refusal(self, request: web.Request) -> str | None:
        """Why a browser page of another origin may not make this request, or None."""
        origin = request.headers.get("Origin")
        if origin is None:
            site = request.headers.get("Sec-Fetch-Site", "").lower()
            if site in FOREIGN_SITES:
                return (
                    f"cross-site request refused (Sec-Fetch-Site: {site}): only this gateway's "
                    "own page may call it from a browser"
                )
            return None
        if self.origin_allowed(origin, request):
            return None
        own = own_origin(request) or "this gateway's own page"
        return (
            f"cross-origin request refused: Origin {origin} is not {own}; a dashboard served "
            "elsewhere needs --allow-origin"
        )

    def origin_allowed(self, origin: str, request: web.Request) -> bool:
        """The origin is the gateway's own page or one named by `--allow-origin`."""
        try:
            normalized = access.normalize_origin(origin)
        except ConfigError:  # `null`, a path, garbage: no page of ours
            return False
        return normalized == own_origin(request) or normalized in self.origins

    def credential_refusal(self, request: web.Request) -> str | None:
        """Why the request lacks the token (when one is configured), or None."""
        if self.token is None:
            return None
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            presented = login.header_token(authorization)
            if presented is not None and login.token_matches(presented, self.token):
                return None
            return "wrong token"
        if login.cookie_valid(request.cookies.get(login.COOKIE), self.token):
            return None
        if request.path in WEBSOCKET_PATHS and _names_session(request):
            return None  # the cookie ibind sends: the session id only a token holder learnt
        return (
            "authentication required: send the gateway's token as 'Authorization: Bearer TOKEN' "
            f"(or as the password of Basic authentication), or log in at {login.LOGIN_PATH}"
        )


ACCESS = web.AppKey("access", AccessPolicy)


def own_origin(request: web.Request) -> str | None:
    """The origin of the gateway's page as the request reached it: scheme and Host."""
    host = request.headers.get("Host") or request.host
    try:
        return access.normalize_origin(f"{request.scheme}://{host}")
    except ConfigError:
        return None


def _local(request: web.Request) -> access.Address | None:
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(sockname, tuple) or not sockname:
        return None
    return access.parse_address(str(sockname[0]))


def _names_session(request: web.Request) -> bool:
    return request.app[GATEWAY].session.matches_cookie(request.cookies.get("api"))


def _is_page(request: web.Request) -> bool:
    return request.method in ("GET", "HEAD") and (
        request.path in PAGE_PATHS or request.path.startswith(PAGE_PREFIXES)
    )


def _refuse(request: web.Request, message: str, *, status: int) -> web.Response:
    log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote, message)
    response = error_response(message, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tickgate"'
    return response


@web.middleware
def access_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Apply the gateway's `AccessPolicy` before the request reaches anything else.

    Refusals are JSON errors: 403 for an address, a Host or an origin that is not allowed, 401
    for a missing or wrong token (a browser asking for the page is sent to the login form).
    A refused WebSocket upgrade is such an HTTP answer: the socket is never upgraded.
    """
    policy = request.app[ACCESS]
    if not policy.client_allowed(request):
        return answered(
            _refuse(
                request,
                f"Access Denied: client address {request.remote} is not allowed (--allow-ip)",
                status=403,
            )
        )
    if not policy.host_allowed(request):
        host = request.headers.get("Host", "")
        return answered(
            _refuse(
                request,
                f"Host {host!r} is not a name of this gateway; refused so that a DNS-rebound "
                "name gets nowhere (--allow-host adds a name)",
                status=403,
            )
        )
    if not _is_page(request):
        refusal = policy.origin_refusal(request)
        if refusal is not None:
            return answered(_refuse(request, refusal, status=403))
    dashboard = _dashboard_origin(request)
    if dashboard is not None and request.method == "OPTIONS":
        return answered(_preflight(dashboard))  # pre-flights carry no credentials
    if not _is_open(request):
        refusal = policy.credential_refusal(request)
        if refusal is not None:
            if request.path == "/" and request.method in ("GET", "HEAD"):
                return answered(web.Response(status=303, headers={"Location": login.LOGIN_PATH}))
            return answered(_refuse(request, refusal, status=401))
    if dashboard is None:
        return handler(request)  # a plain function: see `PassMiddleware`
    return _with_cors(request, handler, dashboard)


async def _with_cors(request: web.Request, handler: Handler, dashboard: str) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        _allow_cors(response, dashboard)
    return response


def _dashboard_origin(request: web.Request) -> str | None:
    """The Origin of an API request from an allowed dashboard of another origin (it passed the
    origin check), which gets CORS headers; None for the gateway's own page and for scripts."""
    origin = request.headers.get("Origin")
    if origin is None or _is_page(request):
        return None
    try:
        normalized = access.normalize_origin(origin)
    except ConfigError:
        return None
    return None if normalized == own_origin(request) else origin


def _is_open(request: web.Request) -> bool:
    """Served without the token: the page's assets, the login form itself and the health
    probes (see `server.health_routes` for why)."""
    return (
        request.path.startswith(PAGE_PREFIXES)
        or request.path in (login.LOGIN_PATH, login.LOGOUT_PATH)
        or request.path in PROBE_PATHS
    )


def _preflight(origin: str) -> web.Response:
    """Answer a CORS pre-flight of an allowed dashboard."""
    response = web.Response(status=204)
    _allow_cors(response, origin)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def _allow_cors(response: web.StreamResponse, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Vary"] = "Origin"


def install(app: web.Application, config: Config) -> None:
    """Attach `config`'s access policy and the login routes to `app`."""
    app[ACCESS] = AccessPolicy.from_config(config)
    login.add_routes(app)
