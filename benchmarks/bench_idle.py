"""connections-100k where one process may not hold 100,000 sockets: `tickgate serve --workers`.

    python benchmarks/run.py --scenario connections-100k [--quick]

Where the open-files hard limit allows 100,000 sockets in one process (root may raise it,
`run.raise_fd_limit`), the scenario is the single-process one of `scenarios.py`. Where it does
not (a container without CAP_SYS_RESOURCE: 20,000 here), this module runs it across processes,
each under the limit:

- the server is `python -m tickgate serve --workers W` (a supervisor, a core, W edge workers
  sharing the port with SO_REUSEPORT, an embedded nats-server), plain WebSocket, without the
  universe, replaying (looped) a tick file written here: each of the built-in stocks ticks
  once every `TICK_EVERY_S` seconds, so the connections stay mostly idle and yet every one of
  them must get a tick within the measured window (the simulator's random pick of
  instruments would leave a quiet stock without a tick now and then);
- the clients are L load generators (benchmarks/loadgen.c), each holding its share of the
  connections, spread over `SOURCE_ADDRESSES` loopback source addresses (one address has about
  28,000 ephemeral ports);
- every connection subscribes to one of the simulator's stocks (round robin), all start their
  warm-up together once every generator is connected, and a tick must reach every connection
  in the measured window: deliveries are counted per connection (the fewest is reported).

Memory is the sum of VmRSS over every server process (supervisor, core, edges, nats-server),
read when the measured window starts, minus the same sum read once the cluster was up and
before the first client connected; divided by the connections open. Writes
`results/<date>-connections-100k[-quick].json`, rendered into the date's table.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import report
from checks import Check, judged
from procs import LOADGEN_CPU, ROOT, _child_env, _lines, memory_kb, pinned
from scenarios import FD_RESERVE, IDLE_WANTED, SOURCE_ADDRESSES, subscribe

from tickgate.market.catalogue.catalogue import default_catalogue

NAME = "connections-100k"
#: Sockets one process is planned to hold at most (the rest of its limit: other files, and
#: SO_REUSEPORT's hash spreading connections over the workers unevenly).
SPARE = 5_000
#: Handshakes each load generator keeps in flight: all of them together stay well under what
#: the workers' accept queues hold (aiohttp listens with a backlog of 128 each), so no SYN is
#: dropped while the workers are slow to accept (a dropped SYN is retried after 1, 3, 7 s...).
INFLIGHT = 50
#: How long the cluster may take to start (a core and W Python processes on a loaded machine).
START_TIMEOUT_S = 300.0
#: Each stock of the replayed file ticks once in this many seconds (staggered).
TICK_EVERY_S = 2.0
#: Seconds the replayed file covers before it loops.
FILE_S = 60
#: Replay time of the file's first tick: a weekday during New York's regular session.
FILE_START = "2026-01-07T15:00:00Z"


def hard_limit() -> int:
    """The open-files hard limit of this process (and of the processes it starts)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return IDLE_WANTED * 10 if hard == resource.RLIM_INFINITY else hard


def needs_workers() -> bool:
    """Whether one process may not hold every socket of the scenario."""
    return hard_limit() < IDLE_WANTED + FD_RESERVE


def processes_for(total: int) -> int:
    """How many processes share `total` sockets so that each stays well under the limit."""
    return max(1, math.ceil(total / max(hard_limit() - SPARE, 1)))


def stock_conids() -> list[int]:
    """The conids of the built-in stocks (without the universe), in catalogue order."""
    catalogue = default_catalogue(today=date.today())
    return [i.conid for i in catalogue if str(i.sec_type).endswith("STK")]


# --- the server: tickgate serve --workers ---------------------------------------------------


