"""Reading a fault's JSON body: each value checked, a bad one a 400 naming the key."""

from __future__ import annotations

from typing import Any

from tickgate.errors import RequestError

#: The longest a fault may last, and the longest latency.
MAX_SECONDS = 86_400.0
MAX_MS = 600_000.0


def only(body: dict[str, Any], allowed: set[str]) -> None:
    """Raises RequestError naming any key of `body` outside `allowed`: a typo (`"second"`)
    must not silently inject a fault that never ends."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RequestError(
            f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}"
        )


def number(
    body: dict[str, Any], key: str, *, low: float, high: float, integer: bool = False
) -> float | None:
    """`body[key]` as a number within [low, high], or None when absent. Raises RequestError."""
    value = body.get(key)
    if value is None:
        return None
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"{key} must be {kind}, not {value!r}")
    if integer and not isinstance(value, int):
        raise RequestError(f"{key} must be {kind}, not {value!r}")
    if not low <= value <= high:
        raise RequestError(f"{key} must be between {low:g} and {high:g}, not {value!r}")
    return value


def integer(body: dict[str, Any], key: str, *, low: int, high: int) -> int | None:
    """`body[key]` as an integer within [low, high], or None when absent."""
    value = number(body, key, low=low, high=high, integer=True)
    return None if value is None else int(value)


def text(body: dict[str, Any], key: str, *, default: str, longest: int = 200) -> str:
    """`body[key]` as a non-empty string of at most `longest` characters, or `default`."""
    value = body.get(key, default)
    if not isinstance(value, str) or not value or len(value) > longest:
        raise RequestError(f"{key} must be a non-empty string of at most {longest} characters")
    return value


def seconds(body: dict[str, Any]) -> float | None:
    """The optional `seconds` a fault lasts (> 0)."""
    value = number(body, "seconds", low=0.0, high=MAX_SECONDS)
    if value is not None and value <= 0:
        raise RequestError("seconds must be more than 0")
    return value
