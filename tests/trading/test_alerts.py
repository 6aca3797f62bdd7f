"""The alert book on a real market engine, market hours and store, on a fake clock: ticks are
merged into the engine and handed to the book as the market listener is."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tickgate.clock import NS_PER_S, FakeClock
from tickgate.errors import NotFoundError, RequestError
from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.market.engine import MarketEngine
from tickgate.market.market_hours import MarketHours, Mode
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.protocol.rest.alerts import alert_spec
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.alerts import AlertBook, AlertFired
from tickgate.trading.documents import DocumentStore
from tickgate.trading.store import MemoryEventStore

ACCT = "DU1"
AAPL, IBM = 265598, 8314
#: Wednesday 2026-01-14 15:00 UTC: 10:00 in New York, regular hours.
OPEN_NS = 1_768_402_800_000_000_000
#: The same day at 03:00 UTC: 22:00 the evening before in New York, outside regular hours.
NIGHT_NS = 1_768_359_600_000_000_000
CATALOGUE = default_catalogue(today=datetime.date(2026, 1, 14))


class Rig:
    """An alert book on a market engine, with the firings it announced."""

    def __init__(self, store: DocumentStore, *, start_ns: int = OPEN_NS) -> None:
        self.clock = FakeClock(start_ns)
        self.market = MarketEngine(CATALOGUE)
        self.book = AlertBook(
            store,
            accounts=[ACCT],
            find=CATALOGUE.find,
            market=self.market,
            hours=MarketHours(CATALOGUE, Mode.ALWAYS),
            clock=self.clock,
        )
        self.fired: list[AlertFired] = []
        self.book.add_listener(self.fired.append)

    def quote(self, conid: int, bid: str, ask: str, last: str, **more: str) -> None:
        fields = {F.BID: bid, F.ASK: ask, F.LAST: last, F.BID_SIZE: "100", F.ASK_SIZE: "100"}
        fields.update({int(k.removeprefix("f")): v for k, v in more.items()})
        self.market.apply(Tick(conid, fields, self.clock.now_ns()))

    def submit(self, *conditions: dict[str, Any], **fields: Any) -> int:
        body = {"alertName": "a", "alertMessage": "m", "outsideRth": 1}
        body["conditions"] = list(conditions)
        spec, modifies = alert_spec(ACCT, {**body, **fields})
        return self.book.submit(spec, modifies=modifies).alert_id


def price(
    conid: int, operator: str, value: str, *, logic: str = "n", trigger: str = "0"
) -> dict[str, Any]:
    return {"type": 1, "conidex": f"{conid}@SMART", "operator": operator, "value": value,
            "logicBind": logic, "triggerMethod": trigger}  # fmt: skip


def at(operator: str, when: str, *, logic: str = "n", zone: str = "UTC") -> dict[str, Any]:
    return {"type": 3, "conidex": "*", "operator": operator, "value": when,
            "logicBind": logic, "timeZone": zone}  # fmt: skip


@pytest.fixture
def rig() -> Rig:
    return Rig(MemoryEventStore())


def test_a_price_alert_fires_once_when_the_market_crosses(rig: Rig) -> None:
    rig.quote(AAPL, "99.00", "99.02", "99.01")
    alert_id = rig.submit(price(AAPL, ">=", "100"))
    assert rig.fired == []
    rig.quote(AAPL, "99.50", "99.52", "99.51")
    assert rig.fired == []
    rig.quote(AAPL, "100.00", "100.02", "100.01")
    rig.quote(AAPL, "100.50", "100.52", "100.51")
    rig.quote(AAPL, "99.00", "99.02", "99.01")
    rig.quote(AAPL, "101.00", "101.02", "101.01")
    assert [f.alert.alert_id for f in rig.fired] == [alert_id]
    alert = rig.book.get(alert_id)
    assert alert.triggered and alert.fired == 1 and not alert.live
    assert AAPL not in rig.book.watched_conids  # done: the tick path no longer looks at it
    assert rig.market.watchers(AAPL) == 0


def test_a_repeatable_alert_fires_each_time_it_becomes_met_again(rig: Rig) -> None:
    rig.quote(AAPL, "99.00", "99.02", "99.01")
    rig.submit(price(AAPL, "<", "98"), alertRepeatable=1)
    for last in ("97.5", "97.0", "98.5", "97.9", "99", "98.1"):
        rig.quote(AAPL, "96", "99.5", last)
    assert len(rig.fired) == 2
    assert rig.book.get(rig.fired[0].alert.alert_id).fired == 2


def test_an_alert_already_met_fires_when_it_is_created(rig: Rig) -> None:
    rig.quote(AAPL, "150.00", "150.02", "150.01")
    alert_id = rig.submit(price(AAPL, ">", "100"))
    assert [f.alert.alert_id for f in rig.fired] == [alert_id]


def test_fields_no_condition_reads_do_not_evaluate(rig: Rig) -> None:
    rig.quote(AAPL, "99.00", "99.02", "99.01")
    rig.submit(price(AAPL, ">=", "100"))
    rig.market.apply(Tick(AAPL, {F.HIGH: "250"}, rig.clock.now_ns()))
    rig.market.apply(Tick(IBM, {F.LAST: "500"}, rig.clock.now_ns()))
    assert rig.fired == [] and rig.book.watched_conids == {AAPL}
    assert (rig.market.watchers(AAPL), rig.market.watchers(IBM)) == (1, 0)


@pytest.mark.parametrize(
    ("trigger", "operator", "value", "fires"),
    [
        ("2", ">=", "100.02", False),  # last is 100.01
        ("4", ">=", "100.02", True),  # a rising condition watches the ask
        ("4", "<=", "100.00", True),  # a falling one the bid
        ("4", "<=", "99.99", False),
        ("8", "==", "100.01", True),  # the midpoint of 100.00 / 100.02
        ("7", ">=", "100.02", True),  # last or bid/ask: the ask qualifies
        ("last", ">=", "100.01", True),  # a name some clients send
    ],
)
def test_trigger_methods_pick_the_price_they_compare(
    rig: Rig, trigger: str, operator: str, value: str, fires: bool
) -> None:
    rig.quote(AAPL, "100.00", "100.02", "100.01")
    rig.submit(price(AAPL, operator, value, trigger=trigger))
    assert bool(rig.fired) is fires


def test_a_double_method_needs_two_qualifying_updates_in_a_row(rig: Rig) -> None:
    rig.quote(AAPL, "99.00", "99.02", "99.01")
    rig.submit(price(AAPL, ">=", "100", trigger="3"))
    rig.quote(AAPL, "99.00", "99.02", "100.5")
    rig.quote(AAPL, "99.00", "99.02", "99.5")
    rig.quote(AAPL, "99.00", "99.02", "100.6")
    assert rig.fired == []
    rig.quote(AAPL, "99.00", "99.03", "100.7")
    assert len(rig.fired) == 1


def test_and_binds_before_or(rig: Rig) -> None:
    rig.quote(AAPL, "99", "99.02", "99.01")
    rig.quote(IBM, "299", "299.02", "299.01")
    # (AAPL >= 100 AND IBM >= 300) OR IBM <= 250
    rig.submit(price(AAPL, ">=", "100", logic="a"), price(IBM, ">=", "300", logic="o"),
               price(IBM, "<=", "250"))  # fmt: skip
    rig.quote(AAPL, "100", "100.02", "100.01")
    assert rig.fired == []  # only one side of the AND
    rig.quote(IBM, "300", "300.02", "300.01")
    assert len(rig.fired) == 1


def test_or_fires_on_either_side(rig: Rig) -> None:
    rig.quote(AAPL, "99", "99.02", "99.01")
    rig.quote(IBM, "299", "299.02", "299.01")
    rig.submit(price(AAPL, ">=", "100", logic="o"), price(IBM, "<=", "250"))
    rig.quote(IBM, "249", "249.02", "249.01")
    assert len(rig.fired) == 1


def test_a_volume_condition_reads_the_day_volume(rig: Rig) -> None:
    rig.quote(AAPL, "99", "99.02", "99.01", f7762="900")
    rig.submit({"type": 6, "conidex": str(AAPL), "operator": ">=", "value": "1000"})
    rig.quote(AAPL, "99", "99.02", "99.01", f7762="1200")
    assert len(rig.fired) == 1


def test_without_outside_rth_an_alert_waits_for_regular_hours() -> None:
    rig = Rig(MemoryEventStore(), start_ns=NIGHT_NS)
    rig.quote(AAPL, "150", "150.02", "150.01")
    rig.submit(price(AAPL, ">=", "100"), outsideRth=0)
    rig.quote(AAPL, "151", "151.02", "151.01")
    assert rig.fired == []
    rig.clock.set(OPEN_NS)
    rig.quote(AAPL, "152", "152.02", "152.01")
    assert len(rig.fired) == 1


def test_a_time_condition_fires_at_its_instant_on_the_timer(rig: Rig) -> None:
    alert_id = rig.submit(at(">=", "20260114-10:00:30", zone="US/Eastern"))
    assert rig.fired == []
    due = rig.book.next_due_ns()
    assert due == OPEN_NS + 30 * NS_PER_S
    rig.clock.set(due - 1)
    rig.book.on_time(rig.clock.now_ns())
    assert rig.fired == []
    rig.clock.set(due)
    rig.book.on_time(rig.clock.now_ns())
    assert [f.alert.alert_id for f in rig.fired] == [alert_id]
    assert rig.book.next_due_ns() is None


def test_a_time_and_price_alert_needs_both(rig: Rig) -> None:
    rig.quote(AAPL, "150", "150.02", "150.01")
    rig.submit(at(">=", "20260114-15:01:00", logic="a"), price(AAPL, ">=", "100"))
    assert rig.fired == []
    rig.clock.advance(seconds=60)
    rig.quote(AAPL, "151", "151.02", "151.01")
    assert len(rig.fired) == 1


def test_a_gtd_alert_expires_unfired(rig: Rig) -> None:
    rig.quote(AAPL, "99", "99.02", "99.01")
    alert_id = rig.submit(price(AAPL, ">=", "100"), tif="GTD", expireTime="20260114-15:10:00")
    rig.clock.advance(seconds=600)
    assert rig.book.next_due_ns() == rig.clock.now_ns()
    rig.book.on_time(rig.clock.now_ns())
    alert = rig.book.get(alert_id)
    assert alert.expired and not alert.live
    rig.quote(AAPL, "101", "101.02", "101.01")
    assert rig.fired == []


def test_deactivated_alerts_do_not_fire_and_activating_rearms(rig: Rig) -> None:
    rig.quote(AAPL, "99", "99.02", "99.01")
    first = rig.submit(price(AAPL, ">=", "100"))
    rig.submit(price(AAPL, ">=", "100"))
    rig.book.activate(ACCT, 0, False)  # 0: every alert of the account
    assert rig.market.watchers(AAPL) == 0
    rig.quote(AAPL, "101", "101.02", "101.01")
    assert rig.fired == []
    rig.book.activate(ACCT, first, True)
    assert [f.alert.alert_id for f in rig.fired] == [first]  # evaluated on activation
    rig.book.activate(ACCT, first, True)
    assert len(rig.fired) == 2  # activating a fired alert re-arms it


def test_a_modification_keeps_the_id_and_rearms(rig: Rig) -> None:
    rig.quote(AAPL, "101", "101.02", "101.01")
    alert_id = rig.submit(price(AAPL, ">=", "100"))
    assert len(rig.fired) == 1
    same = rig.submit(price(AAPL, ">=", "102"), orderId=str(alert_id))
    assert same == alert_id and not rig.book.get(alert_id).triggered
    rig.quote(AAPL, "102", "102.02", "102.01")
    assert len(rig.fired) == 2


def test_delete_one_or_all(rig: Rig) -> None:
    ids = [rig.submit(price(AAPL, ">=", "1000")) for _ in range(3)]
    assert rig.market.watchers(AAPL) == 1  # one watch of the conid, whatever reads it
    assert rig.book.delete(ACCT, ids[0]) == [ids[0]]
    assert rig.market.watchers(AAPL) == 1
    assert rig.book.delete(ACCT, 0) == ids[1:]
    assert rig.book.alerts(ACCT) == [] and rig.book.watched_conids == frozenset()
    assert rig.market.watchers(AAPL) == 0
    with pytest.raises(NotFoundError, match=f"alert {ids[0]} not found"):
        rig.book.delete(ACCT, ids[0])


def test_requests_the_book_refuses(rig: Rig) -> None:
    with pytest.raises(RequestError, match="Invalid conid 1"):
        rig.submit(price(1, ">=", "1"))
    with pytest.raises(NotFoundError, match="unknown account DU9"):
        rig.book.submit(
            alert_spec("DU9", {"alertName": "a", "conditions": [price(AAPL, ">", "1")]})[0]
        )
    with pytest.raises(RequestError, match="not in the future"):
        rig.submit(price(AAPL, ">=", "1000"), tif="GTD", expireTime="20260114-14:00:00")
    with pytest.raises(NotFoundError, match="alert 5 not found"):
        rig.submit(price(AAPL, ">=", "1000"), orderId=5)
    assert rig.book.alerts(ACCT) == []


def test_an_execution_fires_a_trade_condition(rig: Rig) -> None:
    rig.submit({"type": 5, "conidex": f"{AAPL}@SMART", "value": "*"}, alertRepeatable=1)
    rig.book.on_execution("DU2", AAPL)  # another account's
    rig.book.on_execution(ACCT, IBM)
    assert rig.fired == []
    rig.book.on_execution(ACCT, AAPL)
    rig.book.on_execution(ACCT, AAPL)
    assert len(rig.fired) == 2  # each execution is a new moment


def test_alerts_and_their_state_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "trading.sqlite3"
    store = SqliteEventStore(path)
    rig = Rig(store)
    rig.quote(AAPL, "101", "101.02", "101.01")
    done = rig.submit(price(AAPL, ">=", "100"))
    repeating = rig.submit(price(AAPL, ">=", "100"), alertRepeatable=1)
    waiting = rig.submit(price(AAPL, ">=", "200"), alertName="later")
    assert len(rig.fired) == 2
    store.close()
    again = Rig(SqliteEventStore(path))
    assert [a.alert_id for a in again.book.alerts(ACCT)] == [done, repeating, waiting]
    assert again.book.get(done) == rig.book.get(done)
    again.quote(AAPL, "101.5", "101.52", "101.51")
    assert again.fired == []  # neither the done one nor the repeatable one (still met) fires
    again.quote(AAPL, "201", "201.02", "201.01")
    assert [f.alert.alert_id for f in again.fired] == [waiting]
    fresh = again.submit(price(AAPL, ">=", "1000"))
    assert fresh == waiting + 1


# --- margin cushion conditions (type 4): the account's (excess liquidity / net liquidation) ---


def cushion(operator: str, percent: str, *, logic: str = "n") -> dict[str, Any]:
    return {"type": 4, "operator": operator, "value": percent, "logicBind": logic}


def figures(rig: Rig, percent: str) -> None:
    """The account's figures change to a cushion of `percent` (on 1,000,000 net)."""
    net = Decimal(1_000_000)
    rig.book.on_figures(ACCT, net, net * Decimal(percent) / 100)


