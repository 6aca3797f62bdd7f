"""aiohttp answers a WebSocket upgrade; then the gateway takes the socket over from it.

aiohttp keeps per socket a request with its headers, a WebSocketResponse, a reader with its
queue, a writer, a task and several coroutine frames, all for as long as the socket lives. With
10,000 mostly idle sockets these dominated the server's memory. So aiohttp does only the HTTP
part: it validates the upgrade request and writes the `101` answer (or the HTTP error), exactly
as before. Then `take_over` points the transport at the gateway's own protocol object (one per
socket, driven by `data_received` callbacks, see `server.ws.Connection`) and makes aiohttp
forget the socket, so that its request handler ends and everything it held is freed.

No extension is negotiated (no permessage-deflate), as before: client frames with reserved bits
are refused by `protocol.ws_reader`.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.http_websocket import WebSocketWriter
from aiohttp.web_request import BaseRequest


class Upgrade(web.WebSocketResponse):
    """aiohttp's WebSocket handshake and nothing else: no reader, no heartbeat, and when the
    handler returns it no closing handshake either (the socket is no longer aiohttp's)."""

    def __init__(self) -> None:
        super().__init__(autoping=False, autoclose=False, compress=False)

    def _post_start(
        self, request: BaseRequest, protocol: str | None, writer: WebSocketWriter
    ) -> None:
        # aiohttp would build its frame reader and message queue here; the gateway reads the
        # frames itself.
        return

    async def write_eof(self) -> None:  # type: ignore[override]
        # aiohttp calls this once the handler returns, to close the WebSocket it thinks it runs.
        self._eof_sent = True


def take_over(request: web.Request, protocol: asyncio.Protocol) -> bytes:
    """Hand the upgraded socket of `request` to `protocol`; returns the client's bytes that
    arrived with or after the upgrade request (the first frames), which `protocol` has not
    been given yet.

    Call it after `Upgrade.prepare(request)` with no await in between. From then on aiohttp
    neither reads, writes nor closes the socket: the handler's return only ends aiohttp's own
    bookkeeping for it.
    """
    handler = request.protocol
    transport = request.transport
    assert transport is not None  # prepare() succeeded, so the socket is open
    early, handler._message_tail = handler._message_tail, b""
    paused = handler._buffer_paused
    transport.set_protocol(protocol)
    # Without a transport aiohttp's handler cannot close the socket when the request ends;
    # forced closed and out of the server's connection table, it ends and is freed then.
    handler.transport = None
    handler.force_close()
    handler.keep_alive(False)
    manager = handler._manager
    if manager is not None:
        manager.connection_lost(handler, None)
    if paused:  # aiohttp stopped reading while the early bytes piled up
        transport.resume_reading()
    return early
