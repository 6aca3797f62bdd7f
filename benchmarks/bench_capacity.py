"""Capacity searches (issue 16): the highest load at which a latency bound still holds.

    python benchmarks/run.py --scenario latency-bound [--quick]       (C=100 and C=1000)
    python benchmarks/run.py --scenario realistic-capacity [--quick]

Each search starts a fresh server per step (one run each, like the fan-out scenarios' runs), raises
the publish rate by `factor` until a step fails, then bisects between the last rate that held and
the first that failed (`refine` times). A step holds when p99 latency is under the bound, the
clients got at least `DELIVERED` of the frames the rate implies (a server that falls behind and
conflates, or drops subscribers, does not hold) and, where checked, nothing was lost or reordered.

- `latency-bound-C`: the firehose conid to C clients, tickgate's paced feed against nats-server fed
  by the load generator's paced publisher (`--pub-rate`); bound p99 < 5 ms. Clients parse one
  message in `PARSE_EVERY`, as in the firehose scenarios.
- `realistic-capacity`: 1,000 clients x 20 of 500 conids x 5 fields (realistic-tempo0's load),
  the simulator's tick rate searched; bound p99 < 15 ms, no loss, no reorder.

Results: `results/<date>-<name>[-quick].json` with every step, rendered into the date's table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
from checks import INCONCLUSIVE, Check, judged
from feeds import FIREHOSE_CONID
from scenarios import PARSE_EVERY, Scenario, Variant, realistic_subs, subscribe

#: A step holds only if the clients got this share of the frames its rate implies.
DELIVERED = 0.9
#: (scenario, variant, load generator binary, options) -> one run's metrics (run.run_variant)
RunOne = Callable[[Scenario, Variant, Path, argparse.Namespace], dict[str, Any]]


@dataclass(frozen=True)
class Search:
    """One capacity search: variants whose rate is searched, the bound and the start rate."""

    name: str
    conns: int
    #: label -> the variant at a given rate (ticks per second published)
    variants: dict[str, Callable[[float], Variant]]
    p99_ms: float
    #: frames each client should get per published tick (fan-in of its subscriptions)
    frames_per_tick: float
    check_order: bool
    start: float
    quick_start: float
    #: the rate tickgate must reach (None: compared with the other variant instead)
    target: float | None = None


def _latency_bound(conns: int) -> Search:
    sub = ("--sub", subscribe(FIREHOSE_CONID), "--parse-every", str(PARSE_EVERY))
    nats = ("--mode", "nats", "--path", "/", "--subject", f"md.{FIREHOSE_CONID}")

    def tickgate(rate: float) -> Variant:
        server = ("--feed", "paced", "--rate", f"{rate:g}", "--instruments", "1")
        return Variant("tickgate", "tickgate", server, sub)

    def nats_server(rate: float) -> Variant:
        args = (*nats, "--parse-every", str(PARSE_EVERY), "--pub", "NATS")
        return Variant("nats-server", "nats", (), (*args, "--pub-rate", f"{rate:g}"))

    return Search(
        f"latency-bound-{conns}",
        conns,
        {"tickgate": tickgate, "nats-server": nats_server},
        p99_ms=5.0,
        frames_per_tick=1.0,
        check_order=False,
        start=2000.0 if conns == 100 else 250.0,
        quick_start=4000.0 if conns == 100 else 500.0,
    )


def _realistic_capacity() -> Search:
    def tickgate(rate: float) -> Variant:
        server = ("--feed", "paced", "--rate", f"{rate:g}", "--instruments", "500")
        return Variant("tickgate", "tickgate", server, (), subs=realistic_subs(0))

    return Search(
        "realistic-capacity",
        1000,
        {"tickgate": tickgate},
        p99_ms=15.0,
        frames_per_tick=20 / 500,
        check_order=True,
        start=10_000.0,
        quick_start=10_000.0,
        target=40_000.0,
    )


def all_searches() -> list[Search]:
    """Every capacity search, in the order they run."""
    return [_latency_bound(100), _latency_bound(1000), _realistic_capacity()]


def selected(names: Sequence[str]) -> list[Search]:
    """The searches `names` (names or prefixes, as run.py takes them) ask for; all without."""
    searches = all_searches()
    if not names:
        return searches
    return [s for s in searches if any(s.name == n or s.name.startswith(n + "-") for n in names)]


def held(search: Search, metrics: dict[str, Any], rate: float) -> tuple[bool, str]:
    """Whether one step kept the bound, and why not."""
    latency = metrics.get("latency_us") or {}
    p99_ms = latency.get("p99", float("inf")) / 1e3
    expected = rate * search.frames_per_tick * search.conns
    got = metrics["frames_per_s"] / expected if expected else 0.0
    seq = metrics.get("seq") or {}
    if p99_ms >= search.p99_ms:
        return False, f"p99 {p99_ms:.2f} ms"
    if got < DELIVERED:
        return False, f"delivered {got:.0%}"
    if metrics.get("closed_by_server"):
        return False, f"{metrics['closed_by_server']} closed by the server"
    if search.check_order and (seq.get("lost") or seq.get("reordered")):
        return False, f"lost {seq.get('lost')}, reordered {seq.get('reordered')}"
    return True, f"p99 {p99_ms:.2f} ms, delivered {got:.0%}"


def search_rate(
    search: Search,
    label: str,
    probe: Callable[[float], dict[str, Any]],
    *,
    quick: bool,
) -> dict[str, Any]:
    """Raise the rate until a step fails, then bisect; every step is kept."""
    factor, refine, limit = (2.0, 1, 8) if quick else (1.5, 3, 14)
    steps: list[dict[str, Any]] = []

    def step(rate: float) -> bool:
        print(f"  {search.name} / {label} at {rate:,.0f}/s", file=sys.stderr)
        metrics = probe(rate)
        ok, why = held(search, metrics, rate)
        steps.append({"rate": rate, "held": ok, "why": why, "metrics": metrics})
        return ok

    rate = search.quick_start if quick else search.start
    best, failed = 0.0, None
    for _ in range(limit):
        if not step(rate):
            failed = rate
            break
        best, rate = rate, rate * factor
    # Not even the start rate held (a loaded machine): step down until one does.
    for _ in range(limit if not best else 0):
        rate = round(rate / factor / 2, -1)
        if rate < 10:
            break
        if step(rate):
            best = rate
            break
        failed = rate
    low = best
    high = failed
    for _ in range(refine if high is not None and low else 0):
        assert high is not None
        middle = round((low + high) / 2, -1)
        if step(middle):
            low = middle
        else:
            high = middle
    best = low
    at_best = next((s["metrics"] for s in steps if s["rate"] == best and s["held"]), None)
    return {"best_rate": best, "first_failed": high, "at_best": at_best, "steps": steps}


def run_search(
    search: Search, binary: Path, options: argparse.Namespace, run_one: RunOne
) -> dict[str, Any]:
    """Search every variant of `search`; returns the result document."""
    found = {}
    scenario = Scenario(search.name, search.conns, ())
    for label, make in search.variants.items():

        def probe(rate: float, make: Callable[[float], Variant] = make) -> dict[str, Any]:
            return run_one(scenario, make(rate), binary, options)

        found[label] = search_rate(search, label, probe, quick=options.quick)
    return {
        "scenario": search.name,
        "connections": search.conns,
        "quick": options.quick,
        "warmup_s": options.warmup,
        "machine": report.machine(),
        "bound_p99_ms": search.p99_ms,
        "searches": found,
        "table": table_rows(search, found),
        "checks": [c._asdict() | {"met": c.verdict == "MET"} for c in checks(search, found)],
    }


def checks(search: Search, found: dict[str, dict[str, Any]]) -> list[Check]:
    ours = found["tickgate"]["best_rate"]
    if search.target is not None:
        return [
            judged(
                f"p99 < {search.p99_ms:g} ms at >= {search.target:,.0f} ticks/s",
                ours >= search.target,
                f"held up to {ours:,.0f} ticks/s",
            )
        ]
    theirs = found["nats-server"]["best_rate"]
    if not ours and not theirs:
        # Neither held the bound at any rate tried: "0 >= 0" would pass without measuring.
        return [
            Check(
                f"rate held at p99 < {search.p99_ms:g} ms >= nats-server's",
                f"{INCONCLUSIVE} (no rate held for either server)",
                "tickgate 0/s, nats-server 0/s",
            )
        ]
    return [
        judged(
            f"rate held at p99 < {search.p99_ms:g} ms >= nats-server's",
            ours >= theirs,
            f"tickgate {ours:,.0f}/s, nats-server {theirs:,.0f}/s",
        )
    ]


def table_rows(search: Search, found: dict[str, dict[str, Any]]) -> list[str]:
    """Table rows: each variant at the highest rate that held (the metrics of that step)."""
    rows = []
    for label, result in found.items():
        metrics = result["at_best"]
        name = f"{search.name}"
        if metrics is None:
            lowest = min(step["rate"] for step in result["steps"])
            rows.append(f"{name:<19} {label:<19} nothing held, down to {lowest:,.0f}/s")
            continue
        summary = {label: metrics}
        (row,) = report.table_rows(name, summary, label)
        rows.append(f"{row}  @{result['best_rate']:,.0f}/s")
    return rows


def run(
    searches: Sequence[Search],
    binary: Path,
    options: argparse.Namespace,
    date: str,
    run_one: RunOne,
) -> None:
    """Run `searches` and write one JSON file each."""
    for search in searches:
        document = run_search(search, binary, options, run_one)
        path = report.write_result(date, search.name, document, quick=options.quick)
        print(f"  wrote {path.relative_to(report.RESULTS.parent.parent)}", file=sys.stderr)
