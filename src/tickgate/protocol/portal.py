"""The portal dialect on `/v1/portal/ws` (the seed's streaming spec): text in, typed commands
out; frames out.

Grammar (`s`/`u` and `+` literal; leading and trailing ASCII whitespace, and ASCII whitespace
around each `+`-separated part, are ignored; other space characters, such as a no-break space,
are an error that names them):

    s+md+CONID                      stream every change of the default fields
    s+md+CONID+{OPTIONS}            OPTIONS: tempo, snapshot, fields (see `SubscribeMarketData`)
    u+md+CONID  |  u+md+CONID+{}    stop streaming CONID
    s+realtime-account-data+ACCT    orders and P&L of ACCT (an empty `+{}` is also accepted)
    u+realtime-account-data+ACCT

Decisions where the seed is silent:
- `snapshot` accepts JSON `true`/`false` and, for clients that stringify, the strings "true"
  and "false" in any letter case; anything else is an error.
- `tempo` accepts a JSON number with a whole value (`1000` or `1000.0`); strings and booleans
  are errors, so a typo never silently turns into "every change".
- `fields` accepts the seed's comma-separated string ("55,22,23") or a JSON list of ids as
  numbers or strings; duplicates are dropped, first occurrence kept.
- The default set of known field ids adds 22 and 23 to `fields.KNOWN_FIELDS`: the seed's own
  sample request names them, and the seed's example must be accepted. They simply never carry
  values.
- Market values are typed as in the seed's sample response (`{"31":154.81,...}`): prices and
  sizes (`NUMBER_FIELDS`) are JSON numbers whenever their value is a plain decimal
  ("1,300" is 1300); a value with a prefix or unit stays the engine's text (`31` as "C154.81"
  before the day's first trade or "H154.81" while halted), and so do the fields that are text
  by nature or carry a sign or unit in every value (`55`, `82` "+1.25", `83`, `87` "1.23M",
  greeks, availability). A number carries the value exactly, not its trailing zeros: see
  `protocol.decimals`. `/v1/api/ws` keeps IBKR's strings.

Every error is a `ProtocolError` whose message names what was wrong and what was expected; its
`topic` is `md+CONID` or `realtime-account-data+ACCT` when the message got that far, else None.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import orjson

from tickgate.errors import ProtocolError
from tickgate.protocol import fields as F
from tickgate.protocol.decimals import text_json, wire_number
from tickgate.protocol.fields import KNOWN_FIELDS, wire_values
from tickgate.protocol.json_depth import depth_error, exceeds_depth

MD = "md"
ACCOUNT = "realtime-account-data"
SUPPORTED_TOPICS = (MD, ACCOUNT)
MAX_CONID = 2_147_483_647  # conids are 32-bit signed integers in IBKR's APIs
MAX_ACCOUNT_LENGTH = 32
#: `fields.KNOWN_FIELDS` plus the ids the seed's sample request uses (see module docstring).
SEED_FIELDS: frozenset[int] = KNOWN_FIELDS | {22, 23}
#: Prices and sizes: sent as JSON numbers when their value is plain (see the module docstring).
PRICE_FIELDS: frozenset[int] = frozenset(
    (F.LAST, F.HIGH, F.LOW, F.BID, F.ASK, F.OPEN, F.CLOSE, F.PRIOR_CLOSE, F.MARK)
)
SIZE_FIELDS: frozenset[int] = frozenset(
    (F.BID_SIZE, F.ASK_SIZE, F.LAST_SIZE, F.VOLUME_EXACT, F.OPTION_OPEN_INTEREST,
     F.FUTURES_OPEN_INTEREST)
)  # fmt: skip
NUMBER_FIELDS: frozenset[int] = PRICE_FIELDS | SIZE_FIELDS
_OPTIONS = ("tempo", "snapshot", "fields")
_ACCOUNT_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
_INT_KEYS = orjson.OPT_NON_STR_KEYS
#: What the seed's grammar may skip around its parts: str.strip() would also drop Unicode spaces.
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
_USAGE = "expected s+md+CONID[+{options}], u+md+CONID or s+realtime-account-data+ACCT"


@dataclass(frozen=True, slots=True)
class SubscribeMarketData:
    """`s+md+CONID[+{...}]`.

    `fields` is None when the client named none (the server picks its default set); otherwise a
    non-empty tuple of known ids without duplicates. `tempo_ms` is 0 for "every change", else
    the flush interval. `snapshot` asks for everything currently known to be sent at once.
    """

    conid: int
    fields: tuple[int, ...] | None
    tempo_ms: int
    snapshot: bool


@dataclass(frozen=True, slots=True)
class UnsubscribeMarketData:
    """`u+md+CONID`."""

    conid: int


@dataclass(frozen=True, slots=True)
class SubscribeAccount:
    """`s+realtime-account-data+ACCT`: stream the day's orders and P&L of `account`."""

    account: str


