"""The core's lease: the one record, in a JetStream key-value bucket, saying which member is
the core of a cluster.

Why a KV entry: `create` is atomic on the server, so of two cores started at the same instant
exactly one gets the entry and the other sees who holds it. The bucket's TTL makes the claim a
lease: the core renews it every third of the TTL (`update` against the revision it holds), and
a core that stops renewing (killed with -9, frozen, cut off) loses it once the TTL has passed,
so a new core can start. A core that finds its entry gone takes it again if nobody else did;
if another core did, it has been replaced and must stop (`on_lost`). The entry can be gone for
two reasons, and the log says which: the bus was away longer than the TTL, or this process
itself did not get to renew in time (its event loop blocked, as by a long start-up on a loaded
machine, or the process was stopped) while the bus was fine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from tickgate.bus.base import BusError
from tickgate.bus.nats import NatsBus
from tickgate.errors import TickgateError

log = logging.getLogger("tickgate.cluster")

_KEY = "core"


class CoreAlreadyRunningError(TickgateError):
    """Another member holds the core's lease of this cluster; the message names it."""


@dataclass(frozen=True, slots=True)
class CoreHolder:
    """Who holds the lease: what a refused core names."""

    member_id: str
    host: str
    pid: int
    since: str

    def encode(self) -> bytes:
        return json.dumps(
            {"member": self.member_id, "host": self.host, "pid": self.pid, "since": self.since}
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> CoreHolder:
        try:
            raw = json.loads(data)
            return cls(str(raw["member"]), str(raw["host"]), int(raw["pid"]), str(raw["since"]))
        except (ValueError, KeyError, TypeError):
            return cls("?", "?", 0, "?")

    def describe(self) -> str:
        return f"member {self.member_id} on {self.host}, pid {self.pid}, core since {self.since}"

    @classmethod
    def this_process(cls, member_id: str) -> CoreHolder:
        since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return cls(member_id, socket.gethostname(), os.getpid(), since)


def bucket_name(cluster: str) -> str:
    return f"tickgate_{cluster}"


class CoreLease:
    """The lease held by this member. Create with `await CoreLease.acquire(...)`; `release`
    (on a clean shutdown) deletes the entry so the next core need not wait for the TTL."""

    def __init__(
        self,
        kv: KeyValue,
        holder: CoreHolder,
        revision: int,
        ttl_s: float,
        on_lost: Callable[[CoreHolder], None],
    ) -> None:
        self.holder = holder
        self._kv = kv
        self._revision = revision
        self._ttl_s = ttl_s
        self._on_lost = on_lost
        self.renewals = 0
        self.retaken = 0
        loop = asyncio.get_running_loop()
        #: When the entry was last written (loop time), and whether a renewal failed on the
        #: bus since: what tells a bus outage from a stall of this process.
        self._written_at = loop.time()
        self._bus_failed = False
        self._task = asyncio.create_task(self._renew_loop(), name="core-lease")

    @classmethod
    async def acquire(
        cls,
        bus: NatsBus,
        cluster: str,
        holder: CoreHolder,
        *,
        ttl_s: float,
        on_lost: Callable[[CoreHolder], None],
    ) -> CoreLease:
        """Take the lease of `cluster` or raise `CoreAlreadyRunningError` naming its holder.

        Raises `BusError` when the NATS server has no JetStream (the lease lives there)."""
        kv = await _bucket(bus, cluster, ttl_s)
        for _attempt in range(3):
            try:
                revision = await kv.create(_KEY, holder.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                try:
                    entry = await kv.get(_KEY)
                except nats.js.errors.KeyNotFoundError:
                    continue  # it expired between the two calls: try again
                running = CoreHolder.decode(entry.value or b"")
                raise CoreAlreadyRunningError(
                    f"cluster {cluster!r} already has a core ({running.describe()}); start "
                    "this member with --cluster-role edge, or stop that core (its lease "
                    f"lapses {ttl_s:g} s after it stops renewing)"
                ) from None
            return cls(kv, holder, revision, ttl_s, on_lost)
        raise BusError(f"cluster {cluster!r}: the core's lease keeps changing hands")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            try:
                self._revision = await self._kv.update(
                    _KEY, self.holder.encode(), last=self._revision
                )
                self._wrote()
                self.renewals += 1
            except nats.js.errors.KeyWrongLastSequenceError:
                await self._retake()
            except (nats.errors.Error, TimeoutError) as exc:
                # The bus is away: renewing resumes with it (the TTL is the margin).
                self._bus_failed = True
                log.debug("core lease not renewed: %r", exc)

    def _wrote(self) -> None:
        self._written_at = asyncio.get_running_loop().time()
        self._bus_failed = False

    async def _retake(self) -> None:
        try:
            self._revision = await self._kv.create(_KEY, self.holder.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                entry = await self._kv.get(_KEY)
                other = CoreHolder.decode(entry.value or b"")
                if other.member_id != self.holder.member_id:
                    log.error("this core's lease was taken by %s", other.describe())
                    self._on_lost(other)
            return
        except (nats.errors.Error, TimeoutError):
            return
        self.retaken += 1
        unrenewed_s = asyncio.get_running_loop().time() - self._written_at
        if self._bus_failed:
            log.warning("the core's lease lapsed (a bus outage longer than its TTL); taken again")
        else:
            log.warning(
                "the core's lease lapsed: this process did not renew it for %.1f s, longer "
                "than its %g s TTL, while the bus was up (its event loop was blocked or the "
                "process stopped); taken again",
                unrenewed_s,
                self._ttl_s,
            )
        self._wrote()

    async def release(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self._kv.delete(_KEY, last=self._revision)


async def _bucket(bus: NatsBus, cluster: str, ttl_s: float) -> KeyValue:
    js = bus.client.jetstream(timeout=5.0)
    name = bucket_name(cluster)
    try:
        return await js.create_key_value(
            KeyValueConfig(bucket=name, history=1, ttl=ttl_s, storage=StorageType.FILE)
        )
    except nats.js.errors.BadRequestError:
        # The bucket exists with another TTL (an earlier core's setting): use it as it is.
        return await js.key_value(name)
    except (nats.js.errors.ServiceUnavailableError, nats.errors.NoRespondersError) as exc:
        raise BusError(
            "the NATS server has no JetStream, which holds the cluster's core lease: "
            "start it with -js (tickgate serve --workers does)"
        ) from exc
    except (nats.errors.TimeoutError, TimeoutError) as exc:
        raise BusError(f"NATS JetStream did not answer: {exc!r}") from exc
