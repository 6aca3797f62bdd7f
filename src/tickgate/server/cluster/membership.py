"""A gateway's place in a cluster: its role, its cluster, its bus connection, its id.

`join` is what `tickgate serve --nats URL --cluster NAME` does before building the gateway:
connect to NATS and, for the core, take the cluster's lease (see `lease`). The membership is
handed to the composition root (`server.app.build_app(cluster=...)`), which builds a core
(everything as on one gateway, its ticks published on NATS) or an edge (clients served from
market data that follows the core).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.config import Config
from tickgate.server.cluster.lease import CoreHolder, CoreLease

Role = Literal["core", "edge"]

#: How long an edge waits for the core's session before it listens anyway (with a provisional
#: one, adopting the core's when it is heard): a core that is away does not keep it down.
CORE_WAIT_S = 5.0
#: The same under `serve --workers`, where the core starts at the same time as the edges and
#: may take far longer on a loaded machine: an edge that listened first would hand out a
#: session id the other members do not share.
SUPERVISED_CORE_WAIT_S = 60.0


def nats_options(config: Config, *, name: str) -> NatsOptions:
    """How to reach the cluster's NATS, from the gateway's settings."""
    assert config.nats is not None  # a cluster setting: validated with --cluster
    return NatsOptions(
        url=config.nats,
        creds_file=config.nats_creds,
        tls_ca=config.nats_tls_ca,
        tls_cert=config.nats_tls_cert,
        tls_key=config.nats_tls_key,
        name=name,
    )


def subject_prefix(cluster: str) -> str:
    """Every subject of a cluster starts with this (clusters may share one NATS)."""
    return f"tickgate.{cluster}"


def new_member_id(role: Role) -> str:
    """Unique across the cluster and readable in logs: role, host, pid, a random tail."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass(eq=False)
class ClusterMembership:
    """This member of `cluster`. Owns its NATS connection (`bus`) and, on the core, the lease;
    `close` releases both."""

    role: Role
    cluster: str
    bus: NatsBus
    member_id: str
    lease: CoreLease | None = None
    #: Told (with the holder) if another core took this core's lease: the process must stop.
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    #: On an edge: how long it waits for the core before it listens (see `CORE_WAIT_S`).
    core_wait_s: float = CORE_WAIT_S

    @property
    def prefix(self) -> str:
        return self.bus.prefix

    @property
    def is_core(self) -> bool:
        return self.role == "core"

    async def close(self) -> None:
        if self.lease is not None:
            await self.lease.release()
        await self.bus.close()


async def join(
    config: Config,
    *,
    on_lost: Callable[[CoreHolder], None] | None = None,
    tune: Callable[[NatsOptions], NatsOptions] | None = None,
) -> ClusterMembership:
    """Connect to the cluster `config` names in its role.

    Raises `BusError` when NATS cannot be reached (or has no JetStream for a core), and
    `CoreAlreadyRunningError`, naming the running core, when a core joins a cluster that has one.
    """
    assert config.cluster is not None
    role: Role = "edge" if config.cluster_role == "edge" else "core"
    member_id = new_member_id(role)
    options = nats_options(config, name=f"tickgate {member_id}")
    if tune is not None:  # tests shorten the bus's timings
        options = tune(options)
    # Edges follow chosen conids (market_data); the core publishes and needs no tick feed.
    bus = await NatsBus.connect(options, prefix=subject_prefix(config.cluster), subscribe_all=False)
    membership = ClusterMembership(role, config.cluster, bus, member_id)
    if role == "core":

        def lost(holder: CoreHolder) -> None:
            membership.lost.set()
            if on_lost is not None:
                on_lost(holder)

        try:
            membership.lease = await CoreLease.acquire(
                bus,
                config.cluster,
                CoreHolder.this_process(member_id),
                ttl_s=config.cluster_lease_seconds,
                on_lost=lost,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await bus.close()
            raise
    return membership
