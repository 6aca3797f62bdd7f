"""`GET /v1/api/openapi.json` (and `/v1/portal/openapi.json`): the document, as built once."""

from __future__ import annotations

from aiohttp import web

from tickgate.server.http import Handler
from tickgate.server.openapi.document import document_bytes


async def openapi_json(_request: web.Request) -> web.Response:
    return web.Response(body=document_bytes(), content_type="application/json")


ROUTES: list[tuple[str, str, Handler]] = [("GET", "/openapi.json", openapi_json)]
