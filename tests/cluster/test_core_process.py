"""The one core of a cluster, with real gateway processes: a second core exits with status 2
naming the first; a core killed with -9 stops blocking new cores once its lease lapses."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from tests.e2e.gateway_process import command, launch

from tickgate.bus.nats_server import NatsServerProcess


async def test_a_second_core_process_exits_with_2_naming_the_running_core(
    tmp_path: Path, nats: NatsServerProcess
) -> None:
    cluster = ("--nats", nats.url, "--cluster", "procs")
    core, _url = launch(tmp_path / "core", *cluster)
    try:
        argv, env = command(tmp_path / "second", *cluster)
        second = await asyncio.to_thread(
            subprocess.run, argv, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2, second.stderr
        assert f"pid {core.pid}" in second.stderr and "already has a core" in second.stderr
        assert "core since" in second.stderr
    finally:
        core.send_signal(signal.SIGTERM)
        core.communicate(timeout=30)
    assert core.returncode == 0


async def test_a_core_killed_with_9_is_replaced_once_its_lease_lapses(
    tmp_path: Path, nats: NatsServerProcess
) -> None:
    cluster = ("--nats", nats.url, "--cluster", "lapse", "--cluster-lease-seconds", "1")
    first, _url = launch(tmp_path / "first", *cluster)
    first.kill()  # no clean shutdown: the lease is never released, only not renewed
    first.communicate(timeout=30)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        argv, env = command(tmp_path / "next", *cluster)
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        listening = False
        try:
            assert proc.stdout is not None
            listening = "listening on" in await asyncio.to_thread(proc.stdout.readline)
            if listening:
                break
            _out, err = proc.communicate(timeout=30)
            assert proc.returncode == 2 and f"pid {first.pid}" in err, err
            assert loop.time() < deadline, "the killed core's lease never lapsed"
        finally:
            # A failed check leaves no gateway running past the test (nor its pipes open).
            if not listening and proc.returncode is None:
                proc.kill()
                proc.communicate()
    try:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
