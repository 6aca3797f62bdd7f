"""The browser page: `/` and `/static/<file>`, served from `server/static/` with no build step.

Files are read once when the routes are added, so a request never touches the disk and a file
that cannot change while the process runs gets one strong ETag. Nothing outside the static
directory's own top-level files can be named by a request: the lookup is a dict, not a path join.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from aiohttp import web

from tickgate.errors import NotFoundError

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"

CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        ".html": "text/html; charset=utf-8",
        # ES modules are refused by browsers unless served with a JavaScript MIME type.
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".svg": "image/svg+xml",
        ".png": "image/png",
        ".ico": "image/x-icon",
        ".json": "application/json",
        ".txt": "text/plain; charset=utf-8",
    }
)

#: Assets have no hashed names (there is no build step), so the browser keeps them but asks
#: again each time; an unchanged file costs a 304.
CACHE_CONTROL = "no-cache"

#: Everything the page loads comes from tickgate itself; the machine may be offline.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the page, held in memory."""

    body: bytes
    content_type: str
    etag: str


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every servable top-level file of `directory`, keyed by file name.

    Files with an unknown extension and sub-directories are skipped (they are not part of the
    page). Raises OSError when `directory` cannot be read.
    """
    assets: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[path.name] = Asset(body, content_type, etag)
    return assets


def asset_response(request: web.Request, asset: Asset) -> web.Response:
    """The asset, or 304 when the request's If-None-Match already names its ETag."""
    headers = {
        "ETag": asset.etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    if asset.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["Referrer-Policy"] = "no-referrer"
    if asset.etag in _etags(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=asset.body, headers=headers)
    # Set through the property: aiohttp refuses a charset inside a content_type argument.
    response.headers["Content-Type"] = asset.content_type
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def add_routes(app: web.Application, *, directory: Path = STATIC_DIR) -> None:
    """Serve `GET /` (the page) and `GET /static/{name}` (its assets) on `app`.

    HEAD is answered too. Unknown names raise NotFoundError, which the error middleware turns
    into the API's JSON 404. Raises OSError at start-up when the static directory is missing,
    and FileNotFoundError when it has no index.html.
    """
    assets = load_assets(directory)
    if INDEX not in assets:
        raise FileNotFoundError(f"the page's {INDEX} is missing from {directory}")

    async def index(request: web.Request) -> web.Response:
        return asset_response(request, assets[INDEX])

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        asset = assets.get(name)
        if asset is None:
            raise NotFoundError(f"no static file {name!r}")
        return asset_response(request, asset)

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
