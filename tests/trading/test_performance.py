"""The daily net-liquidation series kept at each session close, and Portfolio Analyst's
time-weighted returns over it, on an injected clock driving several closes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from tests.instruments import AAPL
from tests.trading.quotes import QuoteBook, grid_quote
from tests.trading.test_sessions import CATALOGUE, CLOSE_NS, HOUR

from tickgate.clock import NS_PER_DAY, FakeClock
from tickgate.errors import RequestError
from tickgate.market.market_hours import MarketHours, Mode
from tickgate.model.ticks import Quote
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.analyst import PortfolioAnalyst
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.day_cycle import DayCycle
from tickgate.trading.engine import TradingEngine
from tickgate.trading.performance import consolidated, period_returns, period_start, with_today
from tickgate.trading.store import EventStore, MemoryEventStore

ACCT = "DU1234567"
TUESDAY = date(2026, 3, 10)  # CLOSE_NS is this day's 16:00 close in New York


def aapl_at(last: D) -> Quote:
    """AAPL quoted a cent either side of `last`."""
    return grid_quote(AAPL.conid, last - D("0.01"), last + D("0.01"), last)


def moving_quotes() -> QuoteBook:
    """A market whose AAPL price the test sets (`_move`), from 100.00."""
    return QuoteBook(aapl_at(D("100.00")))


def _engine(clock: FakeClock, store: EventStore, quotes: QuoteBook) -> TradingEngine:
    return TradingEngine(CATALOGUE, quotes, store, clock)


def _move(engine: TradingEngine, quotes: QuoteBook, price: str) -> None:
    engine.on_quote(AAPL.conid, quotes.show(aapl_at(D(price))))


def _nav(engine: TradingEngine) -> D:
    return engine.views.portfolio_of(ACCT).net_liquidation


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    if request.param == "memory":
        return MemoryEventStore()
    return SqliteEventStore(tmp_path / "trading.sqlite3")


def test_each_close_keeps_the_days_start_and_end_and_returns_chain(store: EventStore) -> None:
    clock, quotes = FakeClock(CLOSE_NS - 5 * HOUR), moving_quotes()
    engine = _engine(clock, store, quotes)
    cycle = DayCycle(engine, MarketHours([AAPL], Mode.ALWAYS), market=None, publish=print)
    buy = {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "price": 100.01, "quantity": 100,
           "tif": "DAY"}  # fmt: skip
    commands.place(engine, ACCT, [buy])
    closes: list[D] = []
    for day, price in enumerate(["101.00", "99.50", "103.25"]):
        _move(engine, quotes, price)
        clock.set(CLOSE_NS + day * NS_PER_DAY)  # Tuesday, Wednesday, Thursday 16:00
        cycle.close_day(clock.now_ns())
        closes.append(_nav(engine))
    kept = store.daily_values(ACCT)
    assert [v.day for v in kept] == [TUESDAY + timedelta(days=i) for i in range(3)]
    assert kept[0].start == D(1_000_000)  # the starting cash: nothing traded before the day
    assert [v.end for v in kept] == closes
    assert [v.start for v in kept[1:]] == closes[:-1]  # a day starts where the last one closed
    # 100 shares bought at 100.01 with a 1.00 commission, marked at each close.
    assert closes[0] == D(1_000_000) - D("10001") - 1 + D("10100")

    analyst = PortfolioAnalyst(engine.views, store)
    clock.advance(seconds=HOUR // 10**9)  # Thursday 17:00: Friday is the day in progress
    _move(engine, quotes, "104.00")
    series = analyst.series(ACCT)
    assert [v.day for v in series][-2:] == [date(2026, 3, 12), date(2026, 3, 13)]
    assert series[-1].start == closes[-1] and series[-1].end == _nav(engine)

    ytd = period_returns(series, "YTD")
    growth = D(1)
    for value, cumulative in zip(series, ytd.cumulative, strict=True):
        growth *= value.end / value.start
        assert cumulative == growth - 1
    # No money moved in or out: the chained return is the whole period's change.
    assert abs(ytd.total - (_nav(engine) / D(1_000_000) - 1)) < D("1e-20")
    one_day = period_returns(series, "1D")
    assert one_day.days == [series[-1]] and one_day.total == _nav(engine) / closes[-1] - 1
    assert ytd.months == [("202603", ytd.total)]


def test_the_series_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "trading.sqlite3"
    clock, quotes = FakeClock(CLOSE_NS), moving_quotes()
    first = _engine(clock, SqliteEventStore(path), quotes)
    first.close_session(CLOSE_NS)
    first.close_session(CLOSE_NS + NS_PER_DAY)
    first.store.close()
    again = SqliteEventStore(path)
    try:
        assert [v.day for v in again.daily_values(ACCT)] == [TUESDAY, TUESDAY + timedelta(days=1)]
        assert [v.day for v in again.daily_values(ACCT, since=TUESDAY + timedelta(days=1))] == [
            TUESDAY + timedelta(days=1)
        ]
    finally:
        again.close()


def test_a_fresh_account_has_its_day_in_progress() -> None:
    clock, quotes, store = FakeClock(CLOSE_NS - HOUR), moving_quotes(), MemoryEventStore()
    engine = _engine(clock, store, quotes)
    [only] = PortfolioAnalyst(engine.views, store).series(ACCT)
    assert (only.day, only.start, only.end) == (TUESDAY, D(1_000_000), D(1_000_000))
    assert period_returns([only], "1Y").cumulative == [D(0)]


def test_a_second_close_on_one_day_extends_it() -> None:
    store = MemoryEventStore()
    store.save_daily_values([DailyValue(ACCT, TUESDAY, D(100), D(110), 1)])
    store.save_daily_values([DailyValue(ACCT, TUESDAY, D(110), D(121), 2)])
    assert store.daily_values(ACCT) == [DailyValue(ACCT, TUESDAY, D(100), D(121), 2)]
    assert with_today(store.daily_values(ACCT), DailyValue(ACCT, TUESDAY, D(121), D(99), 3)) == [
        DailyValue(ACCT, TUESDAY, D(100), D(99), 3)
    ]


@pytest.mark.parametrize(
    ("period", "latest", "first"),
    [
        ("1D", date(2026, 3, 31), date(2026, 3, 31)),
        ("7D", date(2026, 3, 31), date(2026, 3, 25)),
        ("MTD", date(2026, 3, 31), date(2026, 3, 1)),
        ("1M", date(2026, 3, 31), date(2026, 3, 1)),  # after Feb 28: February has no 31st
        ("1M", date(2026, 3, 15), date(2026, 2, 16)),
        ("YTD", date(2026, 3, 31), date(2026, 1, 1)),
        ("3M", date(2026, 5, 31), date(2026, 3, 1)),
        ("6M", date(2026, 8, 31), date(2026, 3, 1)),  # after Feb 28 again
        ("12M", date(2026, 3, 10), date(2025, 3, 11)),
        ("1Y", date(2024, 2, 29), date(2023, 3, 1)),
    ],
)
def test_period_windows(period: str, latest: date, first: date) -> None:
    assert period_start(period, latest) == first


def test_an_unknown_period_is_refused_by_name() -> None:
    with pytest.raises(
        RequestError, match="period must be one of 1D, 7D, MTD, 1M, 3M, 6M, 12M, YTD, 1Y"
    ):
        period_returns([], "2W")


def test_months_and_consolidation() -> None:
    a = [
        DailyValue("A", date(2026, 1, 30), D(100), D(110), 1),
        DailyValue("A", date(2026, 2, 2), D(110), D(99), 2),
    ]
    b = [DailyValue("B", date(2026, 2, 2), D(300), D(330), 2)]
    returns = period_returns(a, "1Y")
    assert returns.months == [("202601", D("0.1")), ("202602", D("-0.1"))]
    assert returns.total == D("1.1") * D("0.9") - 1
    both = consolidated([a, b], "consolidated")
    assert [(v.day, v.start, v.end) for v in both] == [
        (date(2026, 1, 30), D(100), D(110)),
        (date(2026, 2, 2), D(410), D(429)),
    ]
