"""Times and speeds a replay is told about: ``--from``/``--to``/seek targets and ``--speed``."""

from __future__ import annotations

import datetime
import re

from tickgate.clock import NS_PER_HOUR, NS_PER_MINUTE, NS_PER_MS, NS_PER_S

_OFFSET = re.compile(r"\+(\d+(?:\.\d+)?)(ms|s|m|h)?")
#: The forms `parse_position` reads, for error messages.
POSITION_FORMS = (
    "use ISO 8601 like 2026-01-02T14:30:00Z, epoch ns, or +N[ms|s|m|h] after the replay's start"
)
_UNITS = {"ms": NS_PER_MS, "s": NS_PER_S, "m": NS_PER_MINUTE, "h": NS_PER_HOUR}


def parse_timestamp(text: str) -> int:
    """Epoch nanoseconds from an integer (epoch ns) or an ISO 8601 time (UTC when it names no
    zone), e.g. ``2026-01-02T14:30:00.25Z``. Raises ValueError with the reason."""
    raw = text.strip()
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO 8601 like 2026-01-02T14:30:00Z, or epoch ns)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def parse_position(text: str, *, start_ns: int) -> int:
    """A replay position: an absolute time (`parse_timestamp`) or ``+N[ms|s|m|h]`` after
    `start_ns` (seconds without a unit). Raises ValueError with the reason."""
    match = _OFFSET.fullmatch(text.strip())
    if match:
        amount, unit = match.groups()
        return start_ns + round(float(amount) * _UNITS[unit or "s"])
    try:
        return parse_timestamp(text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} ({POSITION_FORMS})") from None


def parse_speed(text: str) -> float | None:
    """A replay speed: a positive multiple of the recorded pace, or ``max`` (None: as fast as
    possible). Raises ValueError with the reason."""
    raw = str(text).strip().lower()
    if raw == "max":
        return None
    try:
        speed = float(raw)
    except ValueError:
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}") from None
    if not 0 < speed <= 1_000_000 or speed != speed:
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}")
    return speed


def format_timestamp(ts_ns: int) -> str:
    """ISO 8601 UTC with microseconds, for status and notices."""
    moment = datetime.datetime.fromtimestamp(ts_ns // 1000 / 1_000_000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
