"""The alert book: the user's trading alerts, kept in a `DocumentStore` and evaluated against
the market, the clock and the account's executions.

Guarantees:
- Every change a request makes is stored before it is answered; a change the store refuses
  leaves the book as it was. A firing is stored before anyone is told of it, so a restart
  never fires a non-repeatable alert twice.
- The tick path costs nothing for a conid no live alert reads (the book watches only the
  conids its alerts read, `MarketEngine.watch`), and one set test for a change of fields no
  alert reads (`on_market`); only the alerts of that conid are evaluated.
- An alert fires on the change from "not met" to "met" (edge, not level): a non-repeatable
  alert fires once and is done (`triggered`); a repeatable one fires again each time its
  conditions become met after they were not. Activating an alert re-arms it.
- Conditions join with AND before OR (`a AND b OR c` is `(a AND b) OR c`), as the sum of
  products TWS's condition list reads as. An alert without `outsideRth` fires only while the
  market of its first contract is in regular hours. A GTD alert that reaches its expiry
  unfired expires (inactive).

Time is passed in (`now_ns`) or read from the injected clock; nothing here waits: the server's
timer calls `on_time` at `next_due_ns`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tickgate.clock import Clock
from tickgate.errors import NotFoundError, RequestError
from tickgate.market.calendar import Phase
from tickgate.market.engine import MarketListener
from tickgate.model.alerts import (
    Alert,
    AlertSpec,
    Condition,
    ConditionType,
    LogicBind,
    Operator,
    Tif,
    TriggerMethod,
)
from tickgate.model.instruments import Instrument, invalid_conid
from tickgate.protocol import fields as F
from tickgate.trading.documents import Document, DocumentStore
from tickgate.trading.events import OrderFilled, PnlChanged, TradingEvent
from tickgate.trading.portfolio import margin_cushion

log = logging.getLogger("tickgate.alerts")

KIND = "alert"
#: The first alert id of a new store (IBKR's alert ids are order ids: large numbers).
FIRST_ID = 1_400_000_001
MAX_ALERTS = 500
_LAST = frozenset((F.LAST,))
_BID_ASK = frozenset((F.BID, F.ASK))
#: The market fields each price trigger method reads: a tick that changes none of them is not
#: evaluated.
_TRIGGER_FIELDS = {
    TriggerMethod.DEFAULT: _LAST,
    TriggerMethod.LAST: _LAST,
    TriggerMethod.DOUBLE_LAST: _LAST,
    TriggerMethod.BID_ASK: _BID_ASK,
    TriggerMethod.DOUBLE_BID_ASK: _BID_ASK,
    TriggerMethod.MIDPOINT: _BID_ASK,
    TriggerMethod.LAST_OR_BID_ASK: _LAST | _BID_ASK,
}
_VOLUME = frozenset((F.VOLUME_EXACT,))
#: Market values read during one evaluation pass, by (conid, field): each is parsed once,
#: however many alerts read it, and only the fields a condition reads are parsed at all.
Quotes = dict[tuple[int, int], Decimal | None]


#: The name the book's tick-path failures are reported under (`MarketEngine.health`).
HEALTH_NAME = "alerts"


class MarketValues(Protocol):
    """The market engine as the book reads it."""

    def snapshot(self, conid: int, fields: Iterable[int] | None = None) -> dict[int, str]: ...

    def watch(self, conid: int, listener: MarketListener, *, name: str | None = None) -> None: ...

    def unwatch(self, conid: int, listener: MarketListener) -> None: ...


class Sessions(Protocol):
    """The market hours as the book reads them (`MarketHours`)."""

    def phase(self, conid: int, now_ns: int) -> Phase: ...


@dataclass(frozen=True, slots=True)
class AlertFired:
    """`alert` (its state after firing) fired at `at_ns`."""

    alert: Alert
    at_ns: int


AlertListener = Callable[[AlertFired], None]


class AlertBook:
    """The alerts of a gateway's accounts. Owned by the event loop thread."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        accounts: Iterable[str],
        find: Callable[[int], Instrument | None],
        market: MarketValues,
        hours: Sessions,
        clock: Clock,
        cushion: Callable[[str], Decimal] | None = None,
    ) -> None:
        """`cushion(account)` is an account's margin cushion (percent) now, what a margin
        condition compares until the account's next `PnlChanged` says it (none: margin
        conditions wait for that event)."""
        self._store = store
        self._cushion = cushion
        #: Each account's cushion as its latest `PnlChanged` gave it.
        self._cushions: dict[str, Decimal] = {}
        #: Live alerts with a margin condition, by account.
        self._margined: dict[str, set[int]] = {}
        self._accounts = tuple(accounts)
        self._find = find
        self._market = market
        self._hours = hours
        self._clock = clock
        self._alerts: dict[int, Alert] = {}
        for key, document in store.documents(KIND):
            alert = decode(document)
            self._alerts[alert.alert_id] = alert
            assert str(alert.alert_id) == key
        self._next_id = max([FIRST_ID - 1, *self._alerts]) + 1
        self._listeners: list[AlertListener] = []
        # Evaluation state, rebuilt from the alerts: not stored.
        self._by_conid: dict[int, set[int]] = {}
        #: The market fields the live alerts of a conid read there (the tick path's filter).
        self._reads: dict[int, frozenset[int]] = {}
        self._by_traded: dict[int, set[int]] = {}
        self._timed: set[int] = set()
        self._met: dict[int, bool] = {}
        self._streaks: dict[tuple[int, int], int] = {}
        #: Time conditions and expiries up to here were seen (`on_time`): not due again. None
        #: seen yet: those that fell due while the gateway was down are due at once.
        self._time_seen = 0
        for alert in self._alerts.values():
            self._index(alert)
            # A repeatable alert that fired before a restart waits for its conditions to
            # stop holding before it fires again, as it would have without the restart.
            self._met[alert.alert_id] = alert.spec.repeatable and alert.fired > 0

    # --- reading -------------------------------------------------------------------------------

    def add_listener(self, listener: AlertListener) -> None:
        """Call `listener` for every firing, after it was stored."""
        self._listeners.append(listener)

    def alerts(self, account: str) -> list[Alert]:
        """The alerts of `account`, oldest first. Raises NotFoundError for an unknown account."""
        self._check_account(account)
        return [a for a in self._alerts.values() if a.spec.account == account]

    def get(self, alert_id: int) -> Alert:
        """The alert `alert_id`. Raises NotFoundError when there is none."""
        found = self._alerts.get(alert_id)
        if found is None:
            raise NotFoundError(f"alert {alert_id} not found")
        return found

    def describe(self, conid: int) -> str:
        """A contract's name as alert answers show it (its symbol)."""
        instrument = self._find(conid)
        return instrument.symbol if instrument is not None else str(conid)

    @property
    def watched_conids(self) -> frozenset[int]:
        """The conids a live alert's price or volume condition reads (for inspection)."""
        return frozenset(self._by_conid)

    # --- changes -------------------------------------------------------------------------------

    def submit(self, spec: AlertSpec, *, modifies: int | None = None) -> Alert:
        """Create an alert, or replace the one `modifies` names (its id and creation time kept,
        re-armed), store it and evaluate it once at once: an alert already met fires now.

        Raises NotFoundError for an unknown account or alert id, RequestError (400) for a
        conid outside the catalogue, a GTD alert that expires in the past, or too many alerts.
        """
        self._check_account(spec.account)
        unknown = [
            c.conid for c in spec.conditions if c.conid is not None and not self._find(c.conid)
        ]
        if unknown:
            raise RequestError(invalid_conid(*dict.fromkeys(unknown)))
        now = self._clock.now_ns()
        if spec.tif is Tif.GTD and spec.expire_ns is not None and spec.expire_ns <= now:
            raise RequestError("Invalid expireTime: it is not in the future")
        if modifies is None:
            if len(self._alerts) >= MAX_ALERTS:
                raise RequestError(f"at most {MAX_ALERTS} alerts")
            alert = Alert(self._next_id, spec, created_ns=now)
        else:
            old = self._owned(spec.account, modifies)
            alert = Alert(old.alert_id, spec, created_ns=old.created_ns)
        self._save([alert])
        if modifies is None:
            self._next_id += 1
        self._replace(alert)
        self._evaluate(alert.alert_id, now, {})
        return self._alerts[alert.alert_id]

    def activate(self, account: str, alert_id: int, active: bool) -> list[Alert]:
        """Activate or deactivate one alert of `account`, or all of them for `alert_id` 0.
        Activating re-arms (a fired or expired alert may fire again). Raises NotFoundError."""
        targets = self._targets(account, alert_id)
        changed = [
            dataclasses.replace(a, active=active, triggered=a.triggered and not active,
                                expired=a.expired and not active)
            for a in targets
        ]  # fmt: skip
        self._save(changed)
        now = self._clock.now_ns()
        for alert in changed:
            self._replace(alert)
            self._evaluate(alert.alert_id, now, {})
        return changed

    def delete(self, account: str, alert_id: int) -> list[int]:
        """Delete one alert of `account`, or all of them for `alert_id` 0; the ids deleted.
        Raises NotFoundError for an unknown account or alert."""
        targets = [a.alert_id for a in self._targets(account, alert_id)]
        self._store.delete_documents(KIND, [str(i) for i in targets])
        for target in targets:
            self._unindex(target)
            del self._alerts[target]
        return targets

    # --- evaluation ----------------------------------------------------------------------------

    def on_market(self, conid: int, changed: dict[int, str], ts_ns: int) -> None:
        """Market listener of the conids live alerts read (the book watches them): evaluate
        those alerts, when a field they read changed."""
        reads = self._reads.get(conid)
        if reads is None or reads.isdisjoint(changed):
            return
        now, quotes = self._clock.now_ns(), Quotes()
        for alert_id in tuple(self._by_conid[conid]):
            self._evaluate(alert_id, now, quotes, ticked=conid)

    def on_execution(self, account: str, conid: int) -> None:
        """An execution of `conid` in `account`: evaluate the alerts with a trade condition on
        it (met during this evaluation only)."""
        watching = self._by_traded.get(conid)
        if watching is None:
            return
        now, quotes = self._clock.now_ns(), Quotes()
        for alert_id in tuple(watching):
            if self._alerts[alert_id].spec.account == account:
                self._evaluate(alert_id, now, quotes, traded=conid)

    def on_trading_event(self, event: TradingEvent) -> None:
        """Trading listener: an execution is what a trade condition waits for; an account's
        new figures are what its margin conditions compare."""
        if isinstance(event, OrderFilled):
            self.on_execution(event.fill.account, event.fill.conid)
        elif isinstance(event, PnlChanged):
            self.on_figures(event.account, event.net_liquidation, event.excess_liquidity)

    def on_figures(self, account: str, net_liquidation: Decimal, excess_liquidity: Decimal) -> None:
        """`account`'s figures changed: evaluate its alerts with a margin condition."""
        self._cushions[account] = margin_cushion(net_liquidation, excess_liquidity)
        watching = self._margined.get(account)
        if not watching:
            return
        now, quotes = self._clock.now_ns(), Quotes()
        for alert_id in tuple(watching):
            self._evaluate(alert_id, now, quotes)

    def next_due_ns(self) -> int | None:
        """The earliest instant a time condition or a GTD expiry of a live alert falls due
        after the last `on_time`, or None when none will."""
        seen = self._time_seen
        due = [
            at for alert_id in self._timed for at in _instants(self._alerts[alert_id]) if at > seen
        ]
        return min(due, default=None)

    def on_time(self, now_ns: int) -> None:
        """Expire the GTD alerts due by `now_ns` and evaluate those with time conditions.
        What it raises (a store that refuses a write) leaves `now_ns` not seen: the next call
        tries again."""
        quotes: Quotes = {}
        for alert_id in tuple(self._timed):
            alert = self._alerts[alert_id]
            if alert.spec.expire_ns is not None and alert.spec.expire_ns <= now_ns:
                expired = dataclasses.replace(alert, expired=True)
                self._save([expired])
                self._replace(expired)
                log.info("alert %d expired (GTD)", alert_id)
            elif any(c.type is ConditionType.TIME for c in alert.spec.conditions):
                self._evaluate(alert_id, now_ns, quotes)
        self._time_seen = max(self._time_seen, now_ns)

    def _evaluate(self, alert_id: int, now_ns: int, quotes: Quotes, *,
                  ticked: int | None = None, traded: int | None = None) -> None:  # fmt: skip
        alert = self._alerts[alert_id]
        if not alert.live:
            return
        if not self._conditions_met(alert, now_ns, quotes, ticked=ticked, traded=traded):
            self._met[alert_id] = False
            return
        if traded is None and self._met.get(alert_id, False):
            return  # still met since it fired: no new edge
        if not self._in_hours(alert, now_ns):
            return  # not marked met: it fires once its market's regular hours allow
        fired = dataclasses.replace(alert, triggered=True, fired=alert.fired + 1,
                                    last_fired_ns=now_ns)  # fmt: skip
        self._save([fired])
        self._replace(fired)
        # A trade condition is a moment, not a state: it never holds the alert "met".
        self._met[alert_id] = traded is None
        log.info("alert %d (%s) fired", alert_id, alert.spec.name)
        event = AlertFired(fired, now_ns)
        for listener in self._listeners:
            listener(event)

    def _conditions_met(self, alert: Alert, now_ns: int, quotes: Quotes, *,
                        ticked: int | None, traded: int | None) -> bool:  # fmt: skip
        # (a AND b) OR (c AND d): AND groups, split where a condition binds with OR.
        groups: list[bool] = []
        group = True
        for index, condition in enumerate(alert.spec.conditions):
            holds = self._holds(alert.alert_id, index, condition, now_ns, quotes, ticked, traded)
            group = group and holds
            if condition.logic is LogicBind.OR:
                groups.append(group)
                group = True
        groups.append(group)
        return any(groups)

    def _holds(self, alert_id: int, index: int, condition: Condition, now_ns: int,
               quotes: Quotes, ticked: int | None, traded: int | None) -> bool:  # fmt: skip
        kind = condition.type
        if kind is ConditionType.TIME:
            assert condition.at_ns is not None
            return condition.operator.holds(now_ns, condition.at_ns)
        if kind is ConditionType.TRADE:
            return traded is not None and traded == condition.conid
        if kind is ConditionType.MARGIN:
            assert condition.threshold is not None
            cushion = self._cushion_of(self._alerts[alert_id].spec.account)
            return cushion is not None and condition.operator.holds(cushion, condition.threshold)
        assert condition.conid is not None and condition.threshold is not None
        if kind is ConditionType.VOLUME:
            # The exact day volume (field 87 rounds it to three digits and K/M).
            volume = self._value(condition.conid, F.VOLUME_EXACT, quotes)
            return volume is not None and condition.operator.holds(volume, condition.threshold)
        conid = condition.conid
        prices = _prices(condition, lambda field: self._value(conid, field, quotes))
        holds = any(condition.operator.holds(price, condition.threshold) for price in prices)
        if not condition.trigger.double:
            return holds
        # Double methods: the price must qualify on two updates of the contract in a row.
        key = (alert_id, index)
        if ticked == condition.conid:
            self._streaks[key] = self._streaks.get(key, 0) + 1 if holds else 0
        return holds and self._streaks.get(key, 0) >= 2

    def _cushion_of(self, account: str) -> Decimal | None:
        known = self._cushions.get(account)
        if known is None and self._cushion is not None:
            known = self._cushions[account] = self._cushion(account)
        return known

    def _value(self, conid: int, field: int, quotes: Quotes) -> Decimal | None:
        """The market's value of `field` (a price, or the exact volume), None until known."""
        key = (conid, field)
        if key in quotes:
            return quotes[key]
        raw = self._market.snapshot(conid, (field,)).get(field)
        value: Decimal | None = None
        if raw is not None:
            value = (
                Decimal(F.parse_size(raw))
                if field == F.VOLUME_EXACT
                else F.parse_decimal_price(raw)
            )
        quotes[key] = value
        return value

    def _in_hours(self, alert: Alert, now_ns: int) -> bool:
        if alert.spec.outside_rth:
            return True
        conids = [c.conid for c in alert.spec.conditions if c.conid is not None]
        return not conids or self._hours.phase(conids[0], now_ns) is Phase.REGULAR

    # --- bookkeeping ---------------------------------------------------------------------------

    def _check_account(self, account: str) -> None:
        if account not in self._accounts:
            raise NotFoundError(f"unknown account {account}; accounts: {', '.join(self._accounts)}")

    def _owned(self, account: str, alert_id: int) -> Alert:
        alert = self._alerts.get(alert_id)
        if alert is None or alert.spec.account != account:
            raise NotFoundError(f"alert {alert_id} not found in account {account}")
        return alert

    def _targets(self, account: str, alert_id: int) -> list[Alert]:
        self._check_account(account)
        if alert_id == 0:
            return self.alerts(account)
        return [self._owned(account, alert_id)]

    def _save(self, alerts: list[Alert]) -> None:
        if alerts:
            self._store.put_documents(KIND, {str(a.alert_id): encode(a) for a in alerts})

    def _replace(self, alert: Alert) -> None:
        self._unindex(alert.alert_id)
        self._alerts[alert.alert_id] = alert
        self._index(alert)

    def _index(self, alert: Alert) -> None:
        if not alert.live:
            return
        if any(c.type is ConditionType.MARGIN for c in alert.spec.conditions):
            self._margined.setdefault(alert.spec.account, set()).add(alert.alert_id)
        for condition in alert.spec.conditions:
            if condition.conid is None:
                continue
            index = self._by_traded if condition.type is ConditionType.TRADE else self._by_conid
            index.setdefault(condition.conid, set()).add(alert.alert_id)
            self._refresh_reads(condition.conid)
        if _instants(alert):
            self._timed.add(alert.alert_id)

    def _unindex(self, alert_id: int) -> None:
        self._met.pop(alert_id, None)
        for key in [k for k in self._streaks if k[0] == alert_id]:
            del self._streaks[key]
        self._timed.discard(alert_id)
        old = self._alerts.get(alert_id)
        if old is None:
            return
        margined = self._margined.get(old.spec.account)
        if margined is not None:
            margined.discard(alert_id)
        for conid in {c.conid for c in old.spec.conditions if c.conid is not None}:
            for index in (self._by_conid, self._by_traded):
                watching = index.get(conid)
                if watching is not None:
                    watching.discard(alert_id)
                    if not watching:
                        del index[conid]
            self._refresh_reads(conid, leaving=alert_id)

    def _refresh_reads(self, conid: int, *, leaving: int | None = None) -> None:
        reads: frozenset[int] = frozenset()
        for alert_id in self._by_conid.get(conid, ()):
            if alert_id != leaving:
                reads |= _fields_read(self._alerts[alert_id], conid)
        watched = conid in self._reads
        if reads:
            self._reads[conid] = reads
            if not watched:
                self._market.watch(conid, self.on_market, name=HEALTH_NAME)
        elif watched:
            del self._reads[conid]
            self._market.unwatch(conid, self.on_market)


