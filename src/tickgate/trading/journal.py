"""The trading engine's state and its events: restored from the store, changed only by
committing events, and published to listeners after they are stored.

Guarantees:
- every state change is an event appended to the `EventStore` *before* it is applied for
  anyone to see, returned to a caller or passed to a listener; on construction the journal
  restores the store's checkpoint and replays the events after it, so a restarted engine holds
  exactly what it acknowledged;
- what quotes cause is committed at once, or, after `group_quote_commits`, in one transaction
  per group (see there): the market-data path then waits on the disk once per group;
- not thread-safe: call it from one thread (the event loop) only.
`TradingEngine` (matching), `PlacementDesk` (commands) and `AccountViews` (queries) share one
journal; nothing else writes its state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence

from tickgate.clock import NS_PER_S, Clock
from tickgate.errors import NotFoundError
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, invalid_conid
from tickgate.model.orders import Fill, Order
from tickgate.trading.checkpoint import encode_state, restore_state
from tickgate.trading.commands import InstrumentLookup
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.documents import Document
from tickgate.trading.events import (
    OrderUpdated,
    PnlChanged,
    SessionClosed,
    StoredEvent,
    TradingEvent,
)
from tickgate.trading.portfolio import Portfolio, Rates
from tickgate.trading.state import TradingState
from tickgate.trading.store import Documents, EventStore

Listener = Callable[[TradingEvent], None]
#: Records that belong to a batch of events, stored in the batch's own transaction.
Companion = Callable[[Sequence[StoredEvent]], Documents]
#: Runs a callback soon, after the current market-data callback returns (`loop.call_soon`).
Scheduler = Callable[[Callable[[], None]], object]

#: A trailing-stop move nobody was shown is stored with the next group that stores anything,
#: when a query or command needs it, or once it is this old: at most one write per interval.
TRAIL_PERSIST_INTERVAL_NS = NS_PER_S
#: A restart that replayed at least this many events saves a fresh checkpoint.
CHECKPOINT_AFTER_REPLAYED = 1_000

log = logging.getLogger("tickgate.trading.engine")


class Journal:
    """The accounts' state, the store it is rebuilt from, and the listeners of its events."""

    def __init__(
        self,
        instruments: InstrumentLookup,
        store: EventStore,
        clock: Clock,
        accounts: Sequence[AccountConfig],
        rates: Rates | None = None,
    ) -> None:
        self.instruments, self.store, self.clock = instruments, store, clock
        self._rates = rates
        self._listeners: list[Listener] = []
        self._companions: list[Companion] = []
        self._last_pnl: dict[str, PnlChanged] = {}
        self._schedule: Scheduler | None = None
        self._pending: list[StoredEvent] = []
        self._trails: dict[int, int] = {}  # order id -> monotonic ns of its first unstored move
        self._flush_scheduled = False
        self._in_quote = False
        self.state = self._restore(accounts)

    def _restore(self, accounts: Sequence[AccountConfig]) -> TradingState:
        checkpoint, events = self.store.restore()
        state = TradingState.empty(accounts, self._rates)
        if checkpoint is not None:
            try:
                state = restore_state(checkpoint, accounts, self._rates)
            except (KeyError, TypeError, ValueError):
                log.warning("trading checkpoint unreadable; replaying the whole store")
                checkpoint, events = None, self.store.replay()
        replayed = 0
        for event in events:
            state.apply(event, self.instrument)
            replayed += 1
        hot = len(state.orders) + len(state.fills)
        if replayed >= CHECKPOINT_AFTER_REPLAYED and replayed > 2 * hot:
            self.store.save_checkpoint(encode_state(state))
        return state

    # ---- reads ----------------------------------------------------------------------------

    def instrument(self, conid: int) -> Instrument:
        """The instrument of `conid`. Raises NotFoundError when the catalogue lacks it."""
        found = self.instruments.find(conid)
        if found is None:
            raise NotFoundError(f"{invalid_conid(conid)}: no such contract")
        return found

    def portfolio_of(self, account: str) -> Portfolio:
        """The account's Portfolio (everything in it stored). Raises NotFoundError for an
        unknown account."""
        self.settle()
        try:
            return self.state.portfolios[account]
        except KeyError:
            raise NotFoundError(f"Account {account} does not exist") from None

    def known_order(self, order_id: int) -> Order | None:
        """The order from the hot state, else (an earlier day's) from the store."""
        return self.state.orders.get(order_id) or self.store.order(order_id)

    def stored_fills(self, since_ns: int) -> list[Fill]:
        """Executions at or after `since_ns` as the store holds them (earlier days too)."""
        return self.store.fills_since(since_ns)

    def save_checkpoint(self) -> None:
        """Save the state as the store's checkpoint (after a session close)."""
        self.store.save_checkpoint(encode_state(self.state))

    # ---- events ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` after each event is stored and applied; returns a remover.

        Listeners run synchronously and must not raise or call back into the engine.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_companion(self, companion: Companion) -> None:
        """Store `companion(events)`'s documents in the same transaction as each batch of
        `events` (a fill's notification), so a crash keeps both or neither.

        A companion must not raise; what it returns for a batch whose append fails is
        dropped with the batch (the events are then not applied, so no listener sees them).
        """
        self._companions.append(companion)

    def _append(
        self, events: Sequence[StoredEvent], daily_values: Sequence[DailyValue] = ()
    ) -> None:
        documents: dict[str, dict[str, Document]] = {}
        for companion in self._companions:
            for kind, batch in companion(events).items():
                documents.setdefault(kind, {}).update(batch)
        self.store.append(events, daily_values=daily_values, documents=documents)

    def silence(self) -> None:
        """Tell no listener anything from now on. For an engine whose events are nobody's: a
        cluster edge's placeholder, whose accounts are the core's (its session closes would
        reach the edge's clients beside the core's, with figures of an account that never
        traded). Companions are dropped too: such an engine stores nothing of its own."""
        self._listeners.clear()
        self._companions.clear()

    def group_quote_commits(self, schedule: Scheduler) -> None:
        """Commit what quotes cause in groups from now on.

        Events caused by a quote are applied at once (the next quote matches against them) but
        held back from the store and from listeners; the first of a group asks `schedule` to
        run `flush`, which stores the whole group in one transaction and then publishes it.
        Every query and command flushes first, so nothing unstored is ever shown or
        acknowledged. A trailing stop's move is shown to nobody until stored, so the moves a
        crash can lose are ones no client saw: after a restart the stop is never looser than
        what a client was told, and the next quote ratchets it again. Such a move is stored
        with the next group that stores anything else, when a query or command flushes, or
        once `TRAIL_PERSIST_INTERVAL_NS` old.
        """
        self._schedule = schedule

    @contextlib.contextmanager
    def quote_callback(self) -> Iterator[None]:
        """Mark the block as a market-data callback: what it `hold`s may join a group."""
        self._in_quote = True
        try:
            yield
        finally:
            self._in_quote = False

    @property
    def holding(self) -> bool:
        """True while a group of quote events is applied but not yet stored."""
        return bool(self._pending)

    def flush(self) -> None:
        """Store and publish the held-back group (nothing when there is none).

        Raises what the store raises; the group then stays held back and is retried with the
        next flush.
        """
        self._flush_scheduled = False
        events = [*self._pending, *(OrderUpdated(self.state.orders[i]) for i in self._trails)]
        if not events:
            return
        self._pending, self._trails = [], {}
        try:
            self._append(events)
        except BaseException:
            self._pending = events  # applied already: stored with the next flush
            raise
        for event in events:
            self._publish(event)
        self.publish_pnl()

    def settle(self) -> None:
        """Make everything applied stored (and published) before it is shown or built upon.

        Inside a quote callback nothing else runs, and listeners called there only see P&L
        with no fill held back, so the group is left to its flush."""
        if (self._pending or self._trails) and not self._in_quote:
            self.flush()

    def commit(
        self, events: Sequence[StoredEvent], *, daily_values: Sequence[DailyValue] = ()
    ) -> None:
        """Store `events` (with `daily_values` and the companions' documents, in one
        transaction), apply them, then publish them (and any P&L they changed).

        Raises what the store raises; nothing is applied then."""
        self.settle()
        if not events:
            return
        self._append(events, daily_values)
        for event in events:
            self.state.apply(event, self.instrument)
        for event in events:
            self._publish(event)
        self.publish_pnl()

    def hold(self, events: Sequence[StoredEvent], trail: OrderUpdated | None) -> None:
        """A quote's events (and a trailing stop's move): committed now, or applied and held
        for the group commit."""
        if self._schedule is None or not self._in_quote:
            self.commit([*events] if trail is None else [trail, *events])
            return
        now = self.clock.monotonic_ns()
        if trail is not None:
            self.state.apply(trail, self.instrument)
            self._trails.setdefault(trail.order.order_id, now)
        for event in events:
            self.state.apply(event, self.instrument)
            if not isinstance(event, SessionClosed):  # its snapshot carries any earlier move
                self._trails.pop(event.order.order_id, None)
        self._pending += events
        oldest = min(self._trails.values(), default=now)
        due = self._pending or now - oldest >= TRAIL_PERSIST_INTERVAL_NS
        if due and not self._flush_scheduled:
            self._flush_scheduled = True
            self._schedule(self.flush)

    def _publish(self, event: TradingEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def publish_pnl(self) -> None:
        """Publish a `PnlChanged` for each account whose figures changed since the last one."""
        for account, portfolio in self.state.portfolios.items():
            now = PnlChanged.of(portfolio)
            if self._last_pnl.get(account) != now:
                self._last_pnl[account] = now
                self._publish(now)
