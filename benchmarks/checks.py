"""Targets and their verdicts: MET, MISS, or INCONCLUSIVE when the run cannot decide.

A ratio against a reference only says something when the reference ran at its ceiling. A server
that used less than `SATURATED` of its core was held back by something else (the client, the
publisher's window) and its frames/s understate what it can do, so a ratio to it is reported as
INCONCLUSIVE, with the side that was the limit, next to the comparison at equal server CPU
(server CPU microseconds per delivered frame), which does not depend on saturation as much.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

MET, MISS, INCONCLUSIVE = "MET", "MISS", "INCONCLUSIVE"
#: a server at or above this fraction of its core counts as running at its limit
SATURATED = 0.9
Summary = dict[str, dict[str, Any]]
Runs = dict[str, list[dict[str, Any]]]
#: (medians per variant label, every run per variant label) -> checks
Checker = Callable[[Summary, Runs], list["Check"]]


class Check(NamedTuple):
    """One target: its name, the verdict (MET, MISS or INCONCLUSIVE) and what was measured."""

    target: str
    verdict: str
    measured: str


def judged(target: str, ok: bool, measured: str) -> Check:
    """A check that the run decides: MET when `ok`, else MISS."""
    return Check(target, MET if ok else MISS, measured)


def bound(metrics: dict[str, Any]) -> str:
    """Which side limited a run: "server" (its core nearly full), "client" (the load generator's
    core nearly full), "shared" (the server's core was nearly full, but not with the server:
    other processes took it) or "neither" (both had idle time: latency or flow control)."""
    if metrics["server_cpu_frac"] >= SATURATED:
        return "server"
    if metrics["loadgen_cpu_frac"] >= SATURATED:
        return "client"
    if metrics.get("server_core_busy_frac", 0.0) >= SATURATED:
        return "shared"
    return "neither"


def ratio_to_fastest(
    summary: Summary, ours: str, references: tuple[str, ...], *, share: float
) -> list[Check]:
    """`ours` against the fastest reference, in frames/s and at equal server CPU.

    The frames/s check is INCONCLUSIVE when that reference's server ran below `SATURATED` of its
    core. The equal-CPU check compares server CPU per frame with the most CPU-efficient
    reference (a reference below its ceiling batches less, so its figure is if anything high,
    and the ratio flatters `ours`).
    """
    mine = summary[ours]
    fastest = max(references, key=lambda label: summary[label]["frames_per_s"])
    best = summary[fastest]
    frames_ratio = mine["frames_per_s"] / best["frames_per_s"]
    leanest = min(references, key=lambda label: _us_per_frame(summary[label]))
    cpu_ratio = _us_per_frame(summary[leanest]) / _us_per_frame(mine)
    cpu_text = (
        f"{cpu_ratio:.0%} of {leanest} at equal server CPU "
        f"({_us_per_frame(mine):.3f} vs {_us_per_frame(summary[leanest]):.3f} us/frame)"
    )
    measured = f"{frames_ratio:.0%} of {fastest} {best['frames_per_s'] / 1e6:.2f} M/s; {cpu_text}"
    target = f">= {share:.0%} of fastest reference"
    if best["server_cpu_frac"] < SATURATED:
        verdict = (
            f"{INCONCLUSIVE} (reference not CPU-bound: {best['server_cpu_frac']:.0%} CPU; "
            f"limit: {bound(best)}; loadgen {best['loadgen_cpu_frac']:.0%} CPU)"
        )
        frames_check = Check(target, verdict, measured)
    else:
        frames_check = judged(target, frames_ratio >= share, measured)
    return [
        frames_check,
        judged(
            f"(equal server CPU) >= {share:.0%} of leanest reference", cpu_ratio >= share, cpu_text
        ),
    ]


def _us_per_frame(metrics: dict[str, Any]) -> float:
    value = metrics.get("server_cpu_us_per_frame")
    return float(value) if value else float("inf")