def _fields_read(alert: Alert, conid: int) -> frozenset[int]:
    """The market fields of `conid` an alert's price and volume conditions read."""
    reads: frozenset[int] = frozenset()
    for condition in alert.spec.conditions:
        if condition.conid != conid:
            continue
        if condition.type is ConditionType.PRICE:
            reads |= _TRIGGER_FIELDS[condition.trigger]
        elif condition.type is ConditionType.VOLUME:
            reads |= _VOLUME
    return reads


def _prices(condition: Condition, value: Callable[[int], Decimal | None]) -> list[Decimal]:
    """The known prices a price condition compares, by its trigger method; `value(field)`
    reads the market (bid/ask: the ask for a rising condition, the bid for a falling one)."""
    trigger = condition.trigger
    if trigger in (
        TriggerMethod.BID_ASK,
        TriggerMethod.DOUBLE_BID_ASK,
        TriggerMethod.LAST_OR_BID_ASK,
    ):
        if condition.operator is Operator.EQUAL:
            fields = [F.BID, F.ASK]
        else:
            fields = [F.ASK if condition.operator.rising else F.BID]
        if trigger is TriggerMethod.LAST_OR_BID_ASK:
            fields.append(F.LAST)
    elif trigger is TriggerMethod.MIDPOINT:
        bid, ask = value(F.BID), value(F.ASK)
        return [] if bid is None or ask is None else [(bid + ask) / 2]
    else:
        fields = [F.LAST]
    return [price for field in fields if (price := value(field)) is not None]