def test_a_cushion_alert_fires_when_the_cushion_falls_to_its_value(rig: Rig) -> None:
    alert_id = rig.submit(cushion("<=", "30"), alertRepeatable=1)
    for percent in ("100", "45", "30.5"):
        figures(rig, percent)
    assert rig.fired == []
    figures(rig, "30")
    figures(rig, "12")  # still met: no new edge
    assert [f.alert.alert_id for f in rig.fired] == [alert_id]
    figures(rig, "50")
    figures(rig, "29.99")  # met again after it stopped holding: a repeatable fires again
    assert len(rig.fired) == 2
    rig.book.on_figures("DU9", Decimal(100), Decimal(1))  # another account's figures: nothing
    assert len(rig.fired) == 2


def test_a_cushion_condition_reads_the_account_now_until_its_figures_change() -> None:
    asked: list[str] = []

    def now(account: str) -> Decimal:
        asked.append(account)
        return Decimal(20)

    rig = Rig(MemoryEventStore())
    rig.book = AlertBook(MemoryEventStore(), accounts=[ACCT], find=CATALOGUE.find,
                         market=rig.market, hours=MarketHours(CATALOGUE, Mode.ALWAYS),
                         clock=rig.clock, cushion=now)  # fmt: skip
    rig.book.add_listener(rig.fired.append)
    # A price condition ORed with a cushion: a tick evaluates both; the cushion is read once.
    rig.submit(price(AAPL, ">=", "500", logic="o"), cushion("<=", "25"))
    rig.quote(AAPL, "99.00", "99.02", "99.01")
    assert len(rig.fired) == 1 and asked == [ACCT]
    figures(rig, "90")  # the event's figures replace what was read
    rig.quote(AAPL, "99.10", "99.12", "99.11")
    assert asked == [ACCT]


def test_a_zero_net_liquidation_is_a_zero_cushion(rig: Rig) -> None:
    rig.submit(cushion("<=", "0"))
    rig.book.on_figures(ACCT, Decimal(0), Decimal(-5))
    assert len(rig.fired) == 1


def test_a_cushion_alert_survives_a_restart_and_fires_once(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    first = Rig(SqliteEventStore(path))
    alert_id = first.submit(cushion(">=", "95"))
    figures(first, "96")
    assert len(first.fired) == 1
    again = Rig(SqliteEventStore(path))
    figures(again, "97")
    assert again.fired == [] and again.book.get(alert_id).triggered