@dataclass
class Workers:
    """A running `tickgate serve --workers` (its own process group) and its port."""

    proc: subprocess.Popen[bytes]
    port: int
    started_s: float

    def pids(self) -> list[int]:
        """Every process of the cluster: the supervisor and all its descendants."""
        return descendants(self.proc.pid)

    def rss_kb(self) -> dict[int, int]:
        """VmRSS of every process of the cluster, by pid (a process gone meanwhile is left out)."""
        out = {}
        for pid in self.pids():
            with contextlib.suppress(OSError, KeyError):
                out[pid] = memory_kb(pid, "VmRSS")
        return out

    def peak_kb(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, KeyError):
                total += memory_kb(pid, "VmHWM")
        return total

    def stop(self) -> None:
        """SIGTERM (the supervisor stops its children), then SIGKILL to the whole group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def descendants(root: int) -> list[int]:
    """`root` and every process below it (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def write_ticks(path: Path, conids: list[int]) -> None:
    """A CSV tick file: each of `conids` once every `TICK_EVERY_S`, staggered, for `FILE_S`
    seconds; bid, ask and last move on every tick (a tick that changed nothing sends nothing)."""
    start = datetime.fromisoformat(FILE_START).timestamp()
    rows = ["time,conid,bid,ask,last"]
    gap = TICK_EVERY_S / len(conids)
    for n in range(int(FILE_S / TICK_EVERY_S)):
        for k, conid in enumerate(conids):
            at_ns = round((start + n * TICK_EVERY_S + k * gap) * 1e9)
            cents = 10_000 + (n % 50) * 2 + 1
            rows.append(f"{at_ns},{conid},{_price(cents - 1)},{_price(cents + 1)},{_price(cents)}")
    path.write_text("\n".join(rows) + "\n")


def _price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def start_workers(workers: int, workdir: Path, ticks: Path) -> Workers:
    """Start `tickgate serve --workers N` replaying `ticks` (looped); waits for its banner
    (every member ready)."""
    command = [
        sys.executable,
        *("-m", "tickgate", "serve", "--workers", str(workers)),
        *("--host", "127.0.0.1", "--port", "0", "--data-dir", str(workdir / "data")),
        *("--no-tls", "--no-universe", "--no-require-priming", "--log-level", "warning"),
        *("--source", "replay", "--replay", str(ticks), "--loop"),
        # one session's limits, lifted as the benchmark server lifts them
        *("--md-lines", "100000", "--md-lines-per-connection", "100"),
        # 100,000 handshakes on a loaded machine: a request head may wait its turn
        *("--request-timeout-seconds", "60"),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=_child_env(),
        cwd=ROOT,
        start_new_session=True,  # its own process group: stop() can end every member
    )
    try:
        port = _banner_port(proc, time.monotonic() + START_TIMEOUT_S)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return Workers(proc, port, time.monotonic() - started)


def _banner_port(proc: subprocess.Popen[bytes], deadline: float) -> int:
    """The port from the supervisor's "workers: N edge workers on port P" line."""
    for line in _lines(proc, deadline, None):
        if line.startswith("workers:"):
            return int(line.split(" on port ", 1)[1].split(",")[0])
    raise RuntimeError(f"tickgate serve --workers exited with {proc.wait()} before it was ready")


# --- the clients: several load generators ---------------------------------------------------


def loadgen_command(
    binary: Path, port: int, subs_file: Path, conns: int, options: argparse.Namespace
) -> list[str]:
    return [
        *pinned(LOADGEN_CPU),
        str(binary),
        *("--port", str(port), "--conns", str(conns), "--subs-file", str(subs_file)),
        *("--sources", str(SOURCE_ADDRESSES), "--inflight", str(INFLIGHT), "--wait-go", "1"),
        *("--warmup", str(options.warmup), "--duration", str(options.duration)),
    ]


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole shares."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _phase(streams: list[Iterator[str]], prefix: str) -> list[str]:
    """Read each stream up to its first line starting with `prefix`; returns those lines."""
    found = []
    for stream in streams:
        for line in stream:
            if line.startswith(prefix):
                found.append(line)
                break
        else:
            raise RuntimeError(f"a load generator ended before {prefix!r}")
    return found


def run_once(binary: Path, options: argparse.Namespace) -> dict[str, Any]:
    """One run: start the cluster, connect every client, measure, stop everything."""
    total = IDLE_WANTED
    workers = processes_for(total)
    generators = processes_for(total)
    conids = stock_conids()
    with tempfile.TemporaryDirectory(prefix="tickgate-bench-100k-") as tmp:
        workdir = Path(tmp)
        write_ticks(workdir / "ticks.csv", conids)
        cluster = start_workers(workers, workdir, workdir / "ticks.csv")
        say(f"cluster up in {cluster.started_s:.1f} s on port {cluster.port}")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            baseline = cluster.rss_kb()
            first = 0
            for index, conns in enumerate(shares(total, generators)):
                subs_file = workdir / f"subs-{index}.txt"
                lines = [subscribe(conids[(first + i) % len(conids)]) for i in range(conns)]
                subs_file.write_text("\n".join(lines) + "\n")
                first += conns
                command = loadgen_command(binary, cluster.port, subs_file, conns, options)
                procs.append(
                    subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                )
            # a hang guard: 14,000 sockets took 164 s to connect on a loaded machine
            deadline = time.monotonic() + options.warmup + options.duration + 300 + total / 50
            streams = [_lines(p, deadline, None) for p in procs]
            connected = _phase(streams, "phase connected")
            connect_s = max(float(line.split()[3]) for line in connected)
            opened = sum(int(line.split()[2]) for line in connected)
            say(f"{opened:,} connected in {connect_s:.1f} s")
            connected_rss = cluster.rss_kb()
            for proc in procs:  # every generator's warm-up starts together
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
                proc.stdin.flush()
            _phase(streams, "phase measure")
            measured_rss = cluster.rss_kb()
            fds = {pid: _open_files(pid) for pid in cluster.pids()}
            _phase(streams, "phase end")
            reports = [orjson.loads(line) for line in (_report(s) for s in streams)]
            for proc in procs:
                proc.wait()
            peak = cluster.peak_kb()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            cluster.stop()
    opened = sum(r["opened"] for r in reports)
    base_kb = sum(baseline.values())
    return {
        "workers": workers,
        "load_generators": generators,
        "open_files_hard_limit": hard_limit(),
        "cluster_start_s": cluster.started_s,
        "connect_s": connect_s,
        "opened": opened,
        "open_at_end": sum(r["open_at_end"] for r in reports),
        "closed_by_server": sum(r["closed_by_server"] for r in reports),
        "error_frames": sum(r["error_frames"] for r in reports),
        "deliveries": sum(r["msgs"] for r in reports),
        "per_conn_msgs_min": min(r["per_conn_msgs_min"] for r in reports),
        "per_conn_msgs_max": max(r["per_conn_msgs_max"] for r in reports),
        "duration_s": max(r["duration_s"] for r in reports),
        "server_processes": len(baseline),
        "baseline_rss_mb": base_kb / 1024,
        "connected_rss_mb": sum(connected_rss.values()) / 1024,
        "measured_rss_mb": sum(measured_rss.values()) / 1024,
        "peak_rss_mb": peak / 1024,
        "rss_per_conn_kb": (sum(measured_rss.values()) - base_kb) / max(opened, 1),
        "rss_by_process_mb": {str(pid): kb / 1024 for pid, kb in sorted(measured_rss.items())},
        "open_files_by_process": {str(pid): count for pid, count in sorted(fds.items())},
        "loadgens": reports,
    }


def say(text: str) -> None:
    print(f"  {NAME}: {text}", file=sys.stderr, flush=True)


def _open_files(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return 0


def _report(stream: Iterator[str]) -> str:
    for line in stream:
        if line.startswith("{"):
            return line
    raise RuntimeError("a load generator exited without a report")


def checks(run: dict[str, Any]) -> list[Check]:
    opened, still = run["opened"], run["open_at_end"]
    least = run["per_conn_msgs_min"]
    # each stock ticks once per TICK_EVERY_S: that many deliveries per connection and window
    expected = run["opened"] * run["duration_s"] / TICK_EVERY_S
    most_files = max(run["open_files_by_process"].values(), default=0)
    return [
        judged(f"{IDLE_WANTED:,} connections", opened == IDLE_WANTED, f"{opened:,} opened"),
        judged(
            f"all {IDLE_WANTED:,} connected and open",
            opened == IDLE_WANTED and still == IDLE_WANTED,
            f"{opened:,} opened in {run['connect_s']:.1f} s, {still:,} open at the end, "
            f"{run['closed_by_server']} closed by the server",
        ),
        judged(
            "each subscribed, a tick reaches every subscriber",
            least >= 1 and run["error_frames"] == 0,
            f"{run['deliveries']:,} deliveries in {run['duration_s']:.1f} s (the file's pace: "
            f"{expected:,.0f}), fewest per client {least}, {run['error_frames']} error frames",
        ),
        judged(
            "(reported) server memory per connection",
            True,
            f"{run['rss_per_conn_kb']:.1f} KB over {run['server_processes']} server processes "
            f"({run['workers']} workers), {run['measured_rss_mb'] - run['baseline_rss_mb']:.0f} "
            f"MB above an idle {run['baseline_rss_mb']:.0f} MB; peak {run['peak_rss_mb']:.0f} MB; "
            f"most open files in one server process {most_files:,} (limit "
            f"{run['open_files_hard_limit']:,}); cluster up in {run['cluster_start_s']:.1f} s",
        ),
    ]


def table_rows(run: dict[str, Any]) -> list[str]:
    return [
        f"{NAME:<23} {'tickgate x' + str(run['workers']):<19} "
        f"{run['opened']:>10,} open  {run['rss_per_conn_kb']:.1f} KB/conn  "
        f"{run['deliveries']:,} deliveries (fewest {run['per_conn_msgs_min']} per client)  "
        f"connected in {run['connect_s']:.1f} s  peak {run['peak_rss_mb']:.0f} MB"
    ]


def run(binary: Path, options: argparse.Namespace, date_text: str) -> Path:
    """Run the workers form once and write its JSON; returns the path."""
    per_run = argparse.Namespace(
        warmup=max(options.warmup, 2.0),
        duration=options.duration if options.duration is not None else 5.0,
    )
    print(
        f"  {NAME}: tickgate serve --workers {processes_for(IDLE_WANTED)}, "
        f"{processes_for(IDLE_WANTED)} load generators (open-files limit {hard_limit():,})",
        file=sys.stderr,
    )
    measured = run_once(binary, per_run)
    document = {
        "scenario": NAME,
        "connections": IDLE_WANTED,
        "quick": options.quick,
        "form": "workers",
        "warmup_s": per_run.warmup,
        "duration_s": per_run.duration,
        "machine": report.machine(),
        "run": measured,
        "table": table_rows(measured),
        "checks": [c._asdict() | {"met": c.verdict == "MET"} for c in checks(measured)],
    }
    return report.write_result(date_text, NAME, document, quick=options.quick)
