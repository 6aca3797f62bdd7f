"""Instruments added to the catalogue at run time, shared by every member of a cluster.

Every member starts with the same built-in catalogue (members share their catalogue settings);
what joins it while running (`Catalogue.add`: a relay core learning an upstream instrument,
`--auto-instruments` creating a stock on its first search, a generated conid resolved) must
join everywhere, or an edge refuses a conid its core streams.

Subjects (under the bus prefix): `catalogue.added` carries each batch the core's catalogue
took, in order; `catalogue.get` is a request whose reply is every batch the core took since it
started (what a starting or reconnected edge catches up with); `catalogue.add` is a request
from an edge whose own catalogue grew (an auto-instrument searched there): the core adds what
it lacks and publishes it as any other batch, so its source ticks it and every edge knows it;
`catalogue.find` is a request from an edge for conids its catalogue lacks (a client named
one): the core first learns them where it can (a relay core asks its upstream), then answers
with those it has, each option with its underlying, and the edge adds them.

Guarantees: the catalogue is append only, so applying a batch twice, or batches that overlap
what a member added itself, changes nothing (conids already present are left out). An edge's
search that created an instrument is answered once the core has it (`settled`), so the stream
a client opens next finds the core ticking it. A lookup of the core (`EdgeCatalogue.fetch`)
never waits past its timeout: no core, no answer in time or a disconnected bus is a
`CoreLookupError` (503). Instruments travel as plain JSON of every field, rebuilt exactly
(`encode_instrument`, `decode_instrument`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.errors import CatalogueError
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.instruments import Instrument, Right, SecType
from tickgate.server.http import HttpError

log = logging.getLogger("tickgate.cluster.catalogue")

#: How long an edge waits for the core to look conids up (a relay core may ask its upstream).
FIND_TIMEOUT_S = 5.0
#: Learns conids a catalogue lacks where it can (a relay's upstream); raises HttpError when
#: it cannot ask.
Learn = Callable[[list[int]], Awaitable[None]]


class CoreLookupError(HttpError):
    """The core could not be asked about conids an edge lacks, or refused; the message says
    why (503 unless the core passed on another status, e.g. its upstream's 429)."""

    def __init__(self, message: str, *, status: int = 503) -> None:
        super().__init__(message, status=status)


_DECIMALS = ("min_tick", "reference_price", "strike")
_FLOATS = ("volatility", "ticks_per_second")
_FIELDS = tuple(field.name for field in dataclasses.fields(Instrument))


class InstrumentWireError(ValueError):
    """A message does not hold instruments; the message says why."""


def encode_instrument(instrument: Instrument) -> dict[str, Any]:
    """Every field of `instrument` as JSON values (decimals as their exact text)."""
    row: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(instrument, name)
        row[name] = str(value) if isinstance(value, Decimal) else value
    return row


def decode_instrument(row: object) -> Instrument:
    """The instrument `encode_instrument` made `row` of. Raises `InstrumentWireError`."""
    try:
        if not isinstance(row, dict) or set(row) != set(_FIELDS):
            raise TypeError("not an instrument's fields")
        values = dict(row)
        for name in _DECIMALS:
            if values[name] is not None:
                values[name] = Decimal(str(values[name]))
        for name in _FLOATS:
            if values[name] is not None:
                values[name] = float(values[name])
        values["sec_type"] = SecType(values["sec_type"])
        if values["right"] is not None:
            values["right"] = Right(values["right"])
        return Instrument(**values)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InstrumentWireError(f"not an instrument: {exc}") from exc


def encode_batch(instruments: Iterable[Instrument]) -> bytes:
    return orjson.dumps([encode_instrument(i) for i in instruments])


def decode_batch(data: bytes) -> list[Instrument]:
    try:
        rows = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InstrumentWireError(f"not JSON: {exc}") from exc
    if not isinstance(rows, list):
        raise InstrumentWireError("not a list of instruments")
    return [decode_instrument(row) for row in rows]


def with_underlyings(catalogue: Catalogue, conids: Iterable[int]) -> list[Instrument]:
    """The instruments of `conids` the catalogue has, each derivative's underlying before it
    (a catalogue takes a derivative only with its underlying)."""
    found: dict[int, Instrument] = {}
    for conid in conids:
        instrument = catalogue.find(conid)
        if instrument is None:
            continue
        underlying = instrument.underlying_conid
        if underlying is not None and (parent := catalogue.find(underlying)) is not None:
            found.setdefault(parent.conid, parent)
        found.setdefault(instrument.conid, instrument)
    return list(found.values())


def add_missing(catalogue: Catalogue, instruments: Iterable[Instrument]) -> tuple[Instrument, ...]:
    """Add those of `instruments` the catalogue lacks (all or nothing, see `Catalogue.add`);
    returns them. Raises CatalogueError when they do not fit (another instrument has the
    conid... which members sharing their settings never see)."""
    return catalogue.add([i for i in instruments if i.conid not in catalogue])


class CoreCatalogue:
    """The core's side: publishes every batch its catalogue takes, answers edges' catch-up
    requests with all of them, and adds what an edge's catalogue grew by."""

    def __init__(self, bus: NatsBus, catalogue: Catalogue, *, learn: Learn | None = None) -> None:
        self._bus = bus
        self._catalogue = catalogue
        self._learn = learn
        #: Every batch taken since this core started, encoded, in order.
        self._batches: list[bytes] = []
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        catalogue.add_listener(self._on_added)

    def _on_added(self, batch: tuple[Instrument, ...]) -> None:
        data = encode_batch(batch)
        self._batches.append(data)
        with contextlib.suppress(RuntimeError):  # no loop yet: edges catch up with `get`
            task = asyncio.get_running_loop().create_task(self._publish(data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish(self, data: bytes) -> None:
        with contextlib.suppress(nats.errors.Error):
            await self._bus.client.publish(f"{self._bus.prefix}.catalogue.added", data)

    async def start(self) -> None:
        prefix, client = self._bus.prefix, self._bus.client
        self._subscriptions = [
            await client.subscribe(f"{prefix}.catalogue.get", cb=self._on_get),
            await client.subscribe(f"{prefix}.catalogue.add", cb=self._on_add),
            await client.subscribe(f"{prefix}.catalogue.find", cb=self._on_find),
        ]
        await self._bus.round_trip()

    async def _on_get(self, msg: Msg) -> None:
        if msg.reply:
            body = b"[" + b",".join(self._batches) + b"]"
            with contextlib.suppress(nats.errors.Error):
                await self._bus.client.publish(msg.reply, body)

    async def _on_add(self, msg: Msg) -> None:
        try:
            added = add_missing(self._catalogue, decode_batch(msg.data))
            answer = orjson.dumps({"added": [i.conid for i in added]})
        except (InstrumentWireError, CatalogueError) as exc:
            log.warning("an edge's instruments were not added: %s", exc)
            answer = orjson.dumps({"error": str(exc)})
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await self._bus.client.publish(msg.reply, answer)

    async def _on_find(self, msg: Msg) -> None:
        # In a task of its own: a relay's upstream may be slow, and other lookups go on.
        task = asyncio.get_running_loop().create_task(self._find(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _find(self, msg: Msg) -> None:
        answer: bytes
        try:
            asked = orjson.loads(msg.data).get("conids")
            if not isinstance(asked, list) or not all(isinstance(c, int) and c > 0 for c in asked):
                raise InstrumentWireError("not a list of conids")
            if self._learn is not None:
                await self._learn(asked)
            answer = encode_batch(with_underlyings(self._catalogue, asked))
        except (orjson.JSONDecodeError, AttributeError, InstrumentWireError) as exc:
            log.warning("an edge's lookup was unreadable: %s", exc)
            answer = orjson.dumps({"error": f"unreadable lookup: {exc}", "status": 400})
        except HttpError as exc:
            answer = orjson.dumps({"error": exc.message, "status": exc.status})
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await self._bus.client.publish(msg.reply, answer)

    async def close(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class EdgeCatalogue:
    """An edge's side: takes the core's batches into its own catalogue (catching up at start
    and after each reconnect) and sends the core what its catalogue grew by here."""

    def __init__(
        self, bus: NatsBus, catalogue: Catalogue, *, timeout_s: float = 2.0, retry_s: float = 0.5
    ) -> None:
        self._bus = bus
        self._catalogue = catalogue
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._applying = False
        #: Batches added here, not yet acknowledged by the core, in order.
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self._unacknowledged = 0
        self._acknowledged = asyncio.Condition()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._catch_up_due = asyncio.Event()
        #: Set once the core's batches were first fetched.
        self.caught_up = asyncio.Event()
        #: Instruments taken from the core.
        self.taken = 0
        catalogue.add_listener(self._on_added)
        bus.add_reconnect_listener(self._catch_up_due.set)

    def _on_added(self, batch: tuple[Instrument, ...]) -> None:
        if self._applying:
            return  # the core's own batch
        self._unacknowledged += 1
        self._outgoing.put_nowait(encode_batch(batch))

    @property
    def unsettled(self) -> bool:
        return self._unacknowledged > 0

    def knows(self, conid: int) -> bool:
        """True when this edge's catalogue has `conid`."""
        return conid in self._catalogue

    async def settled(self, timeout_s: float = 2.0) -> bool:
        """Wait until the core has every instrument added here (False after `timeout_s`)."""
        try:
            async with asyncio.timeout(timeout_s), self._acknowledged:
                await self._acknowledged.wait_for(lambda: self._unacknowledged == 0)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Subscribe to the core's batches, then catch up with those taken before."""
        self._subscription = await self._bus.client.subscribe(
            f"{self._bus.prefix}.catalogue.added", cb=self._on_batch
        )
        await self._bus.round_trip()  # subscribed before asking: no batch in between is missed
        self._catch_up_due.set()
        self._tasks = [
            asyncio.create_task(self._catch_up_loop(), name="edge-catalogue-catch-up"),
            asyncio.create_task(self._send_loop(), name="edge-catalogue-send"),
        ]

    def _apply(self, instruments: Iterable[Instrument]) -> None:
        self._applying = True
        try:
            self.taken += len(add_missing(self._catalogue, instruments))
        except CatalogueError as exc:
            log.error("edge: the core's instruments do not fit this edge's catalogue: %s", exc)
        finally:
            self._applying = False

    async def _on_batch(self, msg: Msg) -> None:
        try:
            self._apply(decode_batch(msg.data))
        except InstrumentWireError as exc:
            log.warning("ignoring a bad catalogue message: %s", exc)

    async def _catch_up_loop(self) -> None:
        while True:
            await self._catch_up_due.wait()
            self._catch_up_due.clear()
            while True:
                try:
                    reply = await self._bus.client.request(
                        f"{self._bus.prefix}.catalogue.get", b"", timeout=self._timeout_s
                    )
                    batches = orjson.loads(reply.data)
                    if not isinstance(batches, list):
                        raise InstrumentWireError("not a list of batches")
                    for rows in batches:
                        self._apply(decode_batch(orjson.dumps(rows)))
                    self.caught_up.set()
                    break
                except (nats.errors.Error, TimeoutError) as exc:
                    log.debug("edge: the core's catalogue not fetched yet: %r", exc)
                except (orjson.JSONDecodeError, InstrumentWireError) as exc:
                    log.warning("edge: the core's catalogue was unreadable: %s", exc)
                await asyncio.sleep(self._retry_s)

    async def fetch(self, conids: Iterable[int], *, timeout_s: float = FIND_TIMEOUT_S) -> None:
        """Ask the core for those of `conids` this catalogue lacks and add the ones it knows
        (those it does not stay unknown). Raises CoreLookupError when there is no core, it
        does not answer within `timeout_s`, the bus is down, or the core could not look
        them up (a relay core's upstream away)."""
        unknown = [c for c in dict.fromkeys(conids) if c not in self._catalogue]
        if not unknown:
            return
        named = ", ".join(map(str, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
        if not self._bus.client.is_connected:
            raise CoreLookupError(
                f"conid {named} is unknown here, and the cluster's core is not reachable from "
                "this edge (bus disconnected); retry later"
            )
        try:
            reply = await self._bus.client.request(
                f"{self._bus.prefix}.catalogue.find",
                orjson.dumps({"conids": unknown}),
                timeout=timeout_s,
            )
        except nats.errors.NoRespondersError:
            raise CoreLookupError(
                f"conid {named} is unknown here, and no core is serving this cluster to look "
                "it up; retry once it is back"
            ) from None
        except (nats.errors.Error, TimeoutError):
            raise CoreLookupError(
                f"conid {named} is unknown here, and the cluster's core did not look it up "
                f"within {timeout_s:g} s; retry later"
            ) from None
        try:
            rows = orjson.loads(reply.data)
            if isinstance(rows, dict):
                status = rows.get("status")
                raise CoreLookupError(
                    f"the cluster's core could not look up conid {named}: {rows.get('error')}",
                    status=status if isinstance(status, int) and status >= 400 else 503,
                )
            if not isinstance(rows, list):
                raise InstrumentWireError("not a list of instruments")
            found = [decode_instrument(row) for row in rows]
        except (orjson.JSONDecodeError, InstrumentWireError) as exc:
            message = f"the cluster's core answered a lookup unreadably: {exc}"
            raise CoreLookupError(message) from exc
        self._apply(found)

    async def _send_loop(self) -> None:
        while True:
            data = await self._outgoing.get()
            while True:
                try:
                    await self._bus.client.request(
                        f"{self._bus.prefix}.catalogue.add", data, timeout=self._timeout_s
                    )
                    break
                except (nats.errors.Error, TimeoutError) as exc:
                    log.debug("edge: instruments not sent to the core yet: %r", exc)
                    await asyncio.sleep(self._retry_s)
            async with self._acknowledged:
                self._unacknowledged -= 1
                self._acknowledged.notify_all()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
