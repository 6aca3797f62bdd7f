"""Run the fan-out benchmarks (issue 6), the trading-history one (issue 9) and the cluster runs
(issue 14); print a table.

    python benchmarks/run.py [--quick] [--scenario NAME ...] [--runs N] [--profile]

`trading-history` runs in this process (`bench_trading.py`); `cluster` starts its own processes
(`bench_cluster.py`: a core and edges against the single process); `connections-100k` runs
across processes (`tickgate serve --workers`, several load generators: `bench_idle.py`) where
the open-files limit keeps one process from holding 100,000 sockets; the latency-bound and
realistic-capacity searches are `bench_capacity.py`; every other scenario is a fan-out one:

Each scenario starts a server process (tickgate, or a reference) pinned to one core and the C
load generator (compiled here with gcc -O2) pinned to another, three runs per variant by default,
and writes `benchmarks/results/<date>-<scenario>.json` (`-quick` suffix with --quick). It then
rewrites `benchmarks/results/<date>-table.txt` from all of that date's JSON files (the scenarios
run now and those run earlier that day) and prints it. `--profile` records the tickgate server
of every run with py-spy (self time per function) into `benchmarks/results/profiles/`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench_capacity
import bench_cluster
import bench_idle
import bench_trading
import orjson
import report
import table
from checks import Runs
from procs import ROOT, Server, compile_loadgen, run_loadgen, start_nats, start_python_server
from profiling import Profiler
from scenarios import Scenario, Variant, all_scenarios
from stalled import stalled_metrics

OURS = "tickgate"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short run per variant")
    parser.add_argument(
        "--scenario", action="append", default=[], help="name or prefix (repeatable)"
    )
    parser.add_argument("--runs", type=int, help="runs per variant (default 3, quick 1)")
    parser.add_argument(
        "--warmup", type=float, help="seconds before measuring (default 1, quick 0.5)"
    )
    parser.add_argument(
        "--duration", type=float, help="seconds measured (default 4 or the scenario's, quick 1.5)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the tickgate server")
    parser.add_argument("--native", action="store_true", help="with --profile: C frames too")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args()


#: Open files the largest scenario needs in each process (connections-100k), with room.
FILES_NEEDED = 110_000


def raise_fd_limit() -> None:
    """Lift the open-files limit (children inherit it): to `FILES_NEEDED` where allowed (root
    may raise the hard limit), else the soft limit to the hard one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FILES_NEEDED:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (FILES_NEEDED, FILES_NEEDED))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start(variant: Variant, workdir: Path, *, watch: bool) -> Server:
    if variant.server == "tickgate":
        args = [*variant.server_args, "--data-dir", str(workdir / "tickgate-data")]
        if watch:
            args += ["--watch-file", str(workdir / "watch.json")]
        server = start_python_server("tickgate", "server_main.py", args)
        server.tls = "--tls" in args
        return server
    if variant.server == "plain":
        return start_python_server("plain", "reference_plain.py", variant.server_args)
    return start_nats(workdir)


def loadgen_args(
    variant: Variant, scenario: Scenario, server: Server, options: argparse.Namespace, workdir: Path
) -> tuple[list[str], int]:
    """The load generator's arguments, and how many subscriptions they make in all."""
    subscriptions = 0
    args = [
        "--conns",
        str(scenario.conns),
        "--warmup",
        str(options.warmup),
        "--duration",
        str(duration(scenario, options)),
    ]
    for arg in variant.loadgen_args:
        args.append(f"127.0.0.1:{server.nats_port}" if arg == "NATS" else arg)
    if "--sub" in variant.loadgen_args:
        one = variant.loadgen_args[variant.loadgen_args.index("--sub") + 1]
        subscriptions = scenario.conns * (one.count("|") + 1)
    if variant.subs is not None:
        lines = variant.subs(server.conids, scenario.conns)
        subscriptions = sum(line.count("|") + 1 for line in lines)
        subs_file = workdir / "subs.txt"
        subs_file.write_text("\n".join(lines) + "\n")
        args += ["--subs-file", str(subs_file)]
    return args, subscriptions


def duration(scenario: Scenario, options: argparse.Namespace) -> float:
    """Seconds measured: --duration if given, else the scenario's own (full runs), else 4."""
    if options.duration is not None:
        return float(options.duration)
    if options.quick:
        return 1.5
    return scenario.duration_s or 4.0


