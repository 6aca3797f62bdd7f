"""The gateway's own login (`--auth-token`): how clients prove they may use the gateway.

Scripts present the token on every request, as `Authorization: Bearer TOKEN` or as the password
of HTTP Basic authentication (any user name), which is what a client library sends for a URL
like `https://user:TOKEN@host:5000/v1/api/`. A browser logs in once on `/tickgate/login` and
gets a cookie; the cookie carries a random value signed with the token, never the token itself,
so it stays valid across restarts and dies when the token changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import logging
import secrets

from aiohttp import web

from tickgate.server.gateway import gateway_of
from tickgate.server.http import error_response, json_body, json_response

log = logging.getLogger("tickgate.access")

LOGIN_PATH = "/tickgate/login"
LOGOUT_PATH = "/tickgate/logout"
COOKIE = "tickgate-login"
_MAC_CONTEXT = b"tickgate-login-cookie:"
LOGIN_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def token_matches(presented: str, token: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return hmac.compare_digest(presented.encode(), token.encode())


def header_token(authorization: str) -> str | None:
    """The token of an `Authorization` header: Bearer, or the password of Basic; else None."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def cookie_value(token: str) -> str:
    """A fresh login cookie value: a random nonce and its MAC under the token."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_mac(token, nonce)}"


def cookie_valid(value: str | None, token: str) -> bool:
    """True when `value` is a login cookie issued under `token`."""
    if not value or "." not in value:
        return False
    nonce, _, mac = value.partition(".")
    return hmac.compare_digest(mac.encode(), _mac(token, nonce).encode())


def _mac(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), _MAC_CONTEXT + nonce.encode(), hashlib.sha256).hexdigest()


def set_login_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    """Attach a new login cookie: HttpOnly, SameSite=Strict, Secure over TLS, for the browser
    session only."""
    response.set_cookie(
        COOKIE,
        cookie_value(token),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def login_page(*, message: str = "", status: int = 200) -> web.Response:
    """The login form, with an optional (escaped) message."""
    note = f'<p class="login-error" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tickgate · log in</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <main class="login">
    <h1>tickgate</h1>
    <p>This gateway asks for its access token (<code>--auth-token</code>).</p>
    {note}
    <form method="post" action="{LOGIN_PATH}">
      <label>Token <input name="token" type="password" autocomplete="current-password"
        required autofocus></label>
      <button type="submit" class="primary">Log in</button>
    </form>
  </main>
</body>
</html>
"""
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = LOGIN_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not `no-referrer`: with it a browser sends `Origin: null` on the form's POST, which the
    # origin check must refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _is_form(request: web.Request) -> bool:
    return request.content_type == "application/x-www-form-urlencoded"


async def show(request: web.Request) -> web.StreamResponse:
    """GET /tickgate/login: the form, or straight to the page when nothing needs a login."""
    token = gateway_of(request).config.auth_token
    if token is None or cookie_valid(request.cookies.get(COOKIE), token):
        return _redirect("/")
    return login_page()


async def submit(request: web.Request) -> web.StreamResponse:
    """POST /tickgate/login with `token` as a form field or in a JSON object.

    A form gets the page (303 to `/`) or the form again with an error; JSON gets JSON.
    """
    token = gateway_of(request).config.auth_token
    if token is None:
        return error_response("this gateway has no auth token: nothing to log in to", status=404)
    form = _is_form(request)
    fields = await request.post() if form else await json_body(request)
    presented = fields.get("token")
    if not isinstance(presented, str) or not token_matches(presented, token):
        log.warning("failed login from %s", request.remote)
        if form:
            return login_page(message="Wrong token.", status=401)
        return error_response("wrong token", status=401)
    response = _redirect("/") if form else json_response({"authenticated": True})
    set_login_cookie(response, request, token)
    log.info("login from %s", request.remote)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /tickgate/logout: this browser's login cookie is deleted."""
    response = (
        _redirect(LOGIN_PATH) if _is_form(request) else json_response({"authenticated": False})
    )
    response.del_cookie(COOKIE, path="/")
    return response


def add_routes(app: web.Application) -> None:
    """Serve the login form and its POSTs on `app` (they answer even without a token set)."""
    app.router.add_get(LOGIN_PATH, show)
    app.router.add_post(LOGIN_PATH, submit)
    app.router.add_post(LOGOUT_PATH, logout)
