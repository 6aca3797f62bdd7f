"""The page's HTTP side (server/page.py): content types, caching, and nothing served by accident."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tests.conftest import StartServer

from tickgate.server import page
from tickgate.server.app import RunningServer

STATIC = Path(page.__file__).parent / "static"


@pytest.fixture
async def base(start: StartServer) -> str:
    server: RunningServer = await start()
    return server.base_url


async def test_index_is_html_with_csp_and_revalidation(
    base: str, http: aiohttp.ClientSession
) -> None:
    async with http.get(base + "/") as response:
        body = await response.text()
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert '<script type="module" src="/static/app.js">' in body


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_assets_have_their_content_type(
    base: str, http: aiohttp.ClientSession, name: str, content_type: str
) -> None:
    async with http.get(f"{base}/static/{name}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert await response.read() == (STATIC / name).read_bytes()


async def test_unchanged_asset_answers_304(base: str, http: aiohttp.ClientSession) -> None:
    async with http.get(base + "/static/app.js") as first:
        etag = first.headers["ETag"]
    async with http.get(base + "/static/app.js", headers={"If-None-Match": etag}) as again:
        assert again.status == 304
        assert await again.read() == b""
        assert again.headers["ETag"] == etag
    async with http.get(base + "/static/app.js", headers={"If-None-Match": '"other"'}) as stale:
        assert stale.status == 200


async def test_head_has_headers_and_no_body(base: str, http: aiohttp.ClientSession) -> None:
    async with http.head(base + "/static/style.css") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/css; charset=utf-8"
        assert await response.read() == b""


@pytest.mark.parametrize(
    "path",
    ["/static/nope.js", "/static/..%2Fpage.py", "/static/%2e%2e/page.py", "/static/"],
)
async def test_unknown_or_escaping_names_get_json_404(
    base: str, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(base + path) as response:
        assert response.status == 404
        assert "error" in await response.json()


async def test_api_routes_still_win_over_the_page(base: str, http: aiohttp.ClientSession) -> None:
    async with http.get(base + "/v1/api/iserver/auth/status") as response:
        assert response.status == 200
        assert "authenticated" in await response.json()


def test_every_file_the_page_references_is_served() -> None:
    """index.html's src/href and every JS module import name a file the server holds."""
    served = set(page.load_assets())
    index = (STATIC / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', index))
    for script in STATIC.glob("*.js"):
        referenced |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
    assert referenced
    assert referenced <= served, referenced - served


def test_load_assets_skips_unknown_types_and_subdirectories(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "notes.md").write_text("not part of the page")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.js").write_text("")
    assert set(page.load_assets(tmp_path)) == {"index.html"}


def test_a_static_dir_without_index_is_refused(tmp_path: Path) -> None:

    with pytest.raises(FileNotFoundError, match=r"index\.html"):
        page.add_routes(web.Application(), directory=tmp_path)