def run_variant(
    scenario: Scenario,
    variant: Variant,
    binary: Path,
    options: argparse.Namespace,
    profiler: Profiler | None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tickgate-bench-") as tmp:
        workdir = Path(tmp)
        watch = scenario.watch and variant.server == "tickgate"
        server = start(variant, workdir, watch=watch)
        try:
            args, subscriptions = loadgen_args(variant, scenario, server, options, workdir)
            recording = (
                profiler.attach(server, f"{scenario.name}-{variant.label}") if profiler else None
            )
            result = run_loadgen(
                binary,
                server,
                args,
                # connecting takes time too: up to 4 ms a socket on a loaded machine
                timeout=options.warmup + duration(scenario, options) + 180 + scenario.conns / 250,
                sample_every=0.25 if scenario.watch else None,
                # the nats variants' subscriptions are confirmed by the load generator itself
                expected_subscriptions=subscriptions if variant.server == "tickgate" else 0,
            )
            if recording is not None:
                recording.finish()
        finally:
            server.stop()
        stalled = None
        if watch and result.loadgen.get("stalled_ports"):
            stalled = stalled_metrics(result, orjson.loads((workdir / "watch.json").read_bytes()))
    return report.run_metrics(result, stalled)


def run_scenario(
    scenario: Scenario, binary: Path, options: argparse.Namespace, profiler: Profiler | None
) -> dict[str, Any]:
    runs: Runs = {v.label: [] for v in scenario.variants}
    for index in range(options.runs):
        # Interleave variants so drift on the machine hits all of them alike.
        for variant in scenario.variants:
            print(
                f"  {scenario.name} / {variant.label} run {index + 1}/{options.runs}",
                file=sys.stderr,
            )
            runs[variant.label].append(run_variant(scenario, variant, binary, options, profiler))
    summary = {label: report.summarize(values) for label, values in runs.items()}
    checks = scenario.checks(summary, runs)
    return {
        "scenario": scenario.name,
        "connections": scenario.conns,
        "quick": options.quick,
        "runs_per_variant": options.runs,
        "warmup_s": options.warmup,
        "duration_s": duration(scenario, options),
        "machine": report.machine(),
        "variants": {label: {"median": summary[label], "runs": runs[label]} for label in runs},
        "ratios_tickgate_over": report.ratios(summary, OURS),
        "checks": [
            {
                "target": c.target,
                "verdict": c.verdict,
                "met": c.verdict == "MET",
                "measured": c.measured,
            }
            for c in checks
        ],
    }


def selected(names: list[str]) -> list[Scenario]:
    scenarios = all_scenarios()
    if not names:
        return scenarios
    names = [
        n
        for n in names
        if n not in (bench_trading.NAME, bench_cluster.NAME) and not bench_capacity.selected([n])
    ]
    if not names:
        return []
    chosen = [s for s in scenarios if any(s.name == n or s.name.startswith(n + "-") for n in names)]
    if not chosen:
        raise SystemExit(
            f"no scenario matches {names}; known: {', '.join(s.name for s in scenarios)}"
        )
    return chosen


def split_idle(scenarios: list[Scenario]) -> tuple[list[Scenario], bool]:
    """`scenarios` less connections-100k when this machine's open-files limit keeps one process
    from holding its sockets, and whether it was taken out (then bench_idle runs it across
    processes: `tickgate serve --workers` and several load generators)."""
    kept = [s for s in scenarios if s.name != bench_idle.NAME or not bench_idle.needs_workers()]
    return kept, len(kept) < len(scenarios)


def run_fanout(
    scenarios: list[Scenario],
    options: argparse.Namespace,
    date: str,
    searches: Sequence[bench_capacity.Search] = (),
) -> None:
    """Run the fan-out scenarios, then the capacity searches; one JSON file each."""
    scenarios, idle_across_processes = split_idle(scenarios)
    with tempfile.TemporaryDirectory(prefix="tickgate-loadgen-") as build:
        binary = compile_loadgen(Path(build))
        profiler = (
            Profiler(report.RESULTS / "profiles", native=options.native)
            if options.profile
            else None
        )
        for scenario in scenarios:
            document = run_scenario(scenario, binary, options, profiler)
            path = report.write_result(date, scenario.name, document, quick=options.quick)
            print(f"  wrote {path.relative_to(ROOT)}", file=sys.stderr)
        if idle_across_processes:
            path = bench_idle.run(binary, options, date)
            print(f"  wrote {path.relative_to(ROOT)}", file=sys.stderr)
        bench_capacity.run(
            searches, binary, options, date, lambda s, v, b, o: run_variant(s, v, b, o, None)
        )


def main() -> int:
    options = parse_args()
    if options.list:
        capacity = [s.name for s in bench_capacity.all_searches()]
        print(
            "\n".join(
                [
                    *(s.name for s in all_scenarios()),
                    *capacity,
                    bench_trading.NAME,
                    bench_cluster.NAME,
                ]
            )
        )
        return 0
    options.runs = options.runs or (1 if options.quick else 3)
    options.warmup = (
        options.warmup if options.warmup is not None else (0.5 if options.quick else 1.0)
    )
    raise_fd_limit()
    scenarios = selected(options.scenario)
    searches = bench_capacity.selected(options.scenario)
    date = report.today()
    if scenarios or searches:
        run_fanout(scenarios, options, date, searches)
    if not options.scenario or bench_trading.NAME in options.scenario:
        bench_trading.main(["--quick"] if options.quick else [])
    if not options.scenario or bench_cluster.NAME in options.scenario:
        bench_cluster.main(["--quick"] if options.quick else [])
    names = [s.name for s in all_scenarios()]
    names += [s.name for s in bench_capacity.all_searches()]
    names += [bench_trading.NAME, bench_cluster.NAME]
    path, text = table.write_table(date, names, quick=options.quick)
    print(f"  wrote {path.relative_to(ROOT)}", file=sys.stderr)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
