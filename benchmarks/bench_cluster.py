"""Cluster runs (issue 14): one core and N edges against the single process, in the same run.

    python benchmarks/bench_cluster.py [--quick] [--edges 1,2] [--conns 1000] [--rate 20000]
    python benchmarks/run.py --scenario cluster      # the same, from the one command

The scenario is the single process's realistic one: `--conns` clients of the seed dialect, each
subscribed to 20 of 500 conids, a paced feed of `--rate` ticks/s, every frame parsed (loss and
order checked). Variants, interleaved run by run so drift on the machine hits all alike:

- `single`: `server_main.py`, the gateway as one process (the fan-out benchmarks' server);
- `cluster-E` for each E of `--edges`: a nats-server (with its monitoring port), a core
  (`cluster_main.py --role core`, the same paced feed) and E edges (`--role edge`), with one load
  generator per edge holding conns/E of the connections.

Reported per variant: delivered frames/s in total and per edge process; each process's CPU in
the measured window (core, edges, nats-server); frames per second of server-side CPU (every
server process together: what one core used buys); latency p50/p99 and what the bus hop adds
over `single` in the same run; NATS messages and bytes per tick (nats-server's /varz, in and
out, over the window, divided by the ticks fed). And the trading hop: a market order placed
on the core and through an edge, p50/p99 over `--orders` orders, no market data load.

Writes `results/<date>-cluster.json` (`-quick` with --quick). On a 2-core machine every server
process and the load generators share the two cores: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import report
from procs import (
    LOADGEN_CPU,
    Server,
    _lines,
    compile_loadgen,
    cpu_seconds,
    fed_ticks,
    free_port,
    pinned,
    server_counters,
    start_python_server,
)
from scenarios import subscribe

from tickgate.bus.nats_server import find_nats_server

NAME = "cluster"
CLUSTER = "bench"
INSTRUMENTS = 500
SUBS_PER_CONN = 20
ACCOUNT = "DU1234567"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run, 200 clients")
    parser.add_argument("--edges", default="1,2", help="edge counts, comma-separated")
    parser.add_argument("--conns", type=int, help="clients (default 1000, quick 200)")
    parser.add_argument("--rate", type=float, default=20_000.0, help="ticks per second fed")
    parser.add_argument("--runs", type=int, help="runs per variant (default 3, quick 1)")
    parser.add_argument("--warmup", type=float, help="seconds (default 1, quick 0.5)")
    parser.add_argument("--duration", type=float, help="seconds measured (default 4, quick 1.5)")
    parser.add_argument("--orders", type=int, help="orders per trading-hop side (200, quick 50)")
    options = parser.parse_args(argv)
    quick = options.quick
    options.conns = options.conns or (200 if quick else 1000)
    options.runs = options.runs or (1 if quick else 3)
    options.warmup = options.warmup if options.warmup is not None else (0.5 if quick else 1.0)
    options.duration = options.duration or (1.5 if quick else 4.0)
    options.orders = options.orders or (50 if quick else 200)
    options.edge_counts = [int(e) for e in options.edges.split(",") if e.strip()]
    return options


# --- processes ------------------------------------------------------------------------------


@dataclass
class Nats:
    proc: subprocess.Popen[bytes]
    url: str
    monitor: int

    def varz(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/varz", timeout=5) as r:
            value = orjson.loads(r.read())
        assert isinstance(value, dict)
        return value

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_nats(workdir: Path) -> Nats:
    """A nats-server on free ports with its HTTP monitoring (for /varz)."""
    port, monitor = free_port(), free_port()
    log = (workdir / "nats.log").open("wb")
    args = [str(find_nats_server()), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor)]
    args += ["-js", "-sd", str(workdir / "jetstream")]  # the core's lease lives in JetStream
    proc = subprocess.Popen(args, stdout=log, stderr=log)
    nats = Nats(proc, f"nats://127.0.0.1:{port}", monitor)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            nats.varz()
            return nats
        time.sleep(0.05)
    nats.stop()
    raise RuntimeError("nats-server did not start within 10 s")


@dataclass
class Cluster:
    nats: Nats
    core: Server
    edges: list[Server]

    def pids(self) -> dict[str, int]:
        out = {"core": self.core.pid, "nats-server": self.nats.proc.pid}
        out.update({f"edge-{i + 1}": e.pid for i, e in enumerate(self.edges)})
        return out

    def stop(self) -> None:
        for server in [*self.edges, self.core]:
            server.stop()
        self.nats.stop()


def member_args(role: str, nats: Nats, workdir: Path, rate: float) -> list[str]:
    args = ["--role", role, "--nats", nats.url, "--cluster", CLUSTER]
    args += ["--data-dir", str(workdir / role), "--rate", str(rate)]
    return [*args, "--instruments", str(INSTRUMENTS)]


def start_cluster(edges: int, workdir: Path, rate: float) -> Cluster:
    nats = start_nats(workdir)
    core = start_python_server("core", "cluster_main.py", member_args("core", nats, workdir, rate))
    started = [
        start_python_server(
            "edge", "cluster_main.py", member_args("edge", nats, workdir / f"e{i}", rate)
        )
        for i in range(edges)
    ]
    # Edges learn the conids from the catalogue, the same on every member; the core feeds them.
    for edge in started:
        edge.conids = core.conids
    return Cluster(nats, core, started)


def realistic_subs(conids: Sequence[int], conns: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "|".join(subscribe(c) for c in rng.sample(list(conids), SUBS_PER_CONN))
        for _ in range(conns)
    ]


@dataclass
class Reading:
    """Readings of every process around the measured window."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    varz: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    #: Ticks the core's feed produced so far (a starved core feeds fewer than the rate).
    ticks: int = 0


