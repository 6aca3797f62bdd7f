"""The market-data lines of a cluster's one session, counted atomically across its members.

One gateway refuses a stream that would take a line beyond `--md-lines`; a cluster has one
session, so its members must share that count, and two members taking the last line at the
same instant must not both get it. The count lives in one JetStream key-value entry (in a
bucket of its own beside the core's lease, without the lease's expiry), which each member
changes only by compare-and-set against the revision it read: of two members writing the same
revision, one succeeds and the other reads again and sees the line taken. Every member counts
against its own `--md-lines` (members share their settings).

The entry holds, per member, the conids it streams; the lines in use are their union (a conid
streamed on two members is one line). A member claims a conid before a client's `smd` or
`s+md` of it is handled (`before_message`), so the dialect's own line check, which reads the
union (`held`), refuses exactly what the ledger refused; it releases the conid when its last
client stops. A member that leaves cleanly removes its conids; the core removes those of a
member it has not heard from for three interest heartbeats (killed, cut off).

While the bus or JetStream does not answer, a member checks against the union it read last
(the old, non-atomic count) rather than refuse every new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
import orjson
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from tickgate.bus.nats import NatsBus

log = logging.getLogger("tickgate.cluster.lines")

_KEY = "lines"
#: Compare-and-set rounds before a claim gives up (each lost round means another member
#: changed the entry meanwhile).
_ROUNDS = 50
_STREAM_COMMAND = re.compile(r"(?:smd|s\+md)\+(\d{1,10})")
Members = dict[str, list[int]]


def _decode(data: bytes | None) -> Members:
    if not data:
        return {}
    try:
        raw = orjson.loads(data)
        return {str(m): [int(c) for c in conids] for m, conids in raw["members"].items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        log.warning("the cluster's line ledger is unreadable; starting it again")
        return {}


def lines_bucket(cluster: str) -> str:
    return f"tickgate_{cluster}_lines"


def _union(members: Members) -> frozenset[int]:
    return frozenset(conid for conids in members.values() for conid in conids)


class LineLedger:
    """This member's view of the cluster's lines. `start` opens the entry (needs the running
    loop); until then, and while NATS does not answer, `held` is the union read last."""

    def __init__(
        self,
        bus: NatsBus,
        cluster: str,
        member_id: str,
        limit: int,
        *,
        streamed: Callable[[int], bool],
    ) -> None:
        self._bus = bus
        self._cluster = cluster
        self.member_id = member_id
        self._limit = limit
        #: Whether this member's hub streams a conid now.
        self._streamed = streamed
        self._kv: KeyValue | None = None
        self._lock = asyncio.Lock()
        self._held: frozenset[int] = frozenset()
        self._tasks: set[asyncio.Task[None]] = set()
        self.claims = 0
        self.refusals = 0
        self.conflicts = 0

    def held(self) -> frozenset[int]:
        """The conids streamed anywhere in the cluster, as last read."""
        return self._held

    async def start(self) -> None:
        """Open the ledger's bucket (creating it if needed). Raises nothing: without
        JetStream the member counts with what it last read."""
        js = self._bus.client.jetstream(timeout=5.0)
        name = lines_bucket(self._cluster)
        try:
            try:
                self._kv = await js.create_key_value(
                    KeyValueConfig(bucket=name, history=1, storage=StorageType.FILE)
                )
            except nats.js.errors.BadRequestError:
                self._kv = await js.key_value(name)  # made by an earlier member otherwise
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("the cluster's line ledger is not reachable (%r): lines are counted "
                        "from what this member last heard", exc)  # fmt: skip

    def before_message(self, text: str) -> Awaitable[None] | None:
        """A WebSocket message (`ws.BEFORE_MESSAGE`): an `smd`/`s+md` of a conid nobody here
        streams yet is claimed before the session reads it; None for every other message."""
        match = _STREAM_COMMAND.match(text)
        if match is None or self._kv is None:
            return None
        conid = int(match.group(1))
        if self._streamed(conid):
            return None
        return self._claim_for_message(conid)

    async def _claim_for_message(self, conid: int) -> None:
        await self.claim(conid)
        # The session reads the message right after this returns (no await in between); if
        # it refused the stream for another reason, the line goes back then.
        asyncio.get_running_loop().call_soon(self._release_unless_streamed, conid)

    async def claim(self, conid: int) -> bool | None:
        """Take a line for `conid` for this member: True when taken (or already held), False
        when the cluster's lines are all in use, None when the ledger did not answer."""
        async with self._lock:
            return await self._change(lambda members: self._add(members, conid))

    def _add(self, members: Members, conid: int) -> tuple[Members, bool] | bool:
        mine = members.get(self.member_id, [])
        if conid in mine:
            return True
        held = _union(members)
        if conid not in held and len(held) >= self._limit:
            self.refusals += 1
            return False
        self.claims += 1
        return {**members, self.member_id: [*mine, conid]}, True

    def on_interest(self, conid: int, fields: tuple[int, ...]) -> None:
        """The hub's interest changed: a conid nobody here streams any more is released."""
        if not fields:
            self._release_unless_streamed(conid)

    def _release_unless_streamed(self, conid: int) -> None:
        if self._kv is None or self._streamed(conid):
            return
        task = asyncio.get_running_loop().create_task(self._release(conid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, conid: int) -> None:
        async with self._lock:
            if self._streamed(conid):
                return  # streamed again meanwhile

            def remove(members: Members) -> tuple[Members, bool] | bool:
                mine = members.get(self.member_id, [])
                if conid not in mine:
                    return True
                kept = [c for c in mine if c != conid]
                return {**members, self.member_id: kept} if kept else _without(
                    members, {self.member_id}
                ), True

            await self._change(remove)

    async def forget(self, members: set[str]) -> None:
        """Remove the lines of `members` (gone from the cluster)."""
        async with self._lock:

            def drop(current: Members) -> tuple[Members, bool] | bool:
                gone = members & current.keys()
                if not gone:
                    return True
                log.warning("releasing the market-data lines of %s (not heard from)", sorted(gone))
                return _without(current, gone), True

            await self._change(drop)

    async def members(self) -> set[str]:
        """The members holding lines now (empty when the ledger does not answer)."""
        async with self._lock:
            found: set[str] = set()

            def read(current: Members) -> bool:
                found.update(current)
                return True

            await self._change(read)
            return found

    async def leave(self) -> None:
        """A clean stop: this member's lines are released."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._kv is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.forget({self.member_id})

    async def _change(
        self, change: Callable[[Members], tuple[Members, bool] | bool]
    ) -> bool | None:
        """Apply `change` to the entry by compare-and-set, reading again after each lost
        round. `change` returns the result alone (nothing to write) or the new members and
        the result. None when the ledger does not answer."""
        kv = self._kv
        if kv is None:
            return None
        try:
            for _round in range(_ROUNDS):
                try:
                    entry = await kv.get(_KEY)
                    revision: int | None = entry.revision
                    members = _decode(entry.value)
                except nats.js.errors.KeyNotFoundError:
                    revision, members = None, {}
                self._held = _union(members)
                outcome = change(members)
                if isinstance(outcome, bool):
                    return outcome
                new, result = outcome
                body = orjson.dumps({"members": new})
                try:
                    if revision is None:
                        await kv.create(_KEY, body)
                    else:
                        await kv.update(_KEY, body, last=revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    self.conflicts += 1
                    continue  # another member changed it first: read again
                self._held = _union(new)
                return result
            log.warning("the cluster's line ledger kept changing under this member")
            return None
        except (nats.errors.Error, TimeoutError) as exc:
            log.info("the cluster's line ledger did not answer: %r", exc)
            return None


def _without(members: Members, gone: set[str]) -> Members:
    return {member: conids for member, conids in members.items() if member not in gone}
