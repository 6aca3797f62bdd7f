"""Capacity searches (issue 16): the highest load at which a latency bound still holds.

    python benchmarks/run.py --scenario latency-bound [--quick]       (C=100 and C=1000)
    python benchmarks/run.py --scenario realistic-capacity [--quick]

Each search starts a fresh server per step, from a rate low enough to hold on a quiet machine,
multiplies the rate by `factor` until a step fails, then bisects (geometrically) between the
last rate that held and the first that failed (`refine` times). Every step is kept.

A step holds when, over the measured window:
- p99 latency is under the bound;
- the feed produced at least `FED` of the rate asked for (the server's own count, or the load
  generator's publisher for nats-server): a rate that was not fed was not tested;
- the clients got at least `DELIVERED` of the frames that rate implies (a server that falls
  behind and conflates, or drops subscribers, does not hold);
- no client was closed by the server and, where checked, nothing was lost or reordered.

What makes a step's answer trustworthy (each was a fault of the first version of this search):
- The feed starts only once the server has applied every subscription, and warm-up and
  measurement count from the feed's start (`procs.run_loadgen`); a step is warmed up for at
  least `WARMUP_S` and measured for at least `MEASURE_S`, so p99 is taken over the steady
  state, not the first second after start-up. Each step's latency per quarter second
  (`slices` in the JSON) shows whether it was steady.
- Noise on a shared machine only ever makes a step worse, never better, so a step that fails
  is run once more and holds if either run held.
- A step whose load generator used `CLIENT_BOUND` of its core measured the client, not the
  server: it is not run again, and when it is the lowest rate that failed, the result says
  the client was the limit (a target missed there is INCONCLUSIVE, not a miss).
- The search starts low and climbs, so a knee anywhere in the range is found; the first
  version started at 10,000 ticks/s, halved twice on failure and bisected once, so its
  answer could only be one of a few coarse values (it said 2,500).

- `latency-bound-C`: the firehose conid to C clients, tickgate's paced feed against nats-server fed
  by the load generator's paced publisher (`--pub-rate`); bound p99 < 5 ms. Clients parse one
  message in `PARSE_EVERY`, as in the firehose scenarios. `latency-bound-1000-25ms` is the same
  search for C=1000 at p99 < 25 ms (see `WIDE_BOUND_MS`: 5 ms is below both servers' floor).
- `realistic-capacity`: 1,000 clients x 20 of 500 conids x 5 fields (realistic-tempo0's load),
  the simulator's tick rate searched; bound p99 < 15 ms, no loss, no reorder.

Results: `results/<date>-<name>[-quick].json` with every step, rendered into the date's table.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
from checks import INCONCLUSIVE, SATURATED, Check, judged
from feeds import FIREHOSE_CONID
from scenarios import PARSE_EVERY, Scenario, Variant, realistic_subs, subscribe

#: A step holds only if the clients got this share of the frames its rate implies.
DELIVERED = 0.9
#: ... and the feed produced this share of the rate asked for.
FED = 0.95
#: A step whose load generator used this share of its core measured the client.
CLIENT_BOUND = SATURATED
#: The least warm-up and measured window of a step, in seconds (quick or not).
WARMUP_S = 1.5
MEASURE_S = 2.0
#: When the start rate fails: steps down (each by the climb's factor squared), to this rate.
DOWN_STEPS = 4
MIN_RATE = 5.0
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
    #: the first rate tried: low enough to hold on a quiet machine
    start: float
    #: the rate tickgate must reach (None: compared with the other variant instead)
    target: float | None = None


#: The second bound of latency-bound-1000: on this machine one tick to 1,000 subscribers is
#: 1,000 socket writes, about 8-10 ms from the first to the last even at a few ticks a second,
#: so neither server can hold 5 ms there (MEASURED floors: tickgate ~10 ms, nats-server ~21 ms)
#: and the comparison is also made where both can hold a rate.
WIDE_BOUND_MS = 25.0


def _latency_bound(conns: int, p99_ms: float = 5.0) -> Search:
    sub = ("--sub", subscribe(FIREHOSE_CONID), "--parse-every", str(PARSE_EVERY))
    nats = ("--mode", "nats", "--path", "/", "--subject", f"md.{FIREHOSE_CONID}")

    def tickgate(rate: float) -> Variant:
        server = ("--feed", "paced", "--rate", f"{rate:g}", "--instruments", "1")
        return Variant("tickgate", "tickgate", server, sub)

    def nats_server(rate: float) -> Variant:
        args = (*nats, "--parse-every", str(PARSE_EVERY), "--pub", "NATS")
        return Variant("nats-server", "nats", (), (*args, "--pub-rate", f"{rate:g}"))

    return Search(
        f"latency-bound-{conns}" + ("" if p99_ms == 5.0 else f"-{p99_ms:g}ms"),
        conns,
        {"tickgate": tickgate, "nats-server": nats_server},
        p99_ms=p99_ms,
        frames_per_tick=1.0,
        check_order=False,
        # 1,000 subscribers: each tick is 1,000 socket writes, a few ms on its own
        start=1000.0 if conns == 100 else 25.0,
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
        start=2_500.0,
        target=40_000.0,
    )


def all_searches() -> list[Search]:
    """Every capacity search, in the order they run."""
    return [
        _latency_bound(100),
        _latency_bound(1000),
        _latency_bound(1000, WIDE_BOUND_MS),
        _realistic_capacity(),
    ]


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
    fed = metrics.get("fed_per_s", 0.0) / rate
    # at a few ticks per second a window holds few ticks: a tick or two short is rounding
    short_ticks = (rate - metrics.get("fed_per_s", 0.0)) * metrics.get("duration_s", 0.0)
    seq = metrics.get("seq") or {}
    if fed < FED and short_ticks > 2:
        return False, f"fed {fed:.0%} of the rate"
    if p99_ms >= search.p99_ms:
        return False, f"p99 {p99_ms:.2f} ms"
    if got < DELIVERED:
        return False, f"delivered {got:.0%}"
    if metrics.get("closed_by_server"):
        return False, f"{metrics['closed_by_server']} closed by the server"
    if search.check_order and (seq.get("lost") or seq.get("reordered")):
        return False, f"lost {seq.get('lost')}, reordered {seq.get('reordered')}"
    return True, f"p99 {p99_ms:.2f} ms, delivered {got:.0%}"


def client_bound(metrics: dict[str, Any]) -> bool:
    """Whether the load generator, not the server, was the limit of a step."""
    return bool(metrics.get("loadgen_cpu_frac", 0.0) >= CLIENT_BOUND)


def _two_digits(rate: float) -> float:
    """`rate` to two significant digits (rates in the table stay readable)."""
    digits = 1 - math.floor(math.log10(rate))
    return float(round(rate, digits))


def _between(low: float, high: float) -> float:
    """The geometric middle of two rates, to two significant digits."""
    return _two_digits(math.sqrt(low * high))


def search_rate(
    search: Search,
    label: str,
    probe: Callable[[float], dict[str, Any]],
    *,
    quick: bool,
) -> dict[str, Any]:
    """Climb from `search.start` until a step fails, then bisect; every step is kept.

    Returns the best rate that held (0 when none did), the lowest that failed (None when none
    did within the climb's limit), the metrics at the best rate, every step, and `limit`:
    "client" when the lowest failed rate failed with the load generator at its limit (the
    server may have held it)."""
    factor, refine, limit = (2.0, 2, 8) if quick else (1.5, 3, 14)
    steps: list[dict[str, Any]] = []
    client_failed: set[float] = set()

    def once(rate: float, attempt: int) -> tuple[bool, dict[str, Any]]:
        print(f"  {search.name} / {label} at {rate:,.0f}/s (try {attempt})", file=sys.stderr)
        metrics = probe(rate)
        ok, why = held(search, metrics, rate)
        if not ok and client_bound(metrics):
            why += f" (load generator at {metrics['loadgen_cpu_frac']:.0%} of its core)"
        steps.append({"rate": rate, "try": attempt, "held": ok, "why": why, "metrics": metrics})
        print(f"    {'held' if ok else 'failed'}: {why}", file=sys.stderr)
        return ok, metrics

    def step(rate: float) -> bool:
        ok, metrics = once(rate, 1)
        if not ok and not client_bound(metrics):  # noise only makes a step worse: try again
            ok, metrics = once(rate, 2)
        if not ok and client_bound(metrics):
            client_failed.add(rate)
        return ok

    rate = search.start
    best, failed = 0.0, None
    for _ in range(limit):
        if not step(rate):
            failed = rate
            break
        best, rate = rate, _two_digits(rate * factor)
    # Not even the start rate held (a loaded machine, or a bound below the fan-out's floor):
    # step down until one does, a few times.
    for _ in range(0 if best else DOWN_STEPS):
        rate = _two_digits(rate / factor**2)
        if rate < MIN_RATE:
            break
        if step(rate):
            best = rate
            break
        failed = rate
    low, high = best, failed
    for _ in range(refine if high is not None and low else 0):
        assert high is not None
        middle = _between(low, high)
        if middle in (low, high):
            break
        if step(middle):
            low = middle
        else:
            high = middle
    at_best = next((s["metrics"] for s in steps if s["rate"] == low and s["held"]), None)
    lowest = min(steps, key=lambda s: (s["rate"], s["metrics"]["latency_us"].get("p99", 1e18)))
    return {
        "best_rate": low,
        "first_failed": high,
        "at_best": at_best,
        "limit": "client" if high in client_failed else None,
        # the p99 at the lowest rate tried: the latency floor when nothing held
        "floor_p99_ms": (lowest["metrics"]["latency_us"] or {}).get("p99", math.inf) / 1e3,
        "floor_rate": lowest["rate"],
        "steps": steps,
    }


def step_options(options: argparse.Namespace) -> argparse.Namespace:
    """The run options of one step: at least `WARMUP_S` of warm-up, `MEASURE_S` measured."""
    measured = options.duration if options.duration is not None else 0.0
    return argparse.Namespace(
        **{
            **vars(options),
            "warmup": max(options.warmup, WARMUP_S),
            "duration": max(measured, MEASURE_S if options.quick else 2 * MEASURE_S),
        }
    )


def run_search(
    search: Search, binary: Path, options: argparse.Namespace, run_one: RunOne
) -> dict[str, Any]:
    """Search every variant of `search`; returns the result document."""
    found = {}
    scenario = Scenario(search.name, search.conns, ())
    per_step = step_options(options)
    for label, make in search.variants.items():

        def probe(rate: float, make: Callable[[float], Variant] = make) -> dict[str, Any]:
            return run_one(scenario, make(rate), binary, per_step)

        found[label] = search_rate(search, label, probe, quick=options.quick)
    return {
        "scenario": search.name,
        "connections": search.conns,
        "quick": options.quick,
        "warmup_s": per_step.warmup,
        "duration_s": per_step.duration,
        "machine": report.machine(),
        "bound_p99_ms": search.p99_ms,
        "searches": found,
        "table": table_rows(search, found),
        "checks": [c._asdict() | {"met": c.verdict == "MET"} for c in checks(search, found)],
    }


def _client_note(result: dict[str, Any]) -> str:
    return "; the load generator was the limit above it" if result["limit"] == "client" else ""


def checks(search: Search, found: dict[str, dict[str, Any]]) -> list[Check]:
    ours = found["tickgate"]
    if search.target is not None:
        target = f"p99 < {search.p99_ms:g} ms at >= {search.target:,.0f} ticks/s"
        measured = f"held up to {ours['best_rate']:,.0f} ticks/s{_client_note(ours)}"
        if ours["best_rate"] < search.target and ours["limit"] == "client":
            return [Check(target, f"{INCONCLUSIVE} (client-bound)", measured)]
        return [judged(target, ours["best_rate"] >= search.target, measured)]
    theirs = found["nats-server"]
    target = f"rate held at p99 < {search.p99_ms:g} ms >= nats-server's"
    if not ours["best_rate"] and not theirs["best_rate"]:
        # Neither held the bound at any rate tried: "0 >= 0" would pass without measuring.
        floors = ", ".join(
            f"{label} p99 {result['floor_p99_ms']:.2f} ms at {result['floor_rate']:,.0f}/s"
            for label, result in found.items()
        )
        return [
            Check(target, f"{INCONCLUSIVE} (no rate held for either server)", f"floors: {floors}")
        ]
    measured = (
        f"tickgate {ours['best_rate']:,.0f}/s{_client_note(ours)}, "
        f"nats-server {theirs['best_rate']:,.0f}/s{_client_note(theirs)}"
    )
    if ours["best_rate"] < theirs["best_rate"] and ours["limit"] == "client":
        return [Check(target, f"{INCONCLUSIVE} (client-bound)", measured)]
    return [judged(target, ours["best_rate"] >= theirs["best_rate"], measured)]


def table_rows(search: Search, found: dict[str, dict[str, Any]]) -> list[str]:
    """Table rows: each variant at the highest rate that held (the metrics of that step)."""
    rows = []
    for label, result in found.items():
        metrics = result["at_best"]
        name = f"{search.name}"
        failed = result["first_failed"]
        why = next(
            (s["why"] for s in reversed(result["steps"]) if s["rate"] == failed and not s["held"]),
            "",
        )
        after = f"; failed @{failed:,.0f}/s: {why}" if failed is not None else ""
        if result["limit"] == "client":
            after += " (client-bound)"
        if metrics is None:
            rows.append(
                f"{name:<23} {label:<19} nothing held, down to {result['floor_rate']:,.0f}/s "
                f"(p99 {result['floor_p99_ms']:.2f} ms there){after}"
            )
            continue
        summary = {label: metrics}
        (row,) = report.table_rows(name, summary, label)
        rows.append(f"{row}  @{result['best_rate']:,.0f}/s{after}")
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
