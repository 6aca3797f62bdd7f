"""What the core's lease logs, against a real nats-server: nothing about a lapse on a start
where nothing lapsed, and a lapse caused by this process itself (its event loop blocked past
the TTL while the bus was up) is not blamed on a bus outage."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.server.cluster.lease import CoreHolder, CoreLease

from .conftest import wait_for

pytestmark = pytest.mark.timeout(120)
TTL_S = 1.0


@pytest.fixture
async def bus(nats: NatsServerProcess) -> AsyncIterator[NatsBus]:
    connected = await NatsBus.connect(NatsOptions(nats.url))
    yield connected
    await connected.close()


async def acquire(bus: NatsBus) -> CoreLease:
    lost: list[CoreHolder] = []
    return await CoreLease.acquire(
        bus, "leaselog", CoreHolder.this_process("core-1"), ttl_s=TTL_S, on_lost=lost.append
    )


def lapse_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "lapsed" in r.getMessage()]


async def test_a_fresh_lease_renews_and_logs_no_lapse(
    bus: NatsBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tickgate.cluster")
    lease = await acquire(bus)
    try:
        await wait_for(lambda: lease.renewals >= 3, timeout=60)
    finally:
        await lease.release()
    assert lease.retaken == 0
    assert lapse_lines(caplog) == []


async def test_a_lapse_while_the_loop_was_blocked_is_not_blamed_on_the_bus(
    bus: NatsBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tickgate.cluster")
    lease = await acquire(bus)
    try:
        # The fault: this process's event loop is blocked past the TTL (as a long synchronous
        # start-up step on a loaded machine does); the bus stays up all along.
        time.sleep(TTL_S * 3)
        await wait_for(lambda: lease.retaken == 1, timeout=60)
    finally:
        await lease.release()
    lines = lapse_lines(caplog)
    assert len(lines) == 1, lines
    assert "bus outage" not in lines[0]
    assert "did not renew it for" in lines[0] and "while the bus was up" in lines[0]
