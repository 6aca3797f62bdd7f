"""`tickgate serve --workers 2` as a user runs it: one port, REST and both WebSocket dialects
through any worker, a worker killed with -9 is restarted and its clients reconnect, SIGTERM
stops everything, a second supervisor on the same data directory is refused."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from tests.e2e.gateway_process import command

AAPL = 265598
# Three real process trees (a supervisor, nats-server, a core, two edges) per test.
pytestmark = pytest.mark.timeout(300)


@dataclass
class Workers:
    proc: subprocess.Popen[str]
    base_url: str
    #: The supervisor's and the children's stderr (their logs).
    log: Path

    @property
    def ws_base(self) -> str:
        return self.base_url.replace("http://", "ws://")

    def children(self) -> dict[int, str]:
        """pid -> role ('core', 'edge' or 'nats') of the supervisor's children."""
        out: dict[int, str] = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except FileNotFoundError:
                    continue
                words = [w.decode() for w in argv]
                if "--cluster-role" in words:
                    out[int(pid)] = words[len(words) - 1 - words[::-1].index("--cluster-role") + 1]
                elif words and words[0].endswith("nats-server"):
                    out[int(pid)] = "nats"
        return out

    def edges(self) -> list[int]:
        return sorted(pid for pid, role in self.children().items() if role == "edge")


async def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return status != "Z"


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Workers]:
    argv, env = command(tmp_path / "data", "--workers", "2")
    log = tmp_path / "workers.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert proc.stdout is not None
    base_url = None
    while True:
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line, "the supervisor exited: " + log.read_text()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        base_url = base_url or (match.group(1) if match else None)
        if line.startswith("  workers:"):
            break
    assert base_url is not None
    running = Workers(proc, base_url, log)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.communicate, timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()  # its children get SIGTERM from the kernel (PR_SET_PDEATHSIG)
            proc.communicate()
            raise


async def session_of(base_url: str) -> str:
    # A new connection per call: the kernel picks a worker for each.
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(base_url + "/v1/api/tickle") as response,
    ):
        body = await response.json()
    return str(body["session"])


async def portal_frame(http: aiohttp.ClientSession, workers: Workers) -> dict[str, str]:
    async with http.get(workers.base_url + "/v1/api/iserver/accounts") as response:
        assert response.status == 200
    async with http.ws_connect(workers.ws_base + "/v1/portal/ws") as ws:
        await ws.send_str(f's+md+{AAPL}+{{"fields":"31,84"}}')
        async with asyncio.timeout(15):
            while True:
                frame = json.loads((await ws.receive()).data)
                assert "error" not in frame, frame
                if frame.get("topic") == f"md+{AAPL}" and "31" in frame:
                    return dict(frame)


async def api_frame(http: aiohttp.ClientSession, workers: Workers, session: str) -> dict[str, str]:
    cookie = json.dumps({"session": session})
    async with http.ws_connect(
        workers.ws_base + "/v1/api/ws", headers={"Cookie": "api=" + cookie}
    ) as ws:
        async with asyncio.timeout(15):
            while json.loads((await ws.receive()).data).get("topic") != "sts":
                pass
            await ws.send_str(f'smd+{AAPL}+{{"fields":["31","84"]}}')
            while True:
                frame = json.loads((await ws.receive()).data)
                if frame.get("topic") == f"smd+{AAPL}" and "31" in frame:
                    return dict(frame)


async def test_workers_serve_rest_and_both_dialects_on_one_port_and_survive_a_kill_9(
    workers: Workers,
) -> None:
    assert sorted(workers.children().values()) == ["core", "edge", "edge", "nats"]
    # One session, whichever worker a connection lands on.
    sessions = {await session_of(workers.base_url) for _ in range(12)}
    assert len(sessions) == 1
    (session,) = sessions
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(4):
            assert float((await portal_frame(http, workers))["31"]) > 0
            assert float((await api_frame(http, workers, session))["31"]) > 0
        # Clients on a worker killed with -9 lose their socket and reconnect to a worker.
        sockets = [await http.ws_connect(workers.ws_base + "/v1/portal/ws") for _ in range(6)]
        before = workers.edges()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        closed = 0
        for ws in sockets:
            try:
                async with asyncio.timeout(1.0):
                    message = await ws.receive()
                closed += message.type in (
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.ERROR,
                )
            except TimeoutError:
                pass  # on the other worker: still open
            await ws.close()
        assert closed >= 1  # 6 connections all on one worker: 1 in 32
        for _ in range(4):  # reconnecting clients are served meanwhile (by the survivor)
            assert float((await portal_frame(http, workers))["31"]) > 0
        await eventually(lambda: len(workers.edges()) == 2 and victim not in workers.edges())
        assert f"(pid {victim}) exited with status -9" in workers.log.read_text()
        assert {await session_of(workers.base_url) for _ in range(8)} == {session}
        for _ in range(4):
            assert float((await api_frame(http, workers, session))["31"]) > 0


