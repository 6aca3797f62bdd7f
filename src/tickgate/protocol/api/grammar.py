"""Today's IBKR WebSocket dialect on `/v1/api/ws` (the api dialect): client text in, typed
commands out.

Grammar (protocol reference §4.1-§4.3): `VERB+TARGET[+TARGET...][+{JSON}]` where VERB is `s` or
`u` followed by a two-letter topic (`md`, `mh`, `bd`, `or`, `tr`, `pl`, `sd`, `ld`), plus the bare
messages `tic`, `ech+hb` and the JSON control message `{"session":"..."}`.

Leniency, exactly as clients send it (ibind 0.1/0.2, IBKR's own docs):
- the `+{}` suffix may be missing (`spl`, `sor`, `usd+ACCT`) and whitespace may surround every
  `+`-separated part and appear inside the JSON;
- option keys are accepted in camelCase and snake_case (`outsideRth` = `outside_rth`);
- `fields` may be a list of strings, a list of integers or a comma-separated string; any whole
  number is accepted (ids tickgate has no values for are simply never sent);
- option keys this dialect does not use are ignored, as the real server ignores them;
- `smd`/`smh` targets may be `CONID@EXCHANGE`.

Anything else raises `ProtocolError`: a message the user can act on, with the request's topic
when it could be read. `parse` never raises anything else.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import orjson

from tickgate.errors import ProtocolError
from tickgate.protocol.api.commands import (
    ApiCommand,
    Authenticate,
    Echo,
    Ignore,
    SubscribeDepth,
    SubscribeHistory,
    SubscribeLedger,
    SubscribeMarketData,
    SubscribeOrders,
    SubscribePnl,
    SubscribeSummary,
    SubscribeTrades,
    Tickle,
    Unsubscribe,
    UnsubscribeDepth,
    UnsubscribeHistory,
    UnsubscribeMarketData,
)
from tickgate.protocol.api.options import (
    Options,
    boolean,
    field_ids,
    history_text,
    strings,
    trade_days,
)
from tickgate.protocol.api.options import show as _show
from tickgate.protocol.json_depth import depth_error, exceeds_depth

__all__ = [
    "ApiCommand",
    "Authenticate",
    "Echo",
    "Ignore",
    "SubscribeDepth",
    "SubscribeHistory",
    "SubscribeLedger",
    "SubscribeMarketData",
    "SubscribeOrders",
    "SubscribePnl",
    "SubscribeSummary",
    "SubscribeTrades",
    "Tickle",
    "Unsubscribe",
    "UnsubscribeDepth",
    "UnsubscribeHistory",
    "UnsubscribeMarketData",
    "parse",
]

MAX_CONID = 2_147_483_647  # conids are 32-bit signed integers in IBKR's APIs
MAX_ID_LENGTH = 32
HISTORY_SOURCES = frozenset({"midpoint", "trades", "bid_ask", "bid", "ask"})
_ID_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_USAGE = 'expected e.g. smd+CONID+{"fields":["31"]}, sor+{}, spl, ssd+ACCT+{}, tic'


def parse(text: str) -> ApiCommand:
    """Parse one client text message of the api dialect.

    Guarantees: returns a validated command or raises `ProtocolError` (whose `topic` is the
    request's topic, e.g. `smd+265598`, when it could be read); no other exception escapes.
    """
    message = text.strip()
    if message.startswith("{"):
        return _authenticate(message)
    if message == "tic":
        return Tickle()
    if message.startswith("ech"):
        return Echo(message)
    head, json_text = _split_json(message)
    parts = [part.strip() for part in head.split("+")]
    verb, targets = parts[0], parts[1:]
    parser = _PARSERS.get(verb)
    if parser is None:
        raise ProtocolError(f"Unknown topic: {_show(message)}; {_USAGE}")
    topic = "+".join([verb, *targets])
    options = _options(json_text, topic)
    return parser(targets, options, topic)


def _authenticate(message: str) -> Authenticate | Ignore:
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise ProtocolError(f"malformed JSON message: {_show(message)}") from None
    if exceeds_depth(value):
        raise ProtocolError(depth_error())
    session = value.get("session") if isinstance(value, dict) else None
    if isinstance(session, str) and session:
        return Authenticate(session)
    if isinstance(value, dict) and "session" not in value:
        return Ignore(message)  # §4.2: other JSON control messages are ignored
    raise ProtocolError('a session message must be {"session":"<session id from /tickle>"}')


def _split_json(message: str) -> tuple[str, str | None]:
    """`smd+1+{...}` -> (`smd+1`, `{...}`); JSON may itself contain '+'."""
    brace = message.find("{")
    if brace < 0:
        return message, None
    head = message[:brace].rstrip()
    if not head.endswith("+"):
        raise ProtocolError(f"JSON arguments must follow a '+'; {_USAGE}")
    return head[:-1], message[brace:]


def _options(json_text: str | None, topic: str) -> Options:
    if json_text is None:
        return {}
    try:
        value = orjson.loads(json_text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON arguments: {exc}", topic=topic) from None
    if exceeds_depth(value):
        raise ProtocolError(depth_error(), topic=topic)
    if not isinstance(value, dict):
        raise ProtocolError("arguments must be a JSON object like {}", topic=topic)
    # camelCase and snake_case name the same option; the later spelling wins.
    return {_CAMEL.sub("_", str(key)).lower(): item for key, item in value.items()}


def _targets(targets: list[str], count: int, usage: str, topic: str, *, optional: int = 0) -> None:
    if not count <= len(targets) <= count + optional or not all(targets):
        raise ProtocolError(f"expected {usage}", topic=topic)


def _conid(raw: str, topic: str) -> tuple[int, str | None]:
    """`265598` or `265598@SMART` -> (conid, exchange or None)."""
    number, _, exchange = raw.partition("@")
    if not (number.isascii() and number.isdigit() and len(number) <= 10):
        raise ProtocolError(f"conid must be a positive integer, got {_show(raw)}", topic=topic)
    conid = int(number)
    if not 0 < conid <= MAX_CONID:
        raise ProtocolError(f"conid must be a positive integer, got {_show(raw)}", topic=topic)
    if "@" in raw:
        return conid, _identifier(exchange, "exchange", topic)
    return conid, None


def _identifier(raw: str, what: str, topic: str) -> str:
    if 0 < len(raw) <= MAX_ID_LENGTH and set(raw) <= _ID_CHARS:
        return raw
    raise ProtocolError(
        f"{what} must be an identifier like DU1234567, got {_show(raw)}", topic=topic
    )


# --- one parser per verb -------------------------------------------------------------------------


def _short(value: str) -> bool:
    # The grammar of periods and bars ("5min", "5 min", "1d") belongs to the history service,
    # which reports a bad one; here only absurd values are refused.
    return len(value) <= 32


def _smd(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, 'smd+CONID+{"fields":[...]}', topic)
    conid, exchange = _conid(targets[0], topic)
    fields = field_ids(options["fields"], topic) if options.get("fields") is not None else None
    return SubscribeMarketData(conid, exchange, fields)


def _umd(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, "umd+CONID+{}", topic)
    return UnsubscribeMarketData(_conid(targets[0], topic)[0])


def _smh(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, 'smh+CONID+{"period":"1d","bar":"5min"}', topic)
    conid, exchange = _conid(targets[0], topic)
    return SubscribeHistory(
        conid=conid,
        exchange=history_text(options, "exchange", topic, lambda v: set(v) <= _ID_CHARS)
        or exchange,
        period=history_text(options, "period", topic, _short),
        bar=history_text(options, "bar", topic, _short),
        outside_rth=boolean(options.get("outside_rth", False), "outsideRth", topic),
        source=history_text(options, "source", topic, HISTORY_SOURCES.__contains__),
        format=history_text(options, "format", topic, _short),
    )


def _umh(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, "umh+SERVER_ID", topic)
    return UnsubscribeHistory(_identifier(targets[0], "server id", topic))


def _sbd(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 2, "sbd+ACCT+CONID[+EXCHANGE]", topic, optional=1)
    account = _identifier(targets[0], "account", topic)
    conid, _ = _conid(targets[1], topic)
    exchange = _identifier(targets[2], "exchange", topic) if len(targets) == 3 else None
    return SubscribeDepth(account, conid, exchange)


def _ubd(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, "ubd+ACCT", topic)
    return UnsubscribeDepth(_identifier(targets[0], "account", topic))


def _sor(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 0, 'sor+{} or sor+{"filters":["Submitted"]}', topic)
    return SubscribeOrders(strings(options.get("filters"), "filters", topic))


def _str(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 0, 'str+{} or str+{"realtimeUpdatesOnly":true,"days":1}', topic)
    realtime = boolean(options.get("realtime_updates_only", False), "realtimeUpdatesOnly", topic)
    return SubscribeTrades(realtime, trade_days(options.get("days", 1), topic))


def _spl(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 0, "spl or spl+{}", topic)
    return SubscribePnl()


def _ssd(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, "ssd+ACCT+{}", topic)
    account = _identifier(targets[0], "account", topic)
    keys = strings(options.get("keys"), "keys", topic)
    return SubscribeSummary(account, keys, strings(options.get("fields"), "fields", topic))


def _sld(targets: list[str], options: Options, topic: str) -> ApiCommand:
    _targets(targets, 1, "sld+ACCT+{}", topic)
    account = _identifier(targets[0], "account", topic)
    keys = strings(options.get("keys"), "keys", topic)
    return SubscribeLedger(account, keys, strings(options.get("fields"), "fields", topic))


def _unsubscribe(
    name: str, *, with_account: bool
) -> Callable[[list[str], Options, str], ApiCommand]:
    def parse_unsubscribe(targets: list[str], options: Options, topic: str) -> ApiCommand:
        if with_account:
            _targets(targets, 1, f"u{name}+ACCT", topic)
            return Unsubscribe(name, _identifier(targets[0], "account", topic))
        _targets(targets, 0, f"u{name} or u{name}+{{}}", topic)
        return Unsubscribe(name)

    return parse_unsubscribe


_PARSERS: dict[str, Callable[[list[str], Options, str], ApiCommand]] = {
    "smd": _smd,
    "umd": _umd,
    "smh": _smh,
    "umh": _umh,
    "sbd": _sbd,
    "ubd": _ubd,
    "sor": _sor,
    "uor": _unsubscribe("or", with_account=False),
    "str": _str,
    "utr": _unsubscribe("tr", with_account=False),
    "spl": _spl,
    "upl": _unsubscribe("pl", with_account=False),
    "ssd": _ssd,
    "usd": _unsubscribe("sd", with_account=True),
    "sld": _sld,
    "uld": _unsubscribe("ld", with_account=True),
}