@dataclass(frozen=True, slots=True)
class UnsubscribeAccount:
    """`u+realtime-account-data+ACCT`."""

    account: str


PortalCommand = SubscribeMarketData | UnsubscribeMarketData | SubscribeAccount | UnsubscribeAccount


def parse(
    text: str,
    *,
    known_fields: frozenset[int] = SEED_FIELDS,
    max_tempo_ms: int = 3_600_000,
) -> PortalCommand:
    """Parse one client text message of the portal dialect.

    Guarantees: returns a fully validated command or raises `ProtocolError`; no other exception
    escapes for any `text`. Field ids are checked against `known_fields`; `tempo` must lie in
    0..`max_tempo_ms`.
    """
    head, options_text = _split_options(text.strip(ASCII_WHITESPACE))
    _refuse_unicode_whitespace(head)
    parts = [part.strip(ASCII_WHITESPACE) for part in head.split("+")]
    topic = _readable_topic(parts)
    if len(parts) < 3 or parts[0] not in ("s", "u"):
        raise ProtocolError(_shape_error(parts), topic=topic)
    if parts[1] not in SUPPORTED_TOPICS:
        raise ProtocolError(
            f"unknown topic {_show(parts[1])}; supported: {', '.join(SUPPORTED_TOPICS)}",
            topic=None,
        )
    if len(parts) == 4:
        raise ProtocolError(
            f"expected JSON options like {{\"tempo\":1000}} after the last '+', "
            f"got {_show(parts[3])}",
            topic=topic,
        )
    if len(parts) > 4:
        raise ProtocolError(f"too many '+' separated parts; {_USAGE}", topic=topic)
    options = _load_options(options_text, topic)
    subscribe = parts[0] == "s"
    if parts[1] == ACCOUNT:
        account = _account(parts[2])
        _expect_no_options(options, f"{parts[0]}+{ACCOUNT}", topic)
        return SubscribeAccount(account) if subscribe else UnsubscribeAccount(account)
    conid = _conid(parts[2])
    if not subscribe:
        _expect_no_options(options, "u+md", topic)
        return UnsubscribeMarketData(conid)
    return _subscribe_md(conid, options, topic, known_fields, max_tempo_ms)


def _split_options(text: str) -> tuple[str, str | None]:
    """Split `s+md+1+{...}` into `s+md+1` and `{...}`; JSON may itself contain '+'."""
    brace = text.find("{")
    if brace < 0:
        return text, None
    if brace == 0:
        raise ProtocolError(f"expected a command, not a JSON object; {_USAGE}")
    head = text[:brace].rstrip(ASCII_WHITESPACE)
    if not head.endswith("+"):
        raise ProtocolError(
            f"JSON options must follow a '+' separator; {_USAGE}",
            topic=_readable_topic([p.strip(ASCII_WHITESPACE) for p in head.split("+")]),
        )
    return head[:-1], text[brace:]


def _refuse_unicode_whitespace(head: str) -> None:
    """Only ASCII whitespace may pad a command's parts: name any other space character."""
    if head.isascii():
        return
    char = next((c for c in head if c.isspace() and not c.isascii()), None)
    if char is not None:
        name = unicodedata.name(char, "a space character")
        raise ProtocolError(
            f"unexpected U+{ord(char):04X} ({name}) in the command: only ASCII spaces, tabs "
            f"and line breaks may surround its parts; {_USAGE}"
        )


