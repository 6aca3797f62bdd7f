"""The market engine: one latest-value store per conid, shared by REST snapshots and streams.

Sources feed it `Tick`s; it merges each into the conid's value map and reports only the fields
whose value actually changed, to the caller and to every listener. Values are the wire strings
of `tickgate.protocol.fields`, so a snapshot or a stream frame copies them without formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from tickgate.clock import SystemClock
from tickgate.errors import NotFoundError
from tickgate.market.health import Health
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.ticks import Quote, Tick
from tickgate.protocol import fields as F

#: Called as ``listener(conid, changed_fields, ts_ns)`` after a tick changed something. The dict
#: is shared by every listener and by the caller of `apply`: listeners must not mutate it.
MarketListener = Callable[[int, dict[int, str], int], None]

#: What `apply` calls for one conid, in order: every conid's listeners, then that conid's own.
_Route = tuple[tuple[str, MarketListener], ...]

_QUOTE_FIELDS = tuple(F.QUOTE_FIELDS)


def static_fields(instrument: Instrument) -> dict[int, str]:
    """The fields of `instrument` that never change during a session (ids, names, markers)."""
    conid = str(instrument.conid)
    values = {
        F.SYMBOL: instrument.symbol,
        F.COMPANY_NAME: instrument.name,
        F.EXCHANGE: instrument.exchange,
        F.SEC_TYPE: instrument.sec_type.value,
        F.LISTING_EXCHANGE: instrument.listing_exchange or instrument.exchange,
        F.CONID: conid,
        F.CONID_EXCHANGE: conid,
        F.AVAILABILITY: "RpB",
        F.SERVER_ID: "q0",
        F.CAN_BE_TRADED: "0" if instrument.sec_type is SecType.IND else "1",
        F.HAS_TRADING_PERMISSIONS: "1",
    }
    if instrument.underlying_conid is not None:
        values[F.UNDERLYING_CONID] = str(instrument.underlying_conid)
    if instrument.right is not None:
        values[F.RIGHT] = instrument.right.value
    if instrument.expiry is not None:
        values[F.REGULAR_EXPIRY] = instrument.expiry
    return values


class MarketEngine:
    """Latest wire values per conid for every instrument of a catalogue.

    Owned by the event loop thread: not thread-safe, and listeners run synchronously inside
    `apply`: first those of every conid (`add_listener`), then those that watch the tick's
    conid alone (`watch`), each group in the order it was added. A listener that raises is
    contained: the failure is counted and logged by `health` under the listener's name, and
    every other listener still gets the tick, so one broken part (a bad order, a failing store)
    cannot stall market data.

    Tick path: a tick costs the same whether many conids are watched or none; a conid nobody
    watches calls only the listeners of every conid (its route is looked up, not filtered).
    """

    __slots__ = ("_listeners", "_routes", "_ticks", "_updated", "_values", "_watchers", "health")

    def __init__(self, catalogue: Iterable[Instrument], *, health: Health | None = None) -> None:
        """Seed the static fields (`static_fields`) of every instrument of `catalogue`.
        Listener failures go to `health` (a new one on the system clock by default)."""
        instruments = list(catalogue)
        self._values: dict[int, dict[int, str]] = {i.conid: static_fields(i) for i in instruments}
        self._ticks: dict[int, Decimal] = {i.conid: i.min_tick for i in instruments}
        self._updated: dict[int, int] = {}
        self._listeners: _Route = ()
        self._watchers: dict[int, _Route] = {}
        # Per conid, the listeners `apply` calls: one lookup on the tick path, never a filter.
        self._routes: dict[int, _Route] = dict.fromkeys(self._values, self._listeners)
        self.health = health if health is not None else Health(SystemClock().monotonic_ns)

    def add_instruments(self, instruments: Iterable[Instrument]) -> None:
        """Learn instruments that joined the catalogue while running (a catalogue listener):
        their static fields are seeded, and `apply`, `snapshot` and `knows` accept them from
        now on. An instrument already known keeps its values."""
        for instrument in instruments:
            if instrument.conid not in self._values:
                self._values[instrument.conid] = static_fields(instrument)
                self._ticks[instrument.conid] = instrument.min_tick
                self._reroute(instrument.conid)

    def add_listener(self, listener: MarketListener, *, name: str | None = None) -> None:
        """Call `listener` for every future tick that changes at least one value. Its failures
        are reported under `name` (default: the listener's qualified name)."""
        self._listeners += ((self._register(listener, name), listener),)
        for conid in self._routes:
            self._reroute(conid)

    def watch(self, conid: int, listener: MarketListener, *, name: str | None = None) -> None:
        """Call `listener` for every future tick of `conid` that changes at least one value,
        after the listeners of every conid; the ticks of other conids never reach it (they
        cost it nothing). Failures are reported under `name` as with `add_listener`. Watching
        twice calls it twice. A conid outside the catalogue is watched from when it joins it
        (`add_instruments`): an alert restored for an instrument not learnt yet, say."""
        entry = (self._register(listener, name), listener)
        self._watchers[conid] = (*self._watchers.get(conid, ()), entry)
        self._reroute(conid)

    def unwatch(self, conid: int, listener: MarketListener) -> None:
        """Stop one `watch` of `conid` by `listener` (compared with ==, so a bound method
        may be passed anew). Does nothing when it does not watch `conid`; a tick being
        applied still reaches it."""
        watchers = list(self._watchers.get(conid, ()))
        for index, (_, watcher) in enumerate(watchers):
            if watcher == listener:
                del watchers[index]
                break
        else:
            return
        if watchers:
            self._watchers[conid] = tuple(watchers)
        else:
            del self._watchers[conid]
        self._reroute(conid)

    def watchers(self, conid: int) -> int:
        """How many `watch`es of `conid` are in force."""
        return len(self._watchers.get(conid, ()))

    def _register(self, listener: MarketListener, name: str | None) -> str:
        name = name or getattr(listener, "__qualname__", None) or repr(listener)
        self.health.register(name)
        return name

    def _reroute(self, conid: int) -> None:
        if conid not in self._values:
            return  # watched before it joins: routed by `add_instruments`
        watchers = self._watchers.get(conid)
        self._routes[conid] = self._listeners + watchers if watchers else self._listeners

    def apply(self, tick: Tick) -> dict[int, str]:
        """Merge `tick` and return the fields whose value changed (possibly empty).

        Listeners are called only when something changed; the change time of the conid becomes
        `tick.ts_ns`. Raises NotFoundError for a conid outside the catalogue; never raises what
        a listener raised (see the class docstring).
        """
        values = self._values.get(tick.conid)
        if values is None:
            raise NotFoundError(f"unknown conid {tick.conid}")
        # A loop, not a comprehension: in 3.11 a comprehension is one more function call a tick.
        get = values.get
        changed: dict[int, str] = {}
        for fid, value in tick.fields.items():
            if get(fid) != value:
                changed[fid] = value
        if changed:
            values.update(changed)
            self._updated[tick.conid] = tick.ts_ns
            # A tuple, replaced (never changed) by `watch`: a listener may unwatch meanwhile.
            for name, listener in self._routes[tick.conid]:
                # A try block costs nothing in 3.11 until something raises.
                try:
                    listener(tick.conid, changed, tick.ts_ns)
                except Exception as exc:
                    self.health.failed(name, f"conid {tick.conid}", exc)
        return changed

    def snapshot(self, conid: int, fields: Iterable[int] | None = None) -> dict[int, str]:
        """A copy of the current values of `conid`: all of them, or those of `fields` that
        have a value (unknown or not-yet-quoted field ids are simply absent).

        Raises NotFoundError for a conid outside the catalogue.
        """
        values = self._known(conid)
        if fields is None:
            return dict(values)
        return {fid: values[fid] for fid in fields if fid in values}

    def quote(self, conid: int) -> Quote | None:
        """Top of book (bid, ask, sizes, last) of `conid`, or None until all five fields are
        known. The one conversion from wire text to numbers: prices become exact Decimals
        written to the instrument's `min_tick` decimals, straight from the text (no float on
        the way). Raises NotFoundError for a conid outside the catalogue and ValueError when
        a value of those fields is not a number."""
        values = self._known(conid)
        if any(fid not in values for fid in _QUOTE_FIELDS):
            return None
        tick, price = self._ticks[conid], F.parse_decimal_price
        return Quote(
            conid,
            price(values[F.BID]).quantize(tick),
            price(values[F.ASK]).quantize(tick),
            Decimal(F.parse_size(values[F.BID_SIZE])),
            Decimal(F.parse_size(values[F.ASK_SIZE])),
            price(values[F.LAST]).quantize(tick),
            self._updated.get(conid, 0),
            halted=F.is_halted_last(values[F.LAST]),
        )

    def updated_ns(self, conid: int) -> int | None:
        """Time of the last tick that changed a value of `conid`, None if none did yet.
        Raises NotFoundError for a conid outside the catalogue."""
        self._known(conid)
        return self._updated.get(conid)

    def knows(self, conid: int) -> bool:
        """True when `conid` is an instrument of the catalogue."""
        return conid in self._values

    def _known(self, conid: int) -> dict[int, str]:
        values = self._values.get(conid)
        if values is None:
            raise NotFoundError(f"unknown conid {conid}")
        return values