def read(pids: dict[str, int], nats: Nats | None, core: Server | None) -> Reading:
    return Reading(
        {name: cpu_seconds(pid) for name, pid in pids.items()},
        nats.varz() if nats is not None else {},
        time.monotonic(),
        fed_ticks(core) if core is not None else 0,
    )


def run_loadgens(
    binary: Path,
    targets: list[tuple[Server, list[str]]],
    go: Server,
    pids: dict[str, int],
    nats: Nats | None,
    options: argparse.Namespace,
    workdir: Path,
) -> tuple[list[dict[str, Any]], Reading, Reading]:
    """One load generator per target (its port and subscription lines); the feed starts once
    all are connected; readings at the first one's measure and end phases."""
    procs = []
    for index, (server, subs) in enumerate(targets):
        subs_file = workdir / f"subs-{index}.txt"
        subs_file.write_text("\n".join(subs) + "\n")
        command = [
            *pinned(LOADGEN_CPU),
            str(binary),
            "--port",
            str(server.port),
            "--conns",
            str(len(subs)),
            "--subs-file",
            str(subs_file),
            "--warmup",
            str(options.warmup),
            "--duration",
            str(options.duration),
        ]
        command += ["--wait-go", "1"]
        procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
    deadline = time.monotonic() + options.warmup + options.duration + 180
    streams = [_lines(p, deadline, None) for p in procs]
    # Every generator connects and subscribes first; the feed starts when every server holds
    # every subscription and (an edge) has the core's image of every conid they name, so the
    # measured window never sees subscriptions still being stitched.
    for stream in streams:
        for line in stream:
            if line.startswith("phase connected"):
                break
    for server, subs in targets:
        wait_ready(server, subs, edge=nats is not None, timeout=120)
    go.go()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    reports: list[dict[str, Any]] = []
    start = end = Reading()
    for index, stream in enumerate(streams):
        for line in stream:
            if index == 0 and line == "phase measure":
                start = read(pids, nats, go if nats is not None else None)
            elif index == 0 and line == "phase end":
                end = read(pids, nats, go if nats is not None else None)
            elif line.startswith("{"):
                reports.append(orjson.loads(line))
    for proc in procs:
        proc.wait()
    if len(reports) != len(procs):
        raise RuntimeError("a load generator exited without a report")
    return reports, start, end


