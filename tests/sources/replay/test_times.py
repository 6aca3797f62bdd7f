"""Replay times and speeds as users write them."""

from __future__ import annotations

import pytest

from tickgate.sources.replay.times import (
    format_timestamp,
    parse_position,
    parse_speed,
    parse_timestamp,
)

NOON = 1_767_355_200_000_000_000  # 2026-01-02T12:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T12:00:00Z", NOON),
        ("2026-01-02T12:00:00", NOON),  # no zone: UTC
        ("2026-01-02T07:00:00-05:00", NOON),
        ("2026-01-02T12:00:00.000250Z", NOON + 250_000),
        (str(NOON + 7), NOON + 7),
    ],
)
def test_timestamps(text: str, expected: int) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("text", "offset_ns"),
    [
        ("+90", 90_000_000_000),
        ("+1.5m", 90_000_000_000),
        ("+250ms", 250_000_000),
        ("+2h", 7200 * 10**9),
    ],
)
def test_positions_after_the_start(text: str, offset_ns: int) -> None:
    assert parse_position(text, start_ns=NOON) == NOON + offset_ns


def test_speeds() -> None:
    assert parse_speed("max") is None and parse_speed(" MAX ") is None
    assert parse_speed("2.5") == 2.5
    for bad in ("0", "-1", "fast", "nan", "inf"):
        with pytest.raises(ValueError, match="positive number or 'max'"):
            parse_speed(bad)


def test_bad_times_say_which_forms_work() -> None:
    with pytest.raises(ValueError, match="ISO 8601 like 2026-01-02T14:30:00Z, or epoch ns"):
        parse_timestamp("noon")
    forms = r"ISO 8601 like 2026-01-02T14:30:00Z, epoch ns, or \+N\[ms\|s\|m\|h\]"
    with pytest.raises(ValueError, match=forms):
        parse_position("+ten", start_ns=NOON)
    assert format_timestamp(NOON + 250_000) == "2026-01-02T12:00:00.000250Z"
