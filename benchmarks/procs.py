"""Processes of a benchmark run: the servers under test, the load generator, and /proc readings.

Every server runs in its own process pinned (with `taskset`, when there are two or more cores)
to `SERVER_CPU`, the load generator to `LOADGEN_CPU`, so neither steals the other's core. Server
CPU time and memory are read from `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status`
(VmRSS, VmHWM) at the moments the load generator announces its phases.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER_CPU = 0
LOADGEN_CPU = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pinned(cpu: int) -> list[str]:
    """`taskset -c CPU` as a command prefix, or nothing on one core or without taskset."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by process `pid` (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat[stat.rindex(")") + 2 :].split()
    return (int(after_name[11]) + int(after_name[12])) / CLK_TCK


def memory_kb(pid: int, key: str) -> int:
    """A `Vm*` line of `/proc/<pid>/status` in KiB (VmRSS: now, VmHWM: peak resident)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


@dataclass
class Server:
    """A started server under test."""

    kind: str
    proc: subprocess.Popen[bytes]
    port: int
    conids: list[int]
    nats_port: int = 0
    workdir: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def go(self) -> None:
        """Start the feed of a Python server (nats is fed by the load generator itself)."""
        if self.kind != "nats" and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGUSR1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s: the server is gone when this returns."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(HERE)])
    return env


def _read_ready_line(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else b""
    if not line:
        proc.kill()
        raise RuntimeError(f"server {proc.args!r} did not report ready within {timeout} s")
    value = orjson.loads(line)
    assert isinstance(value, dict)
    return value


def start_python_server(kind: str, script: str, args: Sequence[str]) -> Server:
    """Start `benchmarks/<script>` (tickgate or the plain reference); waits for its ready line."""
    command = [*pinned(SERVER_CPU), sys.executable, str(HERE / script), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=_child_env(), cwd=ROOT)
    info = _read_ready_line(proc, timeout=60)
    return Server(kind, proc, int(info["port"]), [int(c) for c in info["conids"]])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_nats(workdir: Path) -> Server:
    """Start `nats-server` with a WebSocket listener (no TLS, no compression)."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    tcp_port, ws_port = free_port(), free_port()
    conf = workdir / "nats.conf"
    conf.write_text(
        f'listen: "127.0.0.1:{tcp_port}"\n'
        f'websocket {{ listen: "127.0.0.1:{ws_port}", no_tls: true, compression: false }}\n'
    )
    log = (workdir / "nats.log").open("wb")
    proc = subprocess.Popen([*pinned(SERVER_CPU), binary, "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", ws_port), 0.2):
            return Server("nats", proc, ws_port, [], nats_port=tcp_port, workdir=workdir)
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nats-server did not start listening within 10 s")


@dataclass
class LoadResult:
    """What the load generator reported, plus the server readings taken at its phases."""

    loadgen: dict[str, Any]
    server_cpu_s: float
    rss_before_kb: int
    rss_connected_kb: int
    peak_rss_kb: int


def compile_loadgen(build_dir: Path) -> Path:
    """Compile loadgen.c with gcc -O2 (with OpenSSL when its headers exist); returns the binary."""
    binary = build_dir / "loadgen"
    source = HERE / "loadgen.c"
    command = ["gcc", "-O2", "-o", str(binary), str(source)]
    if Path("/usr/include/openssl/ssl.h").exists():
        command += ["-lssl", "-lcrypto"]
    else:
        command.insert(2, "-DNO_TLS")
    subprocess.run(command, check=True)
    return binary


def _lines(proc: subprocess.Popen[bytes], deadline: float) -> Iterator[str]:
    assert proc.stdout is not None
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        if not ready:
            proc.kill()
            raise RuntimeError(f"load generator timed out: {proc.args!r}")
        line = proc.stdout.readline()
        if not line:
            return
        yield line.decode().strip()


def run_loadgen(binary: Path, server: Server, args: Sequence[str], *, timeout: float) -> LoadResult:
    """Run the load generator against `server`, sampling the server at each phase change."""
    pid = server.pid
    rss_before = memory_kb(pid, "VmRSS")
    command = [*pinned(LOADGEN_CPU), str(binary), "--port", str(server.port), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    cpu_start = cpu_end = 0.0
    rss_connected = rss_before
    report: dict[str, Any] = {}
    for line in _lines(proc, time.monotonic() + timeout):
        if line.startswith("phase connected"):
            rss_connected = memory_kb(pid, "VmRSS")
            server.go()
        elif line == "phase measure":
            cpu_start = cpu_seconds(pid)
        elif line == "phase end":
            cpu_end = cpu_seconds(pid)
        elif line.startswith("{"):
            report = orjson.loads(line)
    proc.wait()
    if not report:
        raise RuntimeError(f"load generator exited with {proc.returncode} and no report")
    return LoadResult(
        report, cpu_end - cpu_start, rss_before, rss_connected, memory_kb(pid, "VmHWM")
    )
