"""Strict readers for the values of REST bodies and query strings.

Python's own conversions are too lenient for untrusted input: `int()` and `Decimal()` accept
any Unicode digit (`"١"` is 1, `"２６５５９８"` a conid), underscores (`"265_598"`) and surrounding
whitespace, `str.isdigit()` is true for `"²"` which `int()` refuses, `Decimal()` takes `"NaN"`,
`"Infinity"` and exponents no later arithmetic survives, and `bool()` makes `"false"` true.
Every reader here accepts one plain spelling (JSON numbers, or ASCII digits in a string), checks
the range the caller names, and raises `RequestError` (HTTP 400) whose message names the field
and shows a short rendering of what was sent.
"""

from __future__ import annotations

import re
from decimal import Decimal

from tickgate.errors import RequestError

__all__ = ["ascii_int", "bounded_decimal", "json_bool", "printable_text", "shown"]

#: Longest numeric string read at all: enough for any price or quantity with its decimals.
MAX_NUMBER_TEXT = 40
_INTEGER = re.compile(r"-?[0-9]{1,19}", re.ASCII)
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?", re.ASCII)
_SHOWN = 40


def shown(value: object) -> str:
    """A short, safe rendering of a client's value for an error message.

    Strings and numbers are shown (cut after 40 characters); objects and lists by their kind
    only, so neither a 100,000-character string nor a deeply nested list reaches a log line.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON list"
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def ascii_int(raw: object, name: str, *, minimum: int, maximum: int) -> int:
    """`raw` as an int in `[minimum, maximum]`: a JSON integer, or a string of ASCII digits
    with an optional leading minus sign and nothing else (no spaces, `+`, `_` or fractions).

    Raises RequestError (400) naming `name` otherwise.
    """
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and _INTEGER.fullmatch(raw):
        value = int(raw)
    if value is None:
        raise RequestError(f"Invalid {name}: {shown(raw)} is not an integer")
    if not minimum <= value <= maximum:
        raise RequestError(f"Invalid {name}: {shown(raw)} is out of range ({minimum} to {maximum})")
    return value


def bounded_decimal(raw: object, name: str, *, maximum: Decimal, places: int) -> Decimal:
    """`raw` as a finite Decimal with `|value| <= maximum` and at most `places` decimals.

    Accepts a JSON number or a plain ASCII numeric string (`"12.5"`, `"-3"`, `"1e3"`; at most
    40 characters). Refused with RequestError (400) naming `name`: booleans, other types, NaN,
    infinities, other spellings, values beyond `maximum` and finer than `places` decimals.
    Within these bounds the engine's 28-digit decimal arithmetic is exact (callers keep
    `maximum * 10**places` below 10**28). The result carries no redundant exponent.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise RequestError(f"Invalid {name}: {shown(raw)} is not a number")
    if isinstance(raw, int):
        value = Decimal(raw)  # exact, and no decimal string of a huge int is ever built
    else:
        text = raw if isinstance(raw, str) else repr(raw)
        if len(text) > MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
            raise RequestError(f"Invalid {name}: {shown(raw)} is not a number")
        value = Decimal(text)
    if abs(value) > maximum:
        raise RequestError(f"Invalid {name}: {shown(raw)} exceeds the maximum of {maximum}")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise RequestError(f"Invalid {name}: {shown(raw)} has more than {places} decimal places")
    return _plain(value)


def _plain(value: Decimal) -> Decimal:
    """The same number with no redundant exponent: `1e3` -> 1000, `2.50` -> 2.5, `0e-9` -> 0,
    so that stored values print as the client meant them."""
    reduced = value.normalize()
    exponent = reduced.as_tuple().exponent
    return reduced.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else reduced


def json_bool(raw: object, name: str) -> bool:
    """`raw` as a bool: JSON `true`/`false`, or the strings `"true"`/`"false"` (any case),
    which form-minded clients send. Anything else (`"no"`, `0`, `-1`, ...) is a RequestError
    (400): guessing would turn `"false"` into true."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise RequestError(f"Invalid {name}: {shown(raw)}; expected true or false")


def printable_text(raw: object, name: str, *, max_length: int) -> str:
    """`raw` as a string of 1 to `max_length` printable characters (no control, format or
    line-separator characters). Raises RequestError (400) naming `name` otherwise."""
    if not isinstance(raw, str):
        raise RequestError(f"Invalid {name}: {shown(raw)}; expected a string")
    if not 1 <= len(raw) <= max_length:
        raise RequestError(f"Invalid {name}: must be 1 to {max_length} characters, got {len(raw)}")
    if not raw.isprintable():
        raise RequestError(f"Invalid {name}: {shown(raw)} contains unprintable characters")
    return raw