def _readable_topic(parts: list[str]) -> str | None:
    """`md+CONID` / `realtime-account-data+ACCT` if parts 1 and 2 are valid, else None."""
    if len(parts) < 3:
        return None
    try:
        if parts[1] == MD:
            return f"{MD}+{_conid(parts[2])}"
        if parts[1] == ACCOUNT:
            return f"{ACCOUNT}+{_account(parts[2])}"
    except ProtocolError:
        return None
    return None


def _shape_error(parts: list[str]) -> str:
    if not parts[0]:
        return f"empty message; {_USAGE}"
    if parts[0] not in ("s", "u"):
        return f"a message starts with s+ (subscribe) or u+ (unsubscribe), got {_show(parts[0])}"
    if len(parts) < 2 or not parts[1]:
        return f"missing topic; {_USAGE}"
    if parts[1] == MD:
        return f"md needs a conid: {parts[0]}+md+CONID"
    if parts[1] == ACCOUNT:
        return f"{ACCOUNT} needs an account id: {parts[0]}+{ACCOUNT}+ACCT"
    return f"unknown topic {_show(parts[1])}; supported: {', '.join(SUPPORTED_TOPICS)}"


def _conid(raw: str) -> int:
    # isascii() first: str.isdigit() also accepts digits of other scripts and superscripts.
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= MAX_CONID:
        return int(raw)
    raise ProtocolError(f"conid must be a positive integer, got {_show(raw)}")


def _account(raw: str) -> str:
    if 0 < len(raw) <= MAX_ACCOUNT_LENGTH and set(raw) <= _ACCOUNT_CHARS:
        return raw
    raise ProtocolError(f"account must be an account id like U1234567, got {_show(raw)}")


def _load_options(text: str | None, topic: str | None) -> dict[str, object]:
    if text is None:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON options: {exc}", topic=topic) from None
    if exceeds_depth(value):
        raise ProtocolError(depth_error(), topic=topic)
    if not isinstance(value, dict):
        raise ProtocolError(
            f'options must be a JSON object like {{"tempo":1000}}, got {_show(value)}',
            topic=topic,
        )
    return value


def _expect_no_options(options: dict[str, object], command: str, topic: str | None) -> None:
    if options:
        key = next(iter(options))
        raise ProtocolError(f"unknown option {_show(key)}: {command} takes no options", topic=topic)


def _subscribe_md(
    conid: int,
    options: dict[str, object],
    topic: str | None,
    known_fields: frozenset[int],
    max_tempo_ms: int,
) -> SubscribeMarketData:
    for key in options:
        if key not in _OPTIONS:
            raise ProtocolError(
                f"unknown option {_show(key)}; supported: {', '.join(_OPTIONS)}", topic=topic
            )
    return SubscribeMarketData(
        conid=conid,
        fields=_fields(options["fields"], known_fields, topic) if "fields" in options else None,
        tempo_ms=_tempo(options.get("tempo", 0), max_tempo_ms, topic),
        snapshot=_snapshot(options.get("snapshot", False), topic),
    )


def _tempo(value: object, max_tempo_ms: int, topic: str | None) -> int:
    # bool is an int subclass: `true` must not mean 1 ms.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= max_tempo_ms:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= max_tempo_ms:
        return int(value)
    raise ProtocolError(
        f"tempo must be a whole number of milliseconds between 0 and {max_tempo_ms}, "
        f"got {_show(value)}",
        topic=topic,
    )


def _snapshot(value: object, topic: str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ProtocolError(f"snapshot must be true or false, got {_show(value)}", topic=topic)


def _fields(value: object, known: frozenset[int], topic: str | None) -> tuple[int, ...]:
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = value
    else:
        raise ProtocolError(
            'fields must be a comma-separated string like "55,22,23" or a list of field ids, '
            f"got {_show(value)}",
            topic=topic,
        )
    ids = [_field_id(item, known, topic) for item in items]
    if not ids:
        raise ProtocolError("fields must name at least one field id", topic=topic)
    return tuple(dict.fromkeys(ids))


def _field_id(item: object, known: frozenset[int], topic: str | None) -> int:
    if isinstance(item, str):
        raw = item.strip(ASCII_WHITESPACE)
        # Length cap before int(): huge digit strings are slow to convert and never known ids.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise ProtocolError(
                f"field ids must be whole numbers, got {_show(item)} in fields", topic=topic
            )
        item = int(raw)
    if not isinstance(item, int) or isinstance(item, bool):
        raise ProtocolError(
            f"field ids must be whole numbers, got {_show(item)} in fields", topic=topic
        )
    if item not in known:
        raise ProtocolError(f"unknown field id {item} in fields", topic=topic)
    return item


