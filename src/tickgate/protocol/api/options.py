"""Validation of the JSON option values of the api dialect (`fields`, `keys`, `days`, ...).

Each function takes a client's raw JSON value and returns a typed value or raises
`ProtocolError` carrying `topic`, with a message naming the option and what it accepts.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from tickgate.errors import ProtocolError

Options = dict[str, object]

MAX_FIELD_ID = 999_999
MAX_TRADE_DAYS = 7
MAX_STRINGS = 200
MAX_STRING_LENGTH = 64


def show(value: object) -> str:
    """A short rendering of a client's value for an error message; never raises."""
    try:
        text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError:  # e.g. nested deeper than orjson writes
        text = type(value).__name__
    return repr(text if len(text) <= 60 else text[:60] + "...")


def field_ids(value: object, topic: str) -> tuple[int, ...]:
    """`["31","84"]`, `[31,84]` or `"31,84"` -> (31, 84): duplicates dropped, order kept.

    Any whole number up to `MAX_FIELD_ID` is accepted: ids without values are never sent.
    """
    if isinstance(value, str):
        items: list[object] = [item for item in value.split(",") if item.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise ProtocolError(
            f'fields must be a list like ["31","84"] or a string like "31,84", got {show(value)}',
            topic=topic,
        )
    # An empty list asks for nothing in particular: the default fields (§5.1: fields optional).
    return tuple(dict.fromkeys(_field_id(item, topic) for item in items))


def _field_id(item: object, topic: str) -> int:
    if isinstance(item, str):
        raw = item.strip()
        # isascii(): str.isdigit() also accepts other scripts' digits and superscripts.
        if raw.isascii() and raw.isdigit() and len(raw) <= 6:
            item = int(raw)
    if isinstance(item, int) and not isinstance(item, bool) and 0 < item <= MAX_FIELD_ID:
        return item
    raise ProtocolError(f"field ids must be whole numbers, got {show(item)} in fields", topic=topic)


def strings(value: object, name: str, topic: str) -> tuple[str, ...]:
    """A list of strings (or one string, or null) -> a tuple without duplicates."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_STRINGS:
        raise ProtocolError(f"{name} must be a list of strings, got {show(value)}", topic=topic)
    for item in items:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_STRING_LENGTH:
            raise ProtocolError(
                f"{name} must be a list of non-empty strings, got {show(item)}", topic=topic
            )
    return tuple(dict.fromkeys(item for item in items if isinstance(item, str)))


def boolean(value: object, name: str, topic: str) -> bool:
    """JSON true/false, or the strings "true"/"false" in any case (clients that stringify)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ProtocolError(f"{name} must be true or false, got {show(value)}", topic=topic)


def trade_days(value: object, topic: str) -> int:
    """`days` of `str`: a whole number from 1 to 7 (JSON number or digit string)."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip()[:3])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TRADE_DAYS:
        return value
    raise ProtocolError(
        f"days must be a whole number from 1 to {MAX_TRADE_DAYS}, got {show(value)}", topic=topic
    )


def history_text(
    options: Options, name: str, topic: str, valid: Callable[[str], bool]
) -> str | None:
    """An optional string option of `smh`; None when absent or null."""
    value = options.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value and valid(value):
        return value
    raise ProtocolError(f"invalid {name} {show(value)} for smh", topic=topic)