def _instants(alert: Alert) -> list[int]:
    """The instants at which the clock alone can change a live alert: its GTD expiry, and its
    time conditions' moments."""
    if not alert.live:
        return []
    found = [c.at_ns for c in alert.spec.conditions if c.at_ns is not None]
    if alert.spec.expire_ns is not None:
        found.append(alert.spec.expire_ns)
    return found


# --- the stored form ----------------------------------------------------------------------------


def encode(alert: Alert) -> Document:
    """The JSON document an alert is kept as (Decimals as exact strings, enums as values)."""
    spec = alert.spec
    return {
        "id": alert.alert_id,
        "created_ns": alert.created_ns,
        "active": alert.active,
        "triggered": alert.triggered,
        "fired": alert.fired,
        "last_fired_ns": alert.last_fired_ns,
        "expired": alert.expired,
        "spec": {
            **{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
               if f.name != "conditions"},
            "tif": spec.tif.value,
            "conditions": [_encode_condition(c) for c in spec.conditions],
        },
    }  # fmt: skip


def _encode_condition(condition: Condition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(condition):
        value = getattr(condition, field.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, ConditionType):
            value = int(value)
        elif isinstance(value, Operator | LogicBind | TriggerMethod):
            value = value.value
        out[field.name] = value
    return out


def decode(document: Document) -> Alert:
    """The alert `encode` wrote. Raises KeyError/TypeError/ValueError for a malformed one."""
    raw_spec = dict(document["spec"])
    conditions = tuple(
        Condition(
            type=ConditionType(c["type"]),
            operator=Operator(c["operator"]),
            logic=LogicBind(c["logic"]),
            conid=c["conid"],
            exchange=c["exchange"],
            threshold=None if c["threshold"] is None else Decimal(c["threshold"]),
            at_ns=c["at_ns"],
            time_zone=c["time_zone"],
            trigger=TriggerMethod(c["trigger"]),
            value=c["value"],
        )
        for c in raw_spec.pop("conditions")
    )
    raw_spec["tif"] = Tif(raw_spec["tif"])
    return Alert(
        alert_id=document["id"],
        spec=AlertSpec(**raw_spec, conditions=conditions),
        created_ns=document["created_ns"],
        active=document["active"],
        triggered=document["triggered"],
        fired=document["fired"],
        last_fired_ns=document["last_fired_ns"],
        expired=document["expired"],
    )
