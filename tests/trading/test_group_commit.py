"""What quotes cause is committed in groups, and nothing unstored is shown.

Real engine on real SQLite files; the scheduler is a list the test runs, as an event loop
would run `call_soon` callbacks after the market-data callback returned. The crash test kills
a real child process with SIGKILL in the middle of grouped bursts.
"""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.instruments import TRADED_AAPL as AAPL
from tests.trading.children import start_child
from tests.trading.quotes import QuoteBook, grid_quote

from tickgate.clock import FakeClock
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import OrderStatus, Side
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import OrderFilled, OrderUpdated, TradingEvent
from tickgate.trading.journal import TRAIL_PERSIST_INTERVAL_NS

D = Decimal
ACCT = "DU1"


CATALOGUE = Catalogue([AAPL])


class Loop:
    """The callbacks the engine scheduled, run when the test says the loop turn is over."""

    def __init__(self) -> None:
        self.ready: list[Callable[[], None]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.ready.append(callback)

    def run_ready(self) -> int:
        ran, self.ready = self.ready, []
        for callback in ran:
            callback()
        return len(ran)


Grouped = tuple[TradingEngine, SqliteEventStore, QuoteBook, Loop, list[TradingEvent]]


def _grouped(path: Path, clock: FakeClock) -> Grouped:
    store, quotes, loop = SqliteEventStore(path), QuoteBook(), Loop()
    engine = TradingEngine(CATALOGUE, quotes, store, clock, accounts=[AccountConfig(ACCT)])
    engine.desk.suppress(["o163", "o354", "o10151"])
    engine.journal.group_quote_commits(loop.call_soon)
    seen: list[TradingEvent] = []
    engine.journal.add_listener(seen.append)
    return engine, store, quotes, loop, seen


def _quote(engine: TradingEngine, quotes: QuoteBook, bid: float, ask: float, last: float,
           size: int = 1) -> None:  # fmt: skip
    engine.on_quote(AAPL.conid, quotes.show(grid_quote(AAPL.conid, bid, ask, last, size)))


def _resting_buys(engine: TradingEngine, count: int, **extra: Any) -> list[int]:
    order = {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "quantity": 1,
             "price": 100, "tif": "GTC", **extra}  # fmt: skip
    return [int(commands.place(engine, ACCT, [order])[0]["order_id"]) for _ in range(count)]


def test_a_burst_of_quote_fills_costs_one_commit_and_is_published_after_it(tmp_path: Path) -> None:
    engine, store, quotes, loop, seen = _grouped(tmp_path / "t.db", FakeClock())
    ids = _resting_buys(engine, 20)
    before, seen[:] = store.commits, []
    for _ in ids:  # each quote shows one share at the limit: one fill per quote
        _quote(engine, quotes, 99.99, 100.0, 100.0)
    assert store.commits == before and seen == []  # applied, held back
    assert len(loop.ready) == 1  # one flush asked for, however many fills
    loop.run_ready()
    assert store.commits == before + 1
    fills = [e for e in seen if isinstance(e, OrderFilled)]
    assert [f.order.order_id for f in fills] == ids  # in time priority, after the commit
    assert {f.fill.order_id for f in fills} == {f.order_id for f in store.fills_since(0)}


def test_a_query_flushes_the_group_before_answering(tmp_path: Path) -> None:
    engine, store, quotes, loop, _ = _grouped(tmp_path / "t.db", FakeClock())
    [order_id] = _resting_buys(engine, 1)
    before = store.commits
    _quote(engine, quotes, 99.99, 100.0, 100.0)
    assert engine.views.order_status(order_id)["order_status"] == "Filled"  # shown ...
    assert store.commits == before + 1  # ... because stored first
    stored = store.order(order_id)
    assert stored is not None and stored.status is OrderStatus.FILLED
    assert loop.run_ready() == 1 and store.commits == before + 1  # the flush finds nothing left


def test_a_command_stores_the_held_group_before_its_own_events(tmp_path: Path) -> None:
    engine, store, quotes, _, _ = _grouped(tmp_path / "t.db", FakeClock())
    [first, second] = _resting_buys(engine, 2)
    _quote(engine, quotes, 99.99, 100.0, 100.0)  # fills `first`, held
    engine.desk.cancel(ACCT, second)
    order = [e.order.order_id for e in store.replay() if isinstance(e, OrderFilled | OrderUpdated)]
    assert order.index(first) < order.index(second)  # the fill was stored before the cancel


def _trailing_sell(engine: TradingEngine, quotes: QuoteBook) -> int:
    _quote(engine, quotes, 99.99, 100.01, 100.0, size=100)
    commands.place(
        engine, ACCT, [{"conid": AAPL.conid, "side": "BUY", "orderType": "MKT", "quantity": 10}]
    )
    trail = {"conid": AAPL.conid, "side": "SELL", "orderType": "TRAIL", "quantity": 10,
             "trailingAmt": 1, "tif": "GTC"}  # fmt: skip
    [ack] = commands.place(engine, ACCT, [trail])
    return int(ack["order_id"])


def test_trailing_stop_moves_are_stored_at_most_once_per_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    engine, store, quotes, loop, seen = _grouped(tmp_path / "t.db", clock)
    order_id = _trailing_sell(engine, quotes)
    before, seen[:] = store.commits, []
    quotes_sent, step_ms = 500, 10  # 500 favourable quotes over 5 s, one per loop turn
    for n in range(quotes_sent):
        clock.advance(ms=step_ms)
        _quote(engine, quotes, 100 + n * 0.01, 100.02 + n * 0.01, 100.01 + n * 0.01, size=100)
        loop.run_ready()
    interval_quotes = TRAIL_PERSIST_INTERVAL_NS // (step_ms * 1_000_000)
    assert store.commits - before <= quotes_sent // interval_quotes + 1  # 5, not 500
    moves = [e for e in seen if isinstance(e, OrderUpdated) and e.order.order_id == order_id]
    assert len(moves) == store.commits - before  # every move shown was stored with it
    stored = store.order(order_id)
    assert stored is not None and moves[-1].order == stored


def test_after_a_crash_a_trailing_stop_is_never_looser_than_what_a_client_was_told(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    engine, _, quotes, loop, seen = _grouped(tmp_path / "t.db", clock)
    order_id = _trailing_sell(engine, quotes)
    for n in range(30):
        clock.advance(ms=10)
        _quote(engine, quotes, 100 + n * 0.05, 100.02 + n * 0.05, 100.01 + n * 0.05, size=100)
        loop.run_ready()
    told = D(engine.views.order_status(order_id)["stop_price"])  # a client asks: stored, then shown
    assert told == engine.state.orders[order_id].aux_price
    for n in range(30, 60):  # further moves nobody is shown, then the process dies
        clock.advance(ms=10)
        _quote(engine, quotes, 100 + n * 0.05, 100.02 + n * 0.05, 100.01 + n * 0.05, size=100)
    latest_unshown = engine.state.orders[order_id].aux_price
    shown = [e.order.aux_price for e in seen if isinstance(e, OrderUpdated)
             and e.order.order_id == order_id]  # fmt: skip

    recovered = TradingEngine(CATALOGUE, QuoteBook(), SqliteEventStore(tmp_path / "t.db"), clock,
                              accounts=[AccountConfig(ACCT)])  # fmt: skip
    stop = recovered.state.orders[order_id].aux_price
    assert stop is not None and latest_unshown is not None
    assert stop >= told and all(stop >= s for s in shown if s is not None)
    assert stop <= latest_unshown  # nothing is invented either
    assert recovered.state.orders[order_id].side is Side.SELL


CHILD = textwrap.dedent(
    """
    import sys
    from tickgate.clock import FakeClock
    from tickgate.model.accounts import AccountConfig
    from tickgate.server import rest_commands as commands
    from tickgate.trading.engine import TradingEngine
    from tickgate.trading.events import OrderFilled
    from tickgate.stores.sqlite import SqliteEventStore
    sys.path.insert(0, sys.argv[2])
    from test_group_commit import AAPL, CATALOGUE, GROUP, Loop, QuoteBook, grid_quote

    quotes, loop = QuoteBook(), Loop()
    engine = TradingEngine(CATALOGUE, quotes, SqliteEventStore(sys.argv[1]), FakeClock(),
                           accounts=[AccountConfig("DU1")])
    engine.desk.suppress(["o163", "o354", "o10151"])
    engine.journal.group_quote_commits(loop.call_soon)
    engine.journal.add_listener(
        lambda e: isinstance(e, OrderFilled) and print(e.order.order_id, flush=True))
    order = {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "quantity": 1,
             "price": 100, "tif": "GTC"}
    while True:
        quotes.show(grid_quote(AAPL.conid, 100.04, 100.05, 100.5, 1))  # nothing fills
        for _ in range(GROUP):
            commands.place(engine, "DU1", [order])
        for _ in range(GROUP):
            engine.on_quote(AAPL.conid, quotes.show(grid_quote(AAPL.conid, 99.99, 100.0, 100.0, 1)))
        loop.run_ready()
    """
)
GROUP = 7


def test_sigkill_between_and_inside_group_commits_keeps_whole_groups(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    child = start_child(CHILD, db)
    assert child.stdout is not None
    published: list[int] = []
    for line in child.stdout:
        published.append(int(line))
        if len(published) >= 40 * GROUP + 3:  # mid-way through publishing a group
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()

    store = SqliteEventStore(db)
    engine = TradingEngine(
        CATALOGUE, QuoteBook(), store, FakeClock(), accounts=[AccountConfig(ACCT)]
    )
    stored = store.fills_since(0)
    assert {f.order_id for f in stored} >= set(published)  # every fill shown was stored first
    assert len(stored) % GROUP == 0  # a group is stored whole or not at all
    for order_id in published:
        assert engine.state.orders[order_id].status is OrderStatus.FILLED
    position = engine.journal.portfolio_of(ACCT).positions[AAPL.conid].quantity
    assert position == len(stored)
    cash = D(1_000_000) - sum((f.quantity * f.price + f.commission for f in stored), D(0))
    assert engine.journal.portfolio_of(ACCT).cash == cash
