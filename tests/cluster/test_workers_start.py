"""The `serve --workers` supervisor's start-up checks with real processes: a slow child that
uses CPU time is progressing, a child that uses none (nor the core it waits for) is stuck,
and a child that exits before it is ready fails the start at once, named."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from tests.conftest import make_config

from tickgate.errors import TickgateError
from tickgate.server.cluster import workers
from tickgate.server.cluster.workers import (
    START_IDLE_S,
    STOP_TIMEOUT_S,
    Child,
    StartWatch,
    Supervisor,
    cpu_ticks,
)
from tickgate.server.ws import CLOSE_TIMEOUT_SECONDS

pytestmark = pytest.mark.timeout(300)


async def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


@pytest.fixture
async def spawn() -> AsyncIterator[Callable[[str, str], Awaitable[Child]]]:
    started: list[asyncio.subprocess.Process] = []

    async def start(name: str, code: str) -> Child:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
        started.append(process)
        return Child(name, "edge" if name != "core" else "core", [], process=process)

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
        await process.wait()


BUSY = "while True: pass"
IDLE = "import time; time.sleep(600)"


def state(child: Child) -> str:
    """The process's state letter (R running, S sleeping, T stopped, ...)."""
    assert child.process is not None
    stat = Path(f"/proc/{child.process.pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


async def test_a_child_using_cpu_time_progresses_and_an_idle_one_is_stuck(
    spawn: Callable[[str, str], Awaitable[Child]],
) -> None:
    busy, idle = await spawn("core", BUSY), await spawn("worker 1", IDLE)
    assert busy.process is not None and idle.process is not None
    # Stopped, the idle child cannot use CPU time (even its interpreter's start).
    os.kill(idle.process.pid, signal.SIGSTOP)
    await eventually(lambda: state(idle) == "T")
    watch = StartWatch(now=0.0)
    watch.observe(busy, 0.0)
    watch.observe(idle, 0.0)
    first = cpu_ticks(busy.process.pid)
    pid = busy.process.pid
    await eventually(lambda: cpu_ticks(pid) != first)
    later = START_IDLE_S + 1
    watch.observe(busy, later)
    watch.observe(idle, later)
    assert watch.idle_s(busy, later) == 0
    assert watch.idle_s(idle, later) > START_IDLE_S
    # An edge waiting for a core that progresses is not stuck.
    assert watch.idle_s(idle, later, waits_for=busy) == 0


async def test_without_cpu_times_a_slow_child_is_never_called_stuck(
    spawn: Callable[[str, str], Awaitable[Child]], monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = await spawn("worker 1", IDLE)
    # A system without /proc: the CPU time of no process can be read.
    monkeypatch.setattr(workers, "cpu_ticks", lambda pid: None)
    watch = StartWatch(now=0.0)
    watch.observe(idle, 0.0)
    later = START_IDLE_S + 1
    watch.observe(idle, later)
    assert watch.idle_s(idle, later) == 0


def test_cpu_ticks_of_a_process_that_is_gone_is_none() -> None:
    assert cpu_ticks(2**22 + 1) is None  # above the kernel's pid limit


def test_a_worker_has_more_time_to_stop_than_its_clients_have_to_answer_the_close() -> None:
    assert STOP_TIMEOUT_S > CLOSE_TIMEOUT_SECONDS + 5.0  # + the HTTP runner's shutdown


async def test_a_child_that_exits_before_it_is_ready_fails_the_start_naming_it(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, workers=1)
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
    # Every child gets the supervisor's own arguments: one they refuse ends them at once.
    supervisor = Supervisor(config, ["--no-such-flag"], port)
    with pytest.raises(TickgateError, match=r"(core|worker 1) exited with status 2 before"):
        await asyncio.wait_for(supervisor.run(), 120)
    assert supervisor.nats.pid is None or not Path(f"/proc/{supervisor.nats.pid}").exists()
