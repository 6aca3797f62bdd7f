"""What cluster members tell their operator: an edge's banner names the core as its source
(it has none of its own), and the core's log rounds the durations it reports. Real members
on a real nats-server (gateway processes for the banner)."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from pathlib import Path

import orjson
import pytest
from tests.cluster.conftest import StartMember, wait_for
from tests.cluster.test_roles import AAPL
from tests.e2e.gateway_process import BANNER_LINES, command, launch

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.server.cluster.membership import subject_prefix

pytestmark = pytest.mark.timeout(120)


async def banner(proc: subprocess.Popen[str]) -> str:
    """The banner `proc` prints once it listens (bounded: a hang guard, not a speed check)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines = [await asyncio.wait_for(asyncio.to_thread(stdout.readline), 60)]
    while "fan-out:" not in lines[-1] and len(lines) < BANNER_LINES + 2:
        lines.append(await asyncio.wait_for(asyncio.to_thread(stdout.readline), 60))
    return "".join(lines)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.returncode is None:
        proc.kill()
        proc.communicate(timeout=30)


async def test_an_edges_banner_says_it_serves_the_cores_market_not_a_simulator(
    tmp_path: Path, nats: NatsServerProcess
) -> None:
    cluster = ("--nats", nats.url, "--cluster", "banner")
    core, _url = launch(tmp_path / "core", *cluster)
    try:
        argv, env = command(tmp_path / "edge", *cluster, "--cluster-role", "edge")
        edge = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        try:
            text = await banner(edge)
        finally:
            stop(edge)
    finally:
        stop(core)
    source = next(line for line in text.splitlines() if "source:" in line)
    assert "the cluster's core (this edge follows banner's core over NATS)" in source, text
    assert "simulator" not in source and "ticks/s" not in source


async def test_the_core_logs_how_long_a_silent_edge_was_silent_rounded(
    start_member: StartMember, nats: NatsServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tickgate")
    await start_member("core", cluster="quiet")
    # An edge that says what it streams once and is never heard again (as if killed).
    ghost = await NatsBus.connect(
        NatsOptions(nats.url), prefix=subject_prefix("quiet"), subscribe_all=False
    )
    try:
        message = {"member": "edge-ghost", "conids": {str(AAPL): [31]}}
        await ghost.client.publish(subject_prefix("quiet") + ".interest", orjson.dumps(message))
        await ghost.client.flush()

        def dropped() -> list[str]:
            return [m for m in caplog.messages if m.startswith("edge edge-ghost silent for")]

        await wait_for(lambda: bool(dropped()), timeout=60)
    finally:
        await ghost.close()
    pattern = r"edge edge-ghost silent for \d+\.\d s: its interest is dropped"
    assert re.fullmatch(pattern, dropped()[0]), dropped()
