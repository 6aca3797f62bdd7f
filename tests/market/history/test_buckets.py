"""History's trading windows and bar buckets, read off the market calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import islice, pairwise

import pytest

from tickgate.clock import NS_PER_HOUR, NS_PER_MINUTE
from tickgate.market.calendar import CME_GLOBEX, FX, US_EQUITY, US_REGULAR
from tickgate.market.history.buckets import bucket_floor_ns, bucket_key, segments_before
from tickgate.market.history.query import parse_bar


def utc(text: str) -> int:
    """Epoch ns of 'YYYY-MM-DD HH:MM' UTC."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def test_stock_sessions_of_a_day_latest_first() -> None:
    thursday_night = utc("2026-01-16 04:00")  # Thursday 23:00 EST
    windows = list(islice(segments_before(US_EQUITY, thursday_night), 3))
    assert [(w.start_ns, w.end_ns, w.rth) for w in windows] == [
        (utc("2026-01-15 21:00"), utc("2026-01-16 01:00"), False),
        (utc("2026-01-15 14:30"), utc("2026-01-15 21:00"), True),
        (utc("2026-01-15 09:00"), utc("2026-01-15 14:30"), False),
    ]
    assert sum(w.volume_share for w in windows) == pytest.approx(1.0)


def test_a_window_in_progress_is_cut_at_the_end() -> None:
    end = utc("2026-01-15 15:00")
    first = next(segments_before(US_REGULAR, end))
    assert (first.start_ns, first.end_ns, first.full_ns) == (
        utc("2026-01-15 14:30"),
        end,
        390 * NS_PER_MINUTE,
    )


def test_weekends_and_holidays_have_no_sessions() -> None:
    sunday = utc("2026-01-18 12:00")
    assert next(segments_before(US_REGULAR, sunday)).start_ns == utc("2026-01-16 14:30")
    # Monday 2026-01-19 is Martin Luther King Jr. Day: Tuesday's window follows Friday's.
    tuesday = utc("2026-01-20 15:00")
    starts = [w.start_ns for w in islice(segments_before(US_REGULAR, tuesday), 2)]
    assert starts == [utc("2026-01-20 14:30"), utc("2026-01-16 14:30")]


def test_an_early_close_shortens_the_day() -> None:
    after = utc("2026-11-28 12:00")  # Saturday after the early close of Friday 2026-11-27
    windows = list(islice(segments_before(US_EQUITY, after), 3))
    assert [(w.start_ns, w.end_ns, w.rth) for w in windows] == [
        (utc("2026-11-27 18:00"), utc("2026-11-27 22:00"), False),  # 13:00-17:00 EST
        (utc("2026-11-27 14:30"), utc("2026-11-27 18:00"), True),
        (utc("2026-11-27 09:00"), utc("2026-11-27 14:30"), False),
    ]


def test_fx_sessions_run_from_17_00_to_17_00_new_york_time() -> None:
    monday_noon = utc("2026-01-19 17:00")
    session = next(segments_before(FX, monday_noon))
    assert session.start_ns == utc("2026-01-18 22:00")  # Sunday 17:00 EST
    assert session.full_ns == 24 * NS_PER_HOUR and session.rth
    assert FX.trading_date(utc("2026-01-18 22:30")) == date(2026, 1, 19)
    assert US_EQUITY.trading_date(utc("2026-01-18 22:30")) == date(2026, 1, 18)
    assert FX.date_start_ns(date(2026, 1, 19)) == session.start_ns


def test_futures_windows_leave_the_daily_maintenance_break() -> None:
    wednesday = utc("2026-01-15 00:00")  # Wednesday 18:00 CST
    windows = list(islice(segments_before(CME_GLOBEX, wednesday), 4))
    assert [(w.start_ns, w.end_ns, w.rth) for w in windows] == [
        (utc("2026-01-14 23:00"), utc("2026-01-15 00:00"), False),  # Thursday's, from 17:00
        (utc("2026-01-14 21:00"), utc("2026-01-14 22:00"), False),  # 15:00-16:00 CST
        (utc("2026-01-14 14:30"), utc("2026-01-14 21:00"), True),
        (utc("2026-01-13 23:00"), utc("2026-01-14 14:30"), False),
    ]


def test_intraday_buckets_are_cut_from_local_midnight() -> None:
    at = utc("2026-01-15 14:47")  # 09:47 EST
    assert bucket_floor_ns(at, parse_bar("5min"), US_EQUITY) == utc("2026-01-15 14:45")
    assert bucket_floor_ns(at, parse_bar("1h"), US_EQUITY) == utc("2026-01-15 14:00")
    assert bucket_floor_ns(at, parse_bar("8h"), US_EQUITY) == utc("2026-01-15 13:00")
    assert bucket_key(at, parse_bar("4h"), US_EQUITY) == utc("2026-01-15 13:00")


@pytest.mark.parametrize("day", ["2026-03-08", "2026-11-01"])
def test_buckets_follow_the_wall_clock_on_daylight_saving_switch_days(day: str) -> None:
    hour = parse_bar("1h")
    start = utc(f"{day} 04:00")
    keys = [bucket_key(start + m * NS_PER_MINUTE, hour, US_EQUITY) for m in range(0, 6 * 60)]
    assert all(a <= b for a, b in pairwise(keys))
    # Every bucket starts on a whole local hour.
    assert all(US_EQUITY.local(k)[1] % 60 == 0 for k in keys)
    # 10:00 local is 14:00 UTC in daylight time, 15:00 UTC in standard time.
    ten = bucket_floor_ns(utc(f"{day} 15:30"), hour, US_EQUITY)
    assert US_EQUITY.local(ten)[1] in (10 * 60, 11 * 60)


def test_day_week_and_month_buckets_follow_the_trading_date() -> None:
    thursday_evening_fx = utc("2026-01-29 23:30")  # Thursday 18:30 EST -> Friday's session
    day, week, month = (parse_bar(b) for b in ("1d", "1w", "1m"))
    assert bucket_key(thursday_evening_fx, day, FX) == date(2026, 1, 30).toordinal()
    assert bucket_key(thursday_evening_fx, week, FX) == date(2026, 1, 26).toordinal()
    assert bucket_key(thursday_evening_fx, month, FX) == 2026 * 12
    assert bucket_floor_ns(thursday_evening_fx, week, FX) == utc("2026-01-25 22:00")
    assert bucket_floor_ns(thursday_evening_fx, month, US_EQUITY) == utc("2026-01-01 05:00")
