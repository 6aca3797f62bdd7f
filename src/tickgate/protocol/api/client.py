"""The client side of the api dialect: messages to send, server frames read into typed events.

For code that speaks `/v1/api/ws` to an upstream gateway (a relay, a test). Sans-I/O: the
caller moves text over its own socket. `ApiClient` builds what a client sends (the session
message, `smd`/`umd`, `tic`, `ech+hb`) and `receive` turns each server frame into one
`ServerEvent`, keeping the little state a client needs: whether the upstream says it is
authenticated, and which conids it asked to stream.

Market values come back as the wire strings the market engine keeps (`"189.50"`, `"C188.20"`);
the few fields IBKR sends as JSON integers (conid, underlying conid) are turned back into
strings, so what an upstream sends can be fed to a market engine unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tickgate.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class WaitingForSession:
    """`{"message":"waiting for session"}`: the server wants the session message."""


@dataclass(frozen=True, slots=True)
class Connected:
    """`{"topic":"system","success":USER}`: the first frame of the connect burst."""

    username: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """`{"topic":"system","hb":MS}`: the server's wall clock in epoch milliseconds."""

    epoch_ms: int


@dataclass(frozen=True, slots=True)
class Status:
    """`sts`: whether the brokerage session behind the socket is authenticated (as the last
    `sts` that said so; a split frame may carry only `competing`), and its raw `args`."""

    authenticated: bool
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Accounts:
    """`act`: the accounts the session holds, as `/iserver/accounts` returns them."""

    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MarketData:
    """`smd+CONID`: changed (or, after a subscribe, all known) values of `conid`."""

    conid: int
    values: Mapping[int, str]
    updated_ms: int | None


@dataclass(frozen=True, slots=True)
class Tickled:
    """`tic`: the session id and its `lastAccessed` (epoch ms)."""

    session: str
    last_accessed_ms: int


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """`{"topic":"error","error":...}`; `request` is the client topic it is about, if known."""

    message: str
    request: str | None


@dataclass(frozen=True, slots=True)
class TopicFrame:
    """Any other server frame with a topic (`sor`, `str`, `spl`, `ssd+A`, `smh+C`, `blt`, ...)."""

    topic: str
    frame: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """A frame without a topic: `{"message":...}` or `{"result":...}` confirmations."""

    text: str


ServerEvent = (
    WaitingForSession
    | Connected
    | Heartbeat
    | Status
    | Accounts
    | MarketData
    | Tickled
    | ErrorFrame
    | TopicFrame
    | Message
)

WAITING = "waiting for session"


class ApiClient:
    """One client connection's side of the api dialect. Not thread-safe."""

    def __init__(self) -> None:
        #: What the last `sts` (or the connect burst) said; False until then.
        self.authenticated = False
        #: Conids asked for with `smd` and not ended with `umd`, with their fields.
        self.streams: dict[int, tuple[int, ...]] = {}

    # --- what a client sends ---------------------------------------------------------------------
    @staticmethod
    def authenticate(session: str) -> str:
        """The session message (`{"session":"ID"}`), for a socket opened without the cookie."""
        return orjson.dumps({"session": session}).decode()

    def subscribe(self, conid: int, fields: Iterable[int]) -> str:
        """`smd+CONID+{"fields":[...]}`; a resubscription adds fields (the server's rule)."""
        wanted = tuple(dict.fromkeys((*self.streams.get(conid, ()), *fields)))
        if not wanted:
            raise ValueError("a market-data subscription needs at least one field")
        self.streams[conid] = wanted
        return f"smd+{conid}+" + orjson.dumps({"fields": [str(f) for f in wanted]}).decode()

    def unsubscribe(self, conid: int) -> str:
        """`umd+CONID+{}` (the server does not answer it)."""
        self.streams.pop(conid, None)
        return f"umd+{conid}+{{}}"

    @staticmethod
    def tickle() -> str:
        """`tic`: keeps the session alive; answered with a `tic` frame."""
        return "tic"

    @staticmethod
    def heartbeat() -> str:
        """`ech+hb`: the client's heartbeat, echoed back by the server."""
        return "ech+hb"

    # --- what the server sends -------------------------------------------------------------------
    def receive(self, payload: bytes | str) -> ServerEvent:
        """Read one server frame. Raises `ProtocolError` for a frame that is not a JSON object
        (the echo of `ech+hb` is text, not JSON: it comes back as a `Message`)."""
        if payload in (b"ech+hb", "ech+hb"):
            return Message("ech+hb")
        try:
            frame = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"server frame is not JSON: {exc}") from None
        if not isinstance(frame, dict):
            raise ProtocolError(f"server frame is not a JSON object but {type(frame).__name__}")
        topic = frame.get("topic")
        if not isinstance(topic, str):
            text = frame.get("message", frame.get("result", ""))
            return WaitingForSession() if text == WAITING else Message(str(text))
        return self._topic(topic, frame)

    def _topic(self, topic: str, frame: dict[str, Any]) -> ServerEvent:
        if topic == "system":
            if "hb" in frame:
                return Heartbeat(int(frame["hb"]))
            self.authenticated = True
            return Connected(str(frame.get("success", "")))
        if topic == "sts":
            args = frame.get("args") or {}
            # The gateway may split sts ({"competing":true} alone): a frame without the key
            # leaves what the last one said.
            if "authenticated" in args:
                self.authenticated = bool(args["authenticated"])
            return Status(self.authenticated, args)
        if topic == "act":
            return Accounts(frame.get("args") or {})
        if topic == "tic":
            return Tickled(str(frame.get("id", "")), int(frame.get("lastAccessed", 0)))
        if topic == "error":
            request = frame.get("request")
            return ErrorFrame(
                str(frame.get("error", "")), None if request is None else str(request)
            )
        if topic.startswith("smd+"):
            return _market_data(frame)
        return TopicFrame(topic, frame)


def _market_data(frame: Mapping[str, Any]) -> MarketData:
    conid = frame.get("conid")
    if not isinstance(conid, int):
        raise ProtocolError(f"smd frame without an integer conid: {frame.get('topic')}")
    values = {int(key): _wire(value) for key, value in frame.items() if key.isdigit()}
    updated = frame.get("_updated")
    return MarketData(conid, values, updated if isinstance(updated, int) else None)


def _wire(value: object) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