#: An edge's `/metrics` series of what it follows over the bus.
FOLLOWED, AWAITING = "tickgate_cluster_followed_conids", "tickgate_cluster_conids_awaiting_image"


def wait_ready(server: Server, subs: list[str], *, edge: bool, timeout: float) -> None:
    """Wait until `server` holds the subscriptions `subs` name and, on an edge, follows each of
    their conids with its image in place. Raises RuntimeError after `timeout` seconds."""
    wanted = {"tickgate_subscriptions": sum(len(line.split("|")) for line in subs)}
    if edge:
        conids = {part.split("+")[2] for line in subs for part in line.split("|")}
        wanted |= {FOLLOWED: len(conids), AWAITING: 0}
    names = tuple(wanted)
    until = time.monotonic() + timeout
    pause = 0.01
    while (now := server_counters(server, names)) != wanted:
        if time.monotonic() > until:
            raise RuntimeError(f"port {server.port} not ready: {now}, wanted {wanted}")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def fanout_metrics(
    reports: list[dict[str, Any]], start: Reading, end: Reading, rate: float
) -> dict[str, Any]:
    window = max(end.wall_s - start.wall_s, 1e-9)
    frames_per_s = [r["frames_per_s"] for r in reports]
    cpu = {name: (end.cpu_s[name] - start.cpu_s[name]) / window for name in start.cpu_s}
    total_frames = sum(frames_per_s)
    out: dict[str, Any] = {
        "frames_per_s": total_frames,
        "frames_per_s_per_edge": frames_per_s,
        "cpu_frac": cpu,
        "server_cpu_frac": sum(cpu.values()),
        "frames_per_cpu_s": total_frames / max(sum(cpu.values()), 1e-9),
        # the slowest generator's figures: the cluster is as late as its latest edge
        "latency_us": {k: max(r["latency_us"][k] for r in reports) for k in ("p50", "p99", "max")},
        "seq": {k: sum(r["seq"][k] for r in reports) for k in reports[0]["seq"]},
        "loadgen_cpu_frac": sum(r["loadgen_cpu_frac"] for r in reports),
    }
    if start.varz:
        ticks = max(end.ticks - start.ticks, 1)
        out["ticks_per_s"] = ticks / window
        for key in ("in_msgs", "out_msgs", "in_bytes", "out_bytes"):
            out[f"nats_{key}_per_tick"] = (end.varz[key] - start.varz[key]) / ticks
    return out


