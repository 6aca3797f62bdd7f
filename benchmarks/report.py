"""Turning runs into results: per-run metrics, medians, ratios, the JSON files and the table.

The table file `results/<date>-table.txt` is always rebuilt from the JSON files of that date
(every scenario's latest run), so it can never disagree with them.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

import orjson
from checks import MET, MISS, bound
from procs import LOADGEN_CPU, ROOT, SERVER_CPU, LoadResult

RESULTS = Path(__file__).resolve().parent / "results"
#: counts that must not hide behind a median: summed over runs instead
_SUMMED = ("seq", "closed_by_server", "error_frames")


def run_metrics(result: LoadResult, stalled: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metrics of one run: load generator report plus the server's /proc readings (and, when
    given, the stalled connection's readings and the RSS series; lists are kept per run only)."""
    lg = result.loadgen
    frames = lg["frames"]
    opened = max(lg["opened"], 1)
    extra: dict[str, Any] = {}
    if stalled is not None:
        extra["stalled"] = stalled
    if result.rss_series_kb:
        extra["measure_window_s"] = list(result.measure_window_s)
        extra["rss_series_kb"] = [list(sample) for sample in result.rss_series_kb]
    if lg.get("slices"):
        extra["slice_s"] = lg["slice_s"]
        extra["slices"] = lg["slices"]
    # what the feed produced in the window: the server's own count, or the load generator's
    # publisher (nats); 0 where neither is known
    fed = result.fed_per_s or lg.get("published_per_s", 0.0)
    return {
        "frames_per_s": lg["frames_per_s"],
        "server_cpu_s": result.server_cpu_s,
        "server_cpu_frac": result.server_cpu_s / lg["duration_s"],
        "server_cpu_us_per_frame": result.server_cpu_s * 1e6 / frames if frames else None,
        # of the server's CPU time, the kernel's share (its socket writes, and the loopback
        # receive path that runs in the writer's context)
        "server_sys_frac": result.server_cpu_split[1] / result.server_cpu_s
        if result.server_cpu_s
        else None,
        # frames per socket write, by the server's own counters (tickgate only)
        "frames_per_write": result.frames_sent / result.writes if result.writes else None,
        "server_cpu_us_per_write": result.server_cpu_s * 1e6 / result.writes
        if result.writes
        else None,
        "latency_us": lg["latency_us"] if frames else {},
        "peak_rss_kb": result.peak_rss_kb,
        "rss_per_conn_kb": (result.rss_connected_kb - result.rss_before_kb) / opened,
        "connect_s": lg["connect_s"],
        "opened": lg["opened"],
        "open_at_end": lg["open_at_end"],
        "closed_by_server": lg["closed_by_server"],
        "error_frames": lg["error_frames"],
        "per_conn_frames_min": lg["per_conn_frames_min"],
        "per_conn_frames_max": lg["per_conn_frames_max"],
        "loadgen_cpu_frac": lg["loadgen_cpu_frac"],
        # the pinned cores' busy time from all processes (and softirqs): the excess over our
        # two processes is other load on the machine
        "server_core_busy_frac": result.core_busy.get(SERVER_CPU, 0.0),
        "loadgen_core_busy_frac": result.core_busy.get(LOADGEN_CPU, 0.0),
        "parse_every": lg.get("parse_every", 1),
        "fed_per_s": fed,
        "duration_s": lg["duration_s"],
        "subscribed_s": result.subscribed_s,
        "per_conn_msgs_min": lg.get("per_conn_msgs_min", 0),
        "seq": lg["seq"],
        **extra,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric metric over `runs`; loss, reorder and error counts are summed."""
    summary: dict[str, Any] = {}
    for key in runs[0]:
        values = [run[key] for run in runs if run.get(key) is not None]
        if values and isinstance(values[0], list):
            continue  # series: per run only
        if not values:
            summary[key] = None
        elif isinstance(values[0], dict):
            summary[key] = _combine_dicts(values, summed=key in _SUMMED)
        else:
            summary[key] = sum(values) if key in _SUMMED else statistics.median(values)
    return summary


def _combine_dicts(values: list[dict[str, Any]], *, summed: bool) -> dict[str, Any]:
    keys = {k for value in values for k in value}
    combined: dict[str, Any] = {}
    for key in sorted(keys):
        numbers = [value[key] for value in values if key in value]
        combined[key] = sum(numbers) if summed else statistics.median(numbers)
    return combined


def verdict(check: dict[str, Any]) -> str:
    """A stored check's verdict (files written before verdicts existed only say `met`)."""
    if "verdict" in check:
        return str(check["verdict"])
    return MET if check["met"] else MISS


def ratios(summary: dict[str, dict[str, Any]], ours: str) -> dict[str, dict[str, float]]:
    """tickgate / each other variant: frames/s (higher is better) and CPU per frame (lower)."""
    base = summary.get(ours)
    out: dict[str, dict[str, float]] = {}
    if base is None:
        return out
    for label, other in summary.items():
        if label == ours or not other["frames_per_s"]:
            continue
        entry = {"frames_per_s": base["frames_per_s"] / other["frames_per_s"]}
        if base["server_cpu_us_per_frame"] and other["server_cpu_us_per_frame"]:
            entry["cpu_per_frame"] = (
                base["server_cpu_us_per_frame"] / other["server_cpu_us_per_frame"]
            )
        out[label] = entry
    return out


HEADER = (
    f"{'scenario':<23} {'server':<19} {'frames/s':>10} {'ratio':>6} {'cpu us/fr':>9} "
    f"{'srv cpu':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'peak MB':>8} "
    f"{'KB/conn':>7} {'lg cpu':>6} {'core0':>5} {'bound':>7}"
)


def table_rows(name: str, summary: dict[str, dict[str, Any]], ours: str) -> list[str]:
    """One table line per variant; ratio is tickgate's frames/s over the variant's."""
    rows = []
    for label, s in summary.items():
        lat = s["latency_us"] or {}
        base = summary.get(ours, s)["frames_per_s"]
        ratio = base / s["frames_per_s"] if s["frames_per_s"] else float("nan")
        rows.append(
            f"{name:<23} {label:<19} {s['frames_per_s']:>10,.0f} {ratio:>6.2f} "
            f"{_num(s['server_cpu_us_per_frame'], 9, 2)} {s['server_cpu_frac']:>7.0%} "
            f"{_num(_ms(lat.get('p50')), 8, 2)} {_num(_ms(lat.get('p99')), 8, 2)} "
            f"{_num(_ms(lat.get('max')), 8, 1)} {s['peak_rss_kb'] / 1024:>8.1f} "
            f"{s['rss_per_conn_kb']:>7.1f} {s['loadgen_cpu_frac']:>6.0%} "
            f"{_pct(s.get('server_core_busy_frac'), 5)} {bound(s):>7}"
        )
    return rows


def _pct(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.0%}"


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1e3


def _num(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def machine() -> dict[str, Any]:
    """Where the numbers come from: CPU model, core count, kernel, Python, git commit."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git_commit": commit,
    }


def today() -> str:
    """The date that names result files."""
    return datetime.date.today().isoformat()


def result_path(date: str, name: str, *, quick: bool) -> Path:
    """`benchmarks/results/<date>-<name>[-quick].json`."""
    return RESULTS / f"{date}-{name}{'-quick' if quick else ''}.json"


def write_result(date: str, name: str, document: dict[str, Any], *, quick: bool) -> Path:
    """Write `benchmarks/results/<date>-<name>[-quick].json`; returns its path."""
    RESULTS.mkdir(exist_ok=True)
    path = result_path(date, name, quick=quick)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return path
