"""A REST request and its answer as one NATS message each: what an edge forwards to the core.

Wire form: a 4-byte big-endian length, that many bytes of JSON (the head), then the body bytes
as they are. The head of a request carries the method, the path with its query string, the
headers that identify the client (cookies, authorization, content type), the edge's name and
a deadline: the edge's host clock in ms after which it has given up, so a request that reaches
the core too late (it sat in a buffer while the bus was down) is refused, not carried out for
a client that was already told it failed. Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import orjson

from tickgate.errors import TickgateError

_LENGTH = struct.Struct(">I")
Headers = tuple[tuple[str, str], ...]


class EnvelopeError(TickgateError):
    """A message is not a forwarded request or answer; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """One client request as an edge received it."""

    method: str
    #: The path with its query string, exactly as the client sent it.
    path_qs: str
    headers: Headers
    body: bytes
    #: The edge's host clock (ms since the epoch) after which it no longer waits for the answer.
    deadline_ms: int
    edge: str


@dataclass(frozen=True, slots=True)
class ForwardedResponse:
    """The core's answer: status, headers (repeatable, e.g. Set-Cookie) and body."""

    status: int
    headers: Headers
    body: bytes


def _pack(head: dict[str, object], body: bytes) -> bytes:
    raw = orjson.dumps(head)
    return _LENGTH.pack(len(raw)) + raw + body


def _unpack(data: bytes) -> tuple[dict[str, object], bytes]:
    if len(data) < _LENGTH.size:
        raise EnvelopeError("forwarded message too short for its head length")
    (length,) = _LENGTH.unpack_from(data)
    end = _LENGTH.size + length
    if end > len(data):
        raise EnvelopeError(f"forwarded message head of {length} bytes exceeds the message")
    try:
        head = orjson.loads(data[_LENGTH.size : end])
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"forwarded message head is not JSON: {exc}") from None
    if not isinstance(head, dict):
        raise EnvelopeError("forwarded message head is not a JSON object")
    return head, data[end:]


def _headers(raw: object) -> Headers:
    if not isinstance(raw, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        for pair in raw
    ):
        raise EnvelopeError("forwarded headers must be a list of [name, value] strings")
    return tuple((name, value) for name, value in raw)


def _text(head: dict[str, object], name: str) -> str:
    value = head.get(name)
    if not isinstance(value, str):
        raise EnvelopeError(f"forwarded message lacks the string {name!r}")
    return value


def _number(head: dict[str, object], name: str) -> int:
    value = head.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EnvelopeError(f"forwarded message lacks the integer {name!r}")
    return value


def encode_request(request: ForwardedRequest) -> bytes:
    head = {
        "method": request.method,
        "path": request.path_qs,
        "headers": [list(pair) for pair in request.headers],
        "deadline_ms": request.deadline_ms,
        "edge": request.edge,
    }
    return _pack(head, request.body)


def decode_request(data: bytes) -> ForwardedRequest:
    """The request `encode_request` wrote. Raises EnvelopeError for anything else."""
    head, body = _unpack(data)
    path = _text(head, "path")
    if not path.startswith("/"):
        raise EnvelopeError(f"forwarded path must start with '/', got {path[:40]!r}")
    return ForwardedRequest(
        method=_text(head, "method"),
        path_qs=path,
        headers=_headers(head.get("headers")),
        body=body,
        deadline_ms=_number(head, "deadline_ms"),
        edge=_text(head, "edge"),
    )


def encode_response(response: ForwardedResponse) -> bytes:
    head = {"status": response.status, "headers": [list(pair) for pair in response.headers]}
    return _pack(head, response.body)


def decode_response(data: bytes) -> ForwardedResponse:
    """The answer `encode_response` wrote. Raises EnvelopeError for anything else."""
    head, body = _unpack(data)
    status = _number(head, "status")
    if not 100 <= status <= 599:
        raise EnvelopeError(f"forwarded status {status} is not an HTTP status")
    return ForwardedResponse(status, _headers(head.get("headers")), body)
