"""Deadlines for HTTP clients that send their request too slowly (slowloris).

aiohttp waits for a request head as long as the connection stays open, and reads a body as
slowly as the client sends it. Here:

- a new connection must deliver a complete first request head within `seconds`, else it gets
  a 408 and is closed (one WARNING line). Later heads on a kept-alive connection are bounded by
  aiohttp's own keep-alive timeout, which closes a connection that has been idle (or sending
  half a head) for `KEEPALIVE_SECONDS` after its last response;
- a request body must arrive within `seconds` of its head, else 408 and the connection closes.

- a body whose declared `Content-Length` is over the limit is refused with a 413 at once,
  before any of it is read (waiting for it would only end in a 408).

The head check hooks the low-level server's `connection_made`, which every aiohttp request
handler calls when its connection opens, and the middleware marks a connection once a request
of it reaches the application. The same hook makes the answers aiohttp's parser gives by itself
(a request line or header over 8 KiB, a malformed head) the API's JSON error shape instead of
plain text, logged as one line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from http import HTTPStatus

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from tickgate.server.http import Handler, error_response
from tickgate.server.http_log import parser_problem

log = logging.getLogger("tickgate.http")

#: Idle time after a response before aiohttp closes a kept-alive connection (nginx's default).
KEEPALIVE_SECONDS = 75.0


class RequestDeadlines:
    """The deadlines of one server; see the module docstring."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        #: Connections whose first request head has not arrived yet.
        self._waiting: set[RequestHandler] = set()

    def watch(self, server: web.Server) -> None:
        """Start the head deadline for every connection `server` accepts from now on."""
        made, lost = server.connection_made, server.connection_lost
        loop = asyncio.get_running_loop()

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            self._waiting.add(handler)
            loop.call_later(self.seconds, self._expire, handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self._waiting.discard(handler)
            lost(handler, exc)

        # Instance attributes shadow the methods for this server object only.
        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def _expire(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if handler not in self._waiting:
            return
        self._waiting.discard(handler)
        if transport.is_closing():
            return
        peer = transport.get_extra_info("peername")
        log.warning(
            "closed connection from %s: no complete request head within %g s",
            peer[0] if peer else "?",
            self.seconds,
        )
        body = orjson.dumps({"error": f"request head not received within {self.seconds:g} s"})
        transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        handler.force_close()

    @web.middleware
    def middleware(self, request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        """Marks the connection as having sent a head, and reads the body within the deadline.

        Must come before any middleware that can answer by itself, so that every request that
        reaches the app counts (only the log context, which numbers requests, is outside it).
        A plain function for a request without a body (every WebSocket upgrade): see
        `tickgate.server.http.PassMiddleware`.
        """
        self._waiting.discard(request.protocol)
        if not request.body_exists:
            return handler(request)
        return self._read_body_first(request, handler)

    async def _read_body_first(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        declared, limit = request.content_length, request.client_max_size
        if declared is not None and declared > limit:
            return _refused_as_too_large(
                request, f"request body of {declared} bytes is over the limit of {limit} bytes"
            )
        try:
            async with asyncio.timeout(self.seconds):
                await request.read()  # kept by aiohttp: the handler reads it again for free
        except TimeoutError:
            log.warning(
                "closed connection from %s: %s %s body not received within %g s",
                request.remote,
                request.method,
                request.path,
                self.seconds,
            )
            response = error_response(
                f"request body not received within {self.seconds:g} s", status=408
            )
            response.force_close()
            return response
        except web.HTTPRequestEntityTooLarge as exc:
            return _refused_as_too_large(request, exc.text or "request body too large")
        return await handler(request)


def _refused_as_too_large(request: web.Request, why: str) -> web.StreamResponse:
    log.info("%s %s -> 413: %s", request.method, request.path, why)
    response = error_response(why, status=413)
    response.force_close()
    return response


class JsonErrorsHandler(RequestHandler):
    """aiohttp's connection handler, answering the errors its HTTP parser finds (before any
    route runs: a request line or header over 8 KiB, a malformed head) as `{"error": ...}`
    with the parser's status instead of plain text; logged as aiohttp logs them."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own handling logs it (one line: see http_log) and raises if a response
        # has begun; its plain-text answer is replaced by the same status in JSON.
        super().handle_error(request, status, exc, message)
        if status >= 500:
            text = "internal server error"
        elif isinstance(exc, HttpProcessingError):
            text = parser_problem(exc)  # aiohttp's words quote the request: never sent back
        else:
            text = message or HTTPStatus(status).phrase
        response = error_response(text, status=status)
        response.force_close()
        return response


class JsonErrorsServer(web.Server):
    """aiohttp's low-level server, making `JsonErrorsHandler`s for its connections.

    aiohttp has no public hook for a connection's parser errors, so `setup_runner` gives the
    runner's server this class; `__call__` is aiohttp's own (3.14) without its fallback for
    handler arguments a RequestHandler would refuse (the runner passes none such).
    tests/server/test_http_deadlines.py fails if a new aiohttp changes what this relies on."""

    def __call__(self) -> RequestHandler:
        return JsonErrorsHandler(self, loop=self._loop, **self._kwargs)
