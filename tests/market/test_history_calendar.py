"""Trading sessions and buckets on US/Eastern time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import islice

import pytest

from tickgate.market.history_calendar import (
    HOUR_NS,
    MINUTE_NS,
    Schedule,
    bucket_floor_ns,
    bucket_key,
    date_start_ns,
    eastern_offset_ns,
    local_to_utc_ns,
    segments_before,
    trading_date,
)
from tickgate.market.history_query import parse_bar


def utc(text: str) -> int:
    """Epoch ns of 'YYYY-MM-DD HH:MM' UTC."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("moment", "hours"),
    [
        ("2026-01-15 12:00", -5),
        ("2026-07-15 12:00", -4),
        ("2026-03-08 06:59", -5),  # DST starts 2026-03-08 02:00 EST = 07:00 UTC
        ("2026-03-08 07:00", -4),
        ("2026-11-01 05:59", -4),  # DST ends 2026-11-01 02:00 EDT = 06:00 UTC
        ("2026-11-01 06:00", -5),
    ],
)
def test_eastern_offset_follows_us_daylight_saving(moment: str, hours: int) -> None:
    assert eastern_offset_ns(utc(moment)) == hours * HOUR_NS


def test_local_times_convert_in_both_seasons() -> None:
    assert local_to_utc_ns(date(2026, 1, 15), 570) == utc("2026-01-15 14:30")
    assert local_to_utc_ns(date(2026, 7, 15), 570) == utc("2026-07-15 13:30")


def test_stock_sessions_of_a_day_latest_first() -> None:
    thursday_night = utc("2026-01-16 04:00")  # Thursday 23:00 EST
    windows = list(islice(segments_before(Schedule.EXTENDED, thursday_night), 3))
    assert [(w.start_ns, w.end_ns, w.rth) for w in windows] == [
        (utc("2026-01-15 21:00"), utc("2026-01-16 01:00"), False),
        (utc("2026-01-15 14:30"), utc("2026-01-15 21:00"), True),
        (utc("2026-01-15 09:00"), utc("2026-01-15 14:30"), False),
    ]
    assert sum(w.volume_share for w in windows) == pytest.approx(1.0)


def test_a_window_in_progress_is_cut_at_the_end() -> None:
    end = utc("2026-01-15 15:00")
    first = next(segments_before(Schedule.REGULAR, end))
    assert (first.start_ns, first.end_ns, first.full_ns) == (
        utc("2026-01-15 14:30"),
        end,
        390 * MINUTE_NS,
    )


def test_weekends_have_no_sessions() -> None:
    sunday = utc("2026-01-18 12:00")
    latest = next(segments_before(Schedule.REGULAR, sunday))
    assert latest.start_ns == utc("2026-01-16 14:30")  # Friday


def test_fx_sessions_run_from_18_00_to_17_00_and_belong_to_the_next_date() -> None:
    monday_noon = utc("2026-01-19 17:00")
    session = next(segments_before(Schedule.AROUND_THE_CLOCK, monday_noon))
    assert session.start_ns == utc("2026-01-18 23:00")  # Sunday 18:00 EST
    assert session.full_ns == 23 * HOUR_NS
    assert trading_date(utc("2026-01-18 23:30"), Schedule.AROUND_THE_CLOCK) == date(2026, 1, 19)
    assert trading_date(utc("2026-01-18 23:30"), Schedule.EXTENDED) == date(2026, 1, 18)
    assert date_start_ns(date(2026, 1, 19), Schedule.AROUND_THE_CLOCK) == session.start_ns


def test_intraday_buckets_are_cut_from_local_midnight() -> None:
    at = utc("2026-01-15 14:47")  # 09:47 EST
    assert bucket_floor_ns(at, parse_bar("5min"), Schedule.EXTENDED) == utc("2026-01-15 14:45")
    assert bucket_floor_ns(at, parse_bar("1h"), Schedule.EXTENDED) == utc("2026-01-15 14:00")
    assert bucket_floor_ns(at, parse_bar("8h"), Schedule.EXTENDED) == utc("2026-01-15 13:00")
    assert bucket_key(at, parse_bar("4h"), Schedule.EXTENDED) == utc("2026-01-15 13:00")


def test_day_week_and_month_buckets_follow_the_trading_date() -> None:
    friday_evening_fx = utc("2026-01-29 23:30")  # Thursday 18:30 EST -> Friday's session
    day, week, month = (parse_bar(b) for b in ("1d", "1w", "1m"))
    schedule = Schedule.AROUND_THE_CLOCK
    assert bucket_key(friday_evening_fx, day, schedule) == date(2026, 1, 30).toordinal()
    assert bucket_key(friday_evening_fx, week, schedule) == date(2026, 1, 26).toordinal()
    assert bucket_key(friday_evening_fx, month, schedule) == 2026 * 12
    assert bucket_floor_ns(friday_evening_fx, week, schedule) == utc("2026-01-25 23:00")
    assert bucket_floor_ns(friday_evening_fx, month, Schedule.EXTENDED) == utc("2026-01-01 05:00")