def _show(value: object) -> str:
    """A short, JSON-flavoured rendering of a client's value for an error message."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return repr(shown)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


#: Text already typed, shared by every frame: prices sit on a tick grid and sizes repeat, so
#: nearly every value is a hit (a dict lookup instead of a regex match). Cleared when full.
_TYPED: dict[str, str | int | float] = {}
_TYPED_LIMIT = 65_536


def market_values(values: Mapping[int, str]) -> dict[int, str | int | float]:
    """`values` typed for this dialect: prices and sizes with a plain value as JSON numbers
    (`decimals.wire_number`, exact), `fields.INTEGER_FIELDS` as integers, the rest as text."""
    typed = _TYPED
    out: dict[int, str | int | float] = {}
    for fid, text in wire_values(values).items():
        if fid not in NUMBER_FIELDS or not isinstance(text, str):
            out[fid] = text
            continue
        value = typed.get(text)
        if value is None:
            number = wire_number(text)
            value = text if number is None else number
            if len(typed) >= _TYPED_LIMIT:
                typed.clear()
            typed[text] = value
        out[fid] = value
    return out


def encode_market(conid: int, values: Mapping[int, str], ts_ns: int) -> bytes:
    """`{"31":154.81,...,"topic":"md+CONID"}`: field ids as string keys, values typed by
    `market_values`, the topic last.

    `ts_ns` is accepted for the common encoder signature; the seed's frames carry no timestamp.
    """
    # Hot path (once per channel per change): splicing the topic member onto the encoded values
    # is about twice as fast as copying the dict to append a key.
    body = orjson.dumps(market_values(values), option=_INT_KEYS)
    separator = b"," if len(body) > 2 else b""
    return b'%s%s"topic":"md+%d"}' % (body[:-1], separator, conid)


def wire_text(fid: int, value: object, decimals: int | None) -> str:
    """The inverse of `market_values` for a client of this dialect: a received value as the
    market engine's text. A price number is shown with `decimals` decimals (189.5 at 2 is
    "189.50"; None keeps the decimals the number has), a size with thousands separators (field
    7762, the exact volume, without), anything else as `str` of it. A float is read through its
    shortest repr, so the text is the decimal that was sent."""
    if isinstance(value, bool) or not isinstance(value, int | float) or fid not in NUMBER_FIELDS:
        return str(value)
    if fid in PRICE_FIELDS:
        exact = Decimal(repr(value))
        return F.format_price(exact, decimals) if decimals is not None else f"{exact:f}"
    if isinstance(value, int) and value >= 0 and fid != F.VOLUME_EXACT:
        return F.format_size(value)
    return f"{Decimal(repr(value)):f}"


def encode_error(message: str, topic: str | None) -> bytes:
    """`{"error":"...","topic":"..."}`, or `{"error":"..."}` when no topic could be read."""
    if topic is None:
        return orjson.dumps({"error": message})
    return orjson.dumps({"error": message, "topic": topic})


def encode_account_orders(account: str, orders: list[dict[str, object]]) -> bytes:
    """`{"orders":[...],"topic":"realtime-account-data+ACCT"}`.

    Decimal values are written as JSON strings (exact, as the ledger keeps them). Raises
    TypeError for values JSON cannot carry.
    """
    return orjson.dumps({"orders": orders, "topic": f"{ACCOUNT}+{account}"}, default=text_json)


def encode_topic_payload(topic: str, payload: Mapping[str, object]) -> bytes:
    """`payload` as a JSON object with `"topic"` as the last key (replacing any in `payload`).

    Decimal values are written as JSON strings. Raises TypeError for values JSON cannot carry.
    """
    frame = {key: value for key, value in payload.items() if key != "topic"}
    frame["topic"] = topic
    return orjson.dumps(frame, default=text_json)
