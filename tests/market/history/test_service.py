"""HistoryService: synthetic pre-history plus live bars, windows, resampling and limits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from tests.instruments import EURUSD, stock

from tickgate.clock import NS_PER_MINUTE, FakeClock
from tickgate.errors import NotFoundError, RequestError
from tickgate.market.bars import Bar, aggregate
from tickgate.market.calendar import US_EQUITY
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.history.service import HistoryService, parse_start_time
from tickgate.model.instruments import Instrument
from tickgate.protocol import fields as F
from tickgate.server.errors import http_answer

AAPL = stock()


def ns(text: str) -> int:
    """Epoch ns of a 'YYYYMMDD-HH:MM:SS' UTC time."""
    return parse_start_time(text)


# Wednesday 2026-01-14 15:07:30 UTC = 10:07:30 EST, inside regular hours.
ANCHOR = ns("20260114-15:07:30")
LATER = ns("20260121-15:07:30")  # a week later


def service(seed: int = 7, clock: FakeClock | None = None) -> HistoryService:
    return HistoryService(Catalogue([AAPL, EURUSD]), seed=seed, clock=clock or FakeClock(ANCHOR))


def eastern_minute(at_ns: int) -> int:
    """Minutes after local midnight in US/Eastern."""
    return US_EQUITY.local(at_ns)[1]


CASES = [
    (AAPL, "1d", "1min", False),
    (AAPL, "2h", "5min", True),
    (AAPL, "1w", "1h", False),
    (AAPL, "1y", "1d", True),
    (AAPL, "15y", "1m", False),
    (EURUSD, "1d", "15min", False),
    (EURUSD, "1m", "4h", True),
]


@pytest.mark.parametrize(("instrument", "period", "bar", "outside"), CASES)
def test_bars_are_consistent_and_on_the_tick_grid(
    instrument: Instrument, period: str, bar: str, outside: bool
) -> None:
    bars = service().bars(instrument.conid, period=period, bar=bar, outside_rth=outside)
    assert bars
    assert all(a.start_ns < b.start_ns for a, b in pairwise(bars))
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert b.low > 0 and b.volume >= 0
        assert all(instrument.on_tick_grid(p) for p in (b.open, b.high, b.low, b.close))


@pytest.mark.parametrize(("instrument", "period", "bar", "outside"), CASES)
def test_same_seed_same_history(
    instrument: Instrument, period: str, bar: str, outside: bool
) -> None:
    def run(seed: int) -> list[Bar]:
        return service(seed).bars(instrument.conid, period=period, bar=bar, outside_rth=outside)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_the_history_arrives_at_the_reference_price() -> None:
    last = service().bars(AAPL.conid, period="1h", bar="1min")[-1]
    assert last.close == AAPL.reference_price
    assert last.start_ns == ANCHOR - 30 * 10**9 - NS_PER_MINUTE  # the minute before the anchor's


def test_each_bar_opens_near_the_previous_close() -> None:
    minutes = service().bars(AAPL.conid, period="1d", bar="1min")
    assert all(a.close == b.open for a, b in pairwise(minutes))
    days = service().bars(AAPL.conid, period="1y", bar="1d")
    assert all(abs(b.open - a.close) / a.close < Decimal("0.05") for a, b in pairwise(days))


def test_five_minute_bars_aggregate_their_one_minute_bars() -> None:
    end = "20260113-21:00:00"  # Tuesday 16:00 EST: one whole regular session
    history = service()
    minutes = history.bars(AAPL.conid, period="1d", bar="1min", start_time=end)
    fives = history.bars(AAPL.conid, period="1d", bar="5min", start_time=end)
    assert len(minutes) == 390 and len(fives) == 78
    assert fives == [aggregate(minutes[i : i + 5]) for i in range(0, 390, 5)]
    day = history.bars(AAPL.conid, period="1w", bar="1d", start_time=end)[-1]
    assert day == aggregate(minutes)


def test_hour_bars_start_with_a_half_bar_at_the_open() -> None:
    end = "20260113-21:00:00"
    hours = service().bars(AAPL.conid, period="1d", bar="1h", start_time=end)
    halves = service().bars(AAPL.conid, period="1d", bar="30min", start_time=end)
    assert [eastern_minute(b.start_ns) for b in hours] == [570, *range(600, 960, 60)]
    assert hours[1] == aggregate(halves[1:3])


def test_regular_hours_only_unless_outside_rth() -> None:
    history = service()
    end = "20260114-01:00:00"  # Tuesday 20:00 EST, the end of after-hours
    regular = history.bars(AAPL.conid, period="1d", bar="5min", start_time=end)
    extended = history.bars(AAPL.conid, period="1d", bar="5min", start_time=end, outside_rth=True)
    assert {eastern_minute(b.start_ns) for b in regular} == set(range(570, 960, 5))
    assert len(extended) == 16 * 12 and eastern_minute(extended[0].start_ns) == 240
    assert set(regular) <= set(extended)


def test_live_trades_follow_the_synthetic_history() -> None:
    clock = FakeClock(ANCHOR)
    history = service(clock=clock)
    prices = ["189.55", "189.60", "189.40", "189.45", "189.70", "189.65", "189.80"]
    for volume, price in enumerate(prices, start=1):
        clock.advance(seconds=20)
        changed = {F.LAST: price, F.LAST_SIZE: "100", F.VOLUME_EXACT: str(volume * 100)}
        history.record(AAPL.conid, changed, clock.now_ns())
    minutes = history.bars(AAPL.conid, period="30min", bar="1min")
    live = [b for b in minutes if b.start_ns >= ns("20260114-15:07:00")]
    start = ns("20260114-15:07:00")
    # Trades at :50 of 15:07, :10 :30 :50 of 15:08 and of 15:09.
    d = Decimal
    assert live == [
        Bar(start, d("189.55"), d("189.55"), d("189.55"), d("189.55"), 100),
        Bar(start + NS_PER_MINUTE, d("189.60"), d("189.60"), d("189.40"), d("189.45"), 300),
        Bar(start + 2 * NS_PER_MINUTE, d("189.70"), d("189.80"), d("189.65"), d("189.80"), 300),
    ]
    fives = history.bars(AAPL.conid, period="30min", bar="5min")
    synthetic = [b for b in minutes if ns("20260114-15:05:00") <= b.start_ns < start]
    assert len(synthetic) == 2
    assert fives[-1] == aggregate(synthetic + live)


def test_a_volume_rise_alone_is_a_trade_and_a_quote_alone_is_not() -> None:
    clock = FakeClock(ANCHOR)
    history = service(clock=clock)
    clock.advance(seconds=70)
    trade = {F.LAST: "189.55", F.LAST_SIZE: "100", F.VOLUME_EXACT: "100"}
    history.record(AAPL.conid, trade, clock.now_ns())
    history.record(AAPL.conid, {F.BID: "180.00", F.ASK: "199.00"}, clock.now_ns())
    history.record(AAPL.conid, {F.BID_SIZE: "900", F.VOLUME_EXACT: "350"}, clock.now_ns())
    last = history.bars(AAPL.conid, period="2min", bar="1min")[-1]
    price = Decimal("189.55")  # the quote moved no price; the volume's rise traded 250 more
    assert last == Bar(ns("20260114-15:08:00"), price, price, price, price, 350)


def test_start_time_ends_the_window() -> None:
    history = service()
    bars = history.bars(AAPL.conid, period="1h", bar="1min", start_time="20260113-19:00:00")
    assert len(bars) == 60
    assert bars[-1].start_ns == ns("20260113-18:59:00")
    assert bars[0].start_ns == ns("20260113-18:00:00")


def test_a_start_time_in_the_future_means_now() -> None:
    history = service()
    later = history.bars(AAPL.conid, period="1h", bar="1min", start_time="20300101-00:00:00")
    assert later == history.bars(AAPL.conid, period="1h", bar="1min")


def test_a_window_ending_on_a_weekend_ends_at_the_last_session() -> None:
    saturday = "20260117-12:00:00"
    bars = service(clock=FakeClock(LATER)).bars(
        AAPL.conid, period="1h", bar="1min", start_time=saturday
    )
    assert bars[-1].start_ns == ns("20260116-20:59:00")  # Friday 15:59 EST
    assert len(bars) == 60


def test_day_periods_count_trading_sessions() -> None:
    history = service(clock=FakeClock(LATER))
    tuesday_noon = "20260120-17:00:00"
    bars = history.bars(AAPL.conid, period="2d", bar="30min", start_time=tuesday_noon)
    dates = {datetime.fromtimestamp(b.start_ns // 10**9, UTC).date().isoformat() for b in bars}
    # Monday 2026-01-19 is Martin Luther King Jr. Day: no session, so Friday's comes before.
    assert dates == {"2026-01-16", "2026-01-20"}
    assert len(bars) == 13 + 5
    holiday_noon = "20260119-17:00:00"
    bars = history.bars(AAPL.conid, period="1d", bar="30min", start_time=holiday_noon)
    assert {datetime.fromtimestamp(b.start_ns // 10**9, UTC).date() for b in bars} == {
        datetime(2026, 1, 16).date()
    }


def test_calendar_periods_reach_back_in_calendar_time() -> None:
    bars = service().bars(AAPL.conid, period="1m", bar="1d", start_time="20260114-21:00:00")
    first = datetime.fromtimestamp(bars[0].start_ns // 10**9, UTC)
    assert first.date().isoformat() == "2025-12-15"  # 2025-12-14 is a Sunday
    assert len(bars) == 23 - 2  # weekdays, less Christmas and New Year's Day


def test_no_more_than_1000_points() -> None:
    history = service()
    with pytest.raises(RequestError, match="gives 1440 bars, more than the 1000 allowed") as raised:
        history.bars(EURUSD.conid, period="1d", bar="1min", start_time="20260113-22:00:00")
    assert http_answer(raised.value)[0] == 400  # the HTTP boundary answers it with a 400
    assert (
        len(history.bars(EURUSD.conid, period="1d", bar="2min", start_time="20260113-22:00:00"))
        == 720  # FX trades 24 hours from 17:00 New York time
    )


def test_a_window_without_data_is_empty() -> None:
    assert service().bars(AAPL.conid, period="1d", bar="1h", start_time="19900102-00:00:00") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"period": "1w", "bar": "1min"}, "bar 1min is not allowed for period 1w"),
        ({"period": "40min"}, "invalid period '40min'"),
        ({"bar": "7min"}, "invalid bar '7min'"),
        ({"start_time": "2026-01-14 10:00"}, "invalid startTime"),
        ({"start_time": "20261399-10:00:00"}, "invalid startTime"),
        ({"source": "volume"}, "invalid source 'volume'"),
    ],
)
def test_bad_requests_are_refused(change: dict[str, str], message: str) -> None:
    request = {"period": "1d", "bar": "5min", "source": "trades", **change}
    with pytest.raises(RequestError, match=message):
        service().bars(AAPL.conid, outside_rth=False, **request)


def test_unknown_conids_are_not_found() -> None:
    with pytest.raises(NotFoundError, match="Invalid conid 1"):
        service().bars(1, period="1d", bar="5min")


def test_quote_sources_have_trade_prices_shifted_and_no_volume() -> None:
    history = service()
    trades = history.bars(AAPL.conid, period="2h", bar="5min")
    mid = history.bars(AAPL.conid, period="2h", bar="5min", source="Midpoint")
    bid = history.bars(AAPL.conid, period="2h", bar="5min", source="bid")
    assert [(b.open, b.close) for b in mid] == [(b.open, b.close) for b in trades]
    assert all(b.volume == 0 for b in mid + bid)
    assert [b.high for b in bid] == [b.high - AAPL.min_tick for b in trades]


def test_recording_never_raises_and_ignores_unknown_conids_gracefully() -> None:
    clock = FakeClock(ANCHOR)
    history = service(clock=clock)
    clock.advance(seconds=61)
    history.record(999, {F.LAST: "oops", F.VOLUME_EXACT: "-"}, clock.now_ns())
    history.record(AAPL.conid, {F.LAST: "C1.00"}, clock.now_ns())
    assert history.bars(AAPL.conid, period="1min", bar="1min")[-1].start_ns < ANCHOR


def _trade_every_minute(history: HistoryService, clock: FakeClock, minutes: int) -> None:
    for minute in range(minutes):
        clock.advance(seconds=60)
        changed = {F.LAST: f"{189 + minute % 7 / 100:.2f}", F.LAST_SIZE: "100",
                   F.VOLUME_EXACT: str(100 * (minute + 1))}  # fmt: skip
        history.record(AAPL.conid, changed, clock.now_ns())
    clock.advance(seconds=1)  # ask a moment after the last trade


def _eastern_dates(bars: list[Bar]) -> set[str]:
    return {US_EQUITY.local(b.start_ns)[0].isoformat() for b in bars}


@pytest.mark.parametrize(
    ("started", "session", "regular_bars"),
    [
        # A weekday night: Wednesday 00:10 EST; the round-the-clock simulator traded since.
        ("20261202-05:10:00", "2026-12-01", 78),
        # A Saturday afternoon: Friday's session.
        ("20261205-15:00:00", "2026-12-04", 78),
        # Christmas Day: the session before it closed early, at 13:00 (42 five-minute bars).
        ("20261225-16:00:00", "2026-12-24", 42),
    ],
)
def test_one_day_is_the_last_trading_session_whenever_it_is_asked(
    started: str, session: str, regular_bars: int
) -> None:
    clock = FakeClock(ns(started))
    history = service(clock=clock)
    _trade_every_minute(history, clock, 90)
    regular = history.bars(AAPL.conid, period="1d", bar="5min")
    assert _eastern_dates(regular) == {session} and len(regular) == regular_bars
    extended = history.bars(AAPL.conid, period="1d", bar="5min", outside_rth=True)
    # From the session's pre-market on, and the live minutes of the night after it: the chart
    # joins the live price.
    assert US_EQUITY.local(extended[0].start_ns) == (datetime.fromisoformat(session).date(), 240)
    assert extended[-1].close == Decimal(f"{189 + 89 % 7 / 100:.2f}")
    assert len(extended) > regular_bars + 18


def test_one_day_on_the_daylight_saving_switch_days() -> None:
    # Monday after the spring switch, 10:00 EDT = 14:00 UTC: the open was at 13:30 UTC.
    spring = service(clock=FakeClock(ns("20260309-14:00:00")))
    bars = spring.bars(AAPL.conid, period="1d", bar="5min")
    assert bars[0].start_ns == ns("20260309-13:30:00") and len(bars) == 6
    # Sunday of the autumn switch: Friday's session, in daylight time (open 13:30 UTC).
    autumn = service(clock=FakeClock(ns("20261101-12:00:00")))
    bars = autumn.bars(AAPL.conid, period="1d", bar="1h")
    assert bars[0].start_ns == ns("20261030-13:30:00")
    assert [US_EQUITY.local(b.start_ns)[1] for b in bars] == [570, *range(600, 960, 60)]


@pytest.mark.parametrize(
    ("bar", "starts"), [("5min", ["02:00", "02:05"]), ("30min", ["02:00"]), ("1h", ["02:00"])]
)
def test_the_first_live_bar_is_the_grid_bar_holding_the_start(bar: str, starts: list[str]) -> None:
    # Started at 02:01:00 UTC (21:01 EST, after the after-hours close): the seeded past ends at
    # 20:00 EST, so the live minutes are the only data of the bar they open.
    clock = FakeClock(ns("20261202-02:01:00"))
    history = service(clock=clock)
    _trade_every_minute(history, clock, 4)  # trades at 02:02 ... 02:05
    bars = history.bars(AAPL.conid, period="30min", bar=bar, outside_rth=True)
    assert [b.start_ns for b in bars] == [ns(f"20261202-{at}:00") for at in starts]
    assert sum(b.volume for b in bars) == 400