def run_single(binary: Path, options: argparse.Namespace, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tickgate-bench-cluster-") as tmp:
        workdir = Path(tmp)
        server = start_python_server(
            "tickgate",
            "server_main.py",
            [
                *("--feed", "paced", "--rate", str(options.rate)),
                *("--instruments", str(INSTRUMENTS), "--data-dir", str(workdir / "data")),
            ],
        )
        try:
            subs = realistic_subs(server.conids, options.conns, seed)
            reports, start, end = run_loadgens(
                binary, [(server, subs)], server, {"gateway": server.pid}, None, options, workdir
            )
        finally:
            server.stop()
    return fanout_metrics(reports, start, end, options.rate)


def run_cluster(binary: Path, edges: int, options: argparse.Namespace, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tickgate-bench-cluster-") as tmp:
        workdir = Path(tmp)
        cluster = start_cluster(edges, workdir, options.rate)
        try:
            subs = realistic_subs(cluster.core.conids, options.conns, seed)
            share = [subs[i::edges] for i in range(edges)]
            reports, start, end = run_loadgens(
                binary,
                list(zip(cluster.edges, share, strict=True)),
                cluster.core,
                cluster.pids(),
                cluster.nats,
                options,
                workdir,
            )
        finally:
            cluster.stop()
    return fanout_metrics(reports, start, end, options.rate)


# --- the trading hop ------------------------------------------------------------------------


async def order_latencies(base: str, count: int) -> list[float]:
    """Milliseconds per market order (question suppressed: one request each)."""
    order = {"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 1, "tif": "DAY"}
    out = []
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/iserver/questions/suppress", json={"messageIds": ["o10151", "o354"]}
        ) as r:
            assert r.status == 200, await r.text()
        for _ in range(count):
            started = time.perf_counter()
            async with http.post(
                f"{base}/iserver/account/{ACCOUNT}/orders", json={"orders": [order]}
            ) as r:
                body = await r.json()
                assert r.status == 200 and "order_id" in body[0], body
            out.append((time.perf_counter() - started) * 1e3)
    return out


def run_trading_hop(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tickgate-bench-cluster-") as tmp:
        cluster = start_cluster(1, Path(tmp), options.rate)
        try:
            cluster.core.go()  # the feed, for quotes to fill against
            direct = asyncio.run(order_latencies(base_url(cluster.core), options.orders))
            edge = asyncio.run(order_latencies(base_url(cluster.edges[0]), options.orders))
        finally:
            cluster.stop()
    return {"core": percentiles(direct), "through_edge": percentiles(edge)}


def base_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}/v1/api"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


# --- the document ---------------------------------------------------------------------------


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median frames/s (its figures belong together)."""
    ordered = sorted(runs, key=lambda r: r["frames_per_s"])
    return ordered[len(ordered) // 2]


#: Frames/s one realistic client wants (20 conids x 40 ticks/s each at 20,000 ticks/s).
CLIENT_FRAMES_PER_S = 800


def edge_model(variants: dict[str, Any], rate: float) -> dict[str, float] | None:
    """What one more edge buys, from this run's own CPU readings: every edge's CPU per second
    is `T * c_in + F * c_f` (T ticks/s taken in, F frames/s delivered), fitted by least squares
    over the edges of every cluster variant; an edge with a core of its own then delivers
    `(1 - rate * c_in) / c_f` frames/s at the run's feed rate. None without two different F/T
    among the edges (one variant only), or when the fit is not physical (a negative cost: too
    noisy a run)."""
    points = []  # (F/T, cpu/T) per edge
    for label, variant in variants.items():
        if label == "single":
            continue
        m = variant["median"]
        ticks = m.get("ticks_per_s") or 0.0
        if ticks <= 0:
            continue
        for index, frames in enumerate(m["frames_per_s_per_edge"]):
            cpu = m["cpu_frac"].get(f"edge-{index + 1}", 0.0)
            points.append((frames / ticks, cpu / ticks))
    if len({round(x, 6) for x, _ in points}) < 2:
        return None
    fit = statistics.linear_regression([x for x, _ in points], [y for _, y in points])
    c_f, c_in = fit.slope, fit.intercept
    if c_f <= 0 or c_in < 0:
        return None
    frames = max(0.0, (1 - rate * c_in) / c_f)
    return {
        "c_in_us": c_in * 1e6,
        "c_f_us": c_f * 1e6,
        "ticks_per_s": rate,
        "edge_on_own_core_frames_per_s": frames,
        "edge_on_own_core_clients": frames / CLIENT_FRAMES_PER_S,
    }


def table_lines(document: dict[str, Any]) -> list[str]:
    variants = document["variants"]
    single = variants["single"]["median"]
    lines = [
        f"{NAME}: {document['connections']} clients x {SUBS_PER_CONN} of {INSTRUMENTS} conids, "
        f"{document['rate']:,.0f} ticks/s; cpu = cores used in the window",
        f"  {'variant':<11} {'frames/s':>10} {'per edge':>22} {'fr/cpu-s':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'+p50':>6} {'+p99':>6} {'lost':>5} "
        f"{'ticks/s':>8} {'msgs/tick':>9} {'B/tick':>7}  cpu by process",
    ]
    for label, variant in variants.items():
        m = variant["median"]
        lat, base = m["latency_us"], single["latency_us"]
        per_edge = "/".join(f"{f / 1e3:.0f}k" for f in m["frames_per_s_per_edge"])
        msgs = m.get("nats_out_msgs_per_tick")
        nbytes = m.get("nats_out_bytes_per_tick")
        fed = m.get("ticks_per_s")
        cpu = " ".join(f"{name} {frac:.0%}" for name, frac in m["cpu_frac"].items())
        lines.append(
            f"  {label:<11} {m['frames_per_s']:>10,.0f} {per_edge:>22} "
            f"{m['frames_per_cpu_s']:>10,.0f} {lat['p50'] / 1e3:>7.2f} {lat['p99'] / 1e3:>7.2f} "
            f"{(lat['p50'] - base['p50']) / 1e3:>6.2f} {(lat['p99'] - base['p99']) / 1e3:>6.2f} "
            f"{m['seq']['lost']:>5} {'-' if fed is None else f'{fed:,.0f}':>8} "
            f"{'-' if msgs is None else f'{msgs:.2f}':>9} "
            f"{'-' if nbytes is None else f'{nbytes:.0f}':>7}  {cpu}"
        )
    model = document.get("edge_model")
    if model is not None:
        lines.append(
            f"  one more edge (fitted on this run's edges: {model['c_in_us']:.1f} us per tick "
            f"taken in, {model['c_f_us']:.2f} us per frame delivered): on a core of its own "
            f"+{model['edge_on_own_core_frames_per_s']:,.0f} frames/s "
            f"(~{model['edge_on_own_core_clients']:,.0f} realistic clients) "
            f"at {model['ticks_per_s']:,.0f} ticks/s"
        )
    hop = document["trading_hop"]
    if hop is None:
        return lines
    lines.append(
        f"  trading hop: market order p50/p99 {hop['core']['p50_ms']:.2f}/"
        f"{hop['core']['p99_ms']:.2f} ms on the core, {hop['through_edge']['p50_ms']:.2f}/"
        f"{hop['through_edge']['p99_ms']:.2f} ms through an edge"
    )
    return lines


def checks(document: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for label, variant in document["variants"].items():
        seq = variant["median"]["seq"]
        out.append(
            {
                "target": f"{label}: no loss, no reorder",
                "verdict": "MET" if seq["lost"] == 0 and seq["reordered"] == 0 else "MISS",
                "measured": f"lost {seq['lost']}, reordered {seq['reordered']}",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    labels = ["single", *(f"cluster-{e}" for e in options.edge_counts)]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    with tempfile.TemporaryDirectory(prefix="tickgate-loadgen-") as build:
        binary = compile_loadgen(Path(build))
        for index in range(options.runs):
            for label in labels:
                print(f"  {NAME} / {label} run {index + 1}/{options.runs}", file=sys.stderr)
                if label == "single":
                    runs[label].append(run_single(binary, options, seed=6))
                else:
                    edges = int(label.split("-")[1])
                    runs[label].append(run_cluster(binary, edges, options, seed=6))
    print(f"  {NAME} / trading hop", file=sys.stderr)
    document: dict[str, Any] = {
        "scenario": NAME,
        "connections": options.conns,
        "rate": options.rate,
        "quick": options.quick,
        "runs_per_variant": options.runs,
        "warmup_s": options.warmup,
        "duration_s": options.duration,
        "machine": report.machine(),
        "load_average": os.getloadavg(),
        "variants": {
            label: {"median": median_run(runs[label]), "runs": runs[label]} for label in labels
        },
        "trading_hop": run_trading_hop(options) if options.edge_counts else None,
    }
    document["edge_model"] = edge_model(document["variants"], options.rate)
    document["checks"] = checks(document)
    document["table"] = table_lines(document)
    path = report.write_result(report.today(), NAME, document, quick=options.quick)
    print("\n".join(document["table"]))
    for check in document["checks"]:
        print(f"{check['verdict']:<4} {NAME}: {check['target']}: {check['measured']}")
    print(f"  wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