async def test_sigterm_stops_every_child_and_the_nats_server(workers: Workers) -> None:
    children = workers.children()
    assert len(children) == 4
    workers.proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(workers.proc.wait, 60)
    assert workers.proc.returncode == 0
    await eventually(lambda: not any(alive(pid) for pid in children), timeout=30)


async def test_a_second_supervisor_on_the_same_data_dir_is_refused(
    workers: Workers, tmp_path: Path
) -> None:
    argv, env = command(tmp_path / "data", "--workers", "2")
    second = await asyncio.to_thread(
        subprocess.run, argv, env=env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 2 and "in use by another gateway" in second.stderr


async def test_a_second_cluster_on_the_same_port_is_refused_and_a_kill_9_frees_the_port(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first_argv, env = command(tmp_path / "first", "--workers", "1", "--port", str(port))
    log = tmp_path / "first.log"
    with log.open("w") as stderr:
        first = subprocess.Popen(
            first_argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
        )
    running = Workers(first, "", log)
    try:
        await read_until_workers_line(first, log)
        argv, env = command(tmp_path / "other", "--workers", "1", "--port", str(port))
        second = await asyncio.to_thread(
            subprocess.run, argv, env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"port {port} is already served" in lines[0], second.stderr
        assert f"pid {first.pid}" in lines[0]
        # The claim dies with the cluster, however it dies: after kill -9 of the supervisor
        # (its children follow), the port can be served again.
        children = running.children()
        first.kill()
        await asyncio.to_thread(first.wait, 60)
        await eventually(lambda: not any(alive(pid) for pid in children), timeout=60)
        again, log_again = launch_supervisor_on(tmp_path / "other", port, tmp_path / "again.log")
        try:
            await read_until_workers_line(again, log_again)
        finally:
            await stop_supervisor(again)
        assert again.returncode == 0
    finally:
        await stop_supervisor(first)


async def test_the_children_stop_when_the_supervisor_is_killed_with_9(workers: Workers) -> None:
    children = workers.children()
    assert len(children) == 4
    workers.proc.kill()
    await asyncio.to_thread(workers.proc.wait, 60)
    await eventually(lambda: not any(alive(pid) for pid in children), timeout=30)


def launch_supervisor_on(
    data_dir: Path, port: int, log: Path
) -> tuple[subprocess.Popen[str], Path]:
    argv, env = command(data_dir, "--workers", "1", "--port", str(port))
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    return proc, log


def launch_supervisor(tmp_path: Path, workers: int) -> tuple[subprocess.Popen[str], Path]:
    argv, env = command(tmp_path / "data", "--workers", str(workers))
    log = tmp_path / "workers.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    return proc, log


async def read_until_workers_line(proc: subprocess.Popen[str], log: Path) -> str:
    assert proc.stdout is not None
    while True:
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line, "the supervisor exited: " + log.read_text()
        if line.startswith("  workers:"):
            return line


async def stop_supervisor(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(proc.communicate, timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


async def test_the_edges_start_while_the_core_is_still_starting(tmp_path: Path) -> None:
    proc, log = launch_supervisor(tmp_path, 2)
    running = Workers(proc, "", log)
    try:
        # Hold the core the moment it exists: it cannot become ready while stopped.
        core = None
        while core is None:
            await eventually(lambda: "core" in running.children().values())
            core = next((p for p, r in running.children().items() if r == "core"), None)
        os.kill(core, signal.SIGSTOP)
        try:
            await eventually(lambda: len(running.edges()) == 2)
        finally:
            os.kill(core, signal.SIGCONT)
        line = await read_until_workers_line(proc, log)
        assert re.search(r"started in \d+\.\d s", line), line
        assert "before it was ready" not in log.read_text()
    finally:
        await stop_supervisor(proc)
    assert proc.returncode == 0


async def test_stop_waits_for_the_edges_before_the_core_and_kills_one_that_overruns(
    workers: Workers,
) -> None:
    children = workers.children()
    (core,) = (pid for pid, role in children.items() if role == "core")
    held, other = workers.edges()
    # A stopped process cannot act on SIGTERM: the supervisor must wait for it, then kill it.
    os.kill(held, signal.SIGSTOP)
    workers.proc.send_signal(signal.SIGTERM)
    await eventually(lambda: not alive(other))
    kill_line = f"(pid {held}) did not stop within 30 s of SIGTERM; killing it"
    # The core is stopped only once every edge is gone: either it is still alive now, or
    # the held edge had already been killed.
    assert alive(core) or kill_line in workers.log.read_text()
    await asyncio.to_thread(workers.proc.wait, 120)
    assert workers.proc.returncode == 0
    assert kill_line in workers.log.read_text()
    await eventually(lambda: not any(alive(pid) for pid in children), timeout=30)
