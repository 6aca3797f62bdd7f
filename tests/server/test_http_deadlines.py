"""Slow and malformed HTTP requests on raw sockets: deadlines and one-line logs (issue 10, §3)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
from tests.conftest import StartServer

from tickgate.server.app import RunningServer

Connect = Callable[[RunningServer], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@pytest.fixture
async def tcp() -> AsyncIterator[Connect]:
    """Opens raw TCP connections to a server; all are closed at the end of the test."""
    writers: list[asyncio.StreamWriter] = []

    async def connect(server: RunningServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writers.append(writer)
        return reader, writer

    yield connect
    for writer in writers:
        writer.close()


async def test_a_request_head_that_never_completes_gets_408_and_is_closed(
    start: StartServer, tcp: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tickgate.http")
    server = await start(request_timeout_seconds=1)
    loop_time = asyncio.get_running_loop().time
    began = loop_time()
    slow = [await tcp(server) for _ in range(20)]
    for _, writer in slow:
        writer.write(b"GET /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await asyncio.gather(*(writer.drain() for _, writer in slow))
    # Still trickling: bytes arriving do not extend the deadline. All are written before any
    # answer is read (the server runs on this loop, so it cannot close one in between): a byte
    # written after the server's close would draw a reset instead of the 408.
    for _, writer in slow:
        writer.write(b"a")
    for reader, _ in slow:
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and reader.at_eof()
        body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body == {"error": "request head not received within 1 s"}
    assert loop_time() - began < 6
    warnings = [r for r in caplog.records if "no complete request head" in r.getMessage()]
    assert len(warnings) == 20 and all(r.levelno == logging.WARNING for r in warnings)


async def test_a_prompt_request_is_served_and_its_connection_kept_past_the_deadline(
    start: StartServer, tcp: Connect
) -> None:
    server = await start(request_timeout_seconds=0.3)
    reader, writer = await tcp(server)
    for _ in range(2):
        writer.write(b"GET /tickgate/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    # A connection that never sends anything is closed at the deadline; this one, which did
    # send a request before it, is still open afterwards.
    idle_reader, _ = await tcp(server)
    assert (await asyncio.wait_for(idle_reader.read(), 5)).startswith(b"HTTP/1.1 408")
    writer.write(b"GET /tickgate/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")


async def test_a_body_that_arrives_too_slowly_gets_408(start: StartServer, tcp: Connect) -> None:
    server = await start(request_timeout_seconds=0.3)
    reader, writer = await tcp(server)
    writer.write(
        b"POST /v1/api/iserver/account/DU1234567/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"orders":'
    )
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 408")
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1]) == {
        "error": "request body not received within 0.3 s"
    }
    assert reader.at_eof()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
        b"GET /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
        b"POST /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n",
    ],
)
async def test_a_malformed_request_is_one_warning_line_without_traceback(
    server: RunningServer,
    tcp: Connect,
    caplog: pytest.LogCaptureFixture,
    request_bytes: bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await tcp(server)
    writer.write(request_bytes)
    answer = await asyncio.wait_for(reader.read(), 30)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    records = [r for r in caplog.records if r.name.startswith(("tickgate", "aiohttp"))]
    assert [r.levelno for r in records if r.levelno >= logging.WARNING] == [logging.WARNING]
    (warning,) = [r for r in records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith("malformed HTTP request from 127.0.0.1: ")
    assert warning.exc_info is None and "\n" not in warning.getMessage()
    assert not any(r.exc_info for r in records)


async def test_a_body_declared_over_the_limit_is_a_413_at_once(
    start: StartServer, tcp: Connect
) -> None:
    # A long deadline: an answer that waited for the body would come only after it (a 408).
    server = await start(request_timeout_seconds=600)
    reader, writer = await tcp(server)
    writer.write(
        b"POST /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n"
    )
    # Not read to the end: the server may go on reading (and dropping) the body it refused.
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
    assert head.startswith(b"HTTP/1.1 413 ")
    (length,) = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    body = orjson.loads(await asyncio.wait_for(reader.readexactly(length), 60))
    assert "99999999999" in body["error"]


SEARCH = b"GET /v1/api/iserver/secdef/search?symbol="


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        (
            b"GET /v1/api/" + b"x" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "request head too large: a line of it is longer than the 8190 bytes allowed",
        ),
        (
            b"GET /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            + b"y" * 9000
            + b"\r\n\r\n",
            "request head too large: a line of it is longer than the 8190 bytes allowed",
        ),
        (
            b"GET /v1/api/tickle HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
            "malformed HTTP request: Invalid header token",
        ),
        (
            SEARCH + "Zürich".encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "malformed HTTP request: Invalid char in url query "
            "(percent-encode non-ASCII characters as UTF-8, e.g. %C3%A9)",
        ),
        (
            "GET /v1/api/tickle/é HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
            "malformed HTTP request: Invalid char in url path "
            "(percent-encode non-ASCII characters as UTF-8, e.g. %C3%A9)",
        ),
        (
            b"GET /v1/api/tickle HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
            "malformed HTTP request: Bad status line: Invalid HTTP version",
        ),
    ],
    ids=[
        "long-request-line",
        "long-header",
        "malformed-header",
        "raw-utf8-query",
        "raw-utf8-path",
        "bad-version",
    ],
)
async def test_a_head_the_parser_refuses_is_answered_in_json_in_tickgates_words(
    start: StartServer,
    tcp: Connect,
    caplog: pytest.LogCaptureFixture,
    head: bytes,
    problem: str,
) -> None:
    caplog.set_level(logging.INFO, logger="tickgate.http")
    server = await start()
    reader, writer = await tcp(server)
    writer.write(head)  # one write, read whole by the parser: the close cannot overtake it
    answer = await asyncio.wait_for(reader.read(), 60)
    status_line, rest = answer.split(b"\r\n", 1)
    assert status_line.endswith(b" 400 Bad Request")
    headers, body = rest.split(b"\r\n\r\n", 1)
    assert b"content-type: application/json" in headers.lower()
    # Nothing of the request is sent back (aiohttp's own words quote its bytes).
    assert orjson.loads(body) == {"error": problem}
    warnings = [r for r in caplog.records if r.getMessage().startswith("malformed HTTP request")]
    assert len(warnings) == 1
