"""The benchmark scenarios of issue 6 and the targets each is checked against.

A scenario is a set of variants run back to back in the same invocation (so ratios compare like
with like): the gateway, the references, or the gateway under a different condition. Each variant
names the server to start and the load generator's arguments.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from feeds import BENCH_FIELDS, FIREHOSE_CONID

FIELDS_TEXT = ",".join(str(f) for f in BENCH_FIELDS)
SUBSCRIBE = 's+md+{conid}+{{"fields":"{fields}","tempo":{tempo}}}'
SLOW_OUTBOX_LIMIT = 1 << 20
#: median summary per variant label -> list of (check, passed, detail)
Checker = Callable[[dict[str, dict[str, Any]]], list[tuple[str, bool, str]]]


def subscribe(conid: int, *, tempo: int = 0) -> str:
    """The seed-dialect subscription to the five benchmark fields of `conid`."""
    return SUBSCRIBE.format(conid=conid, fields=FIELDS_TEXT, tempo=tempo)


@dataclass(frozen=True)
class Variant:
    """One server configuration under load. `server` is tickgate, plain or nats."""

    label: str
    server: str
    server_args: tuple[str, ...] = ()
    loadgen_args: tuple[str, ...] = ()
    #: per-connection subscription lines, built once the server has announced its conids
    subs: Callable[[Sequence[int], int], list[str]] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    conns: int
    variants: tuple[Variant, ...]
    checks: Checker = field(default=lambda summary: [])
    hold_s: float | None = None  # measurement window override (connections scenario)


#: Experiment, not the shipped gateway: the GC's full scans of every connection's objects are the
#: first cost in the profiles; this variant freezes start-up objects and raises the gen-0 threshold.
GC_TUNED = ("--gc-threshold", "100000")


def _firehose_variants(conns: int) -> tuple[Variant, ...]:
    sub = ("--sub", subscribe(FIREHOSE_CONID))
    nats = ("--mode", "nats", "--path", "/", "--subject", f"md.{FIREHOSE_CONID}")
    tuned = (Variant("tickgate+gc-tuned", "tickgate", ("--feed", "firehose", *GC_TUNED), sub),)
    return (
        Variant("tickgate", "tickgate", ("--feed", "firehose"), sub),
        *(tuned if conns == 100 else ()),
        Variant("plain-aiohttp", "plain", (), sub),
        Variant("nats-server", "nats", (), (*nats, "--pub", "NATS")),
    )


def _firehose_checks(summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    ours = summary["tickgate"]["frames_per_s"]
    best = max(summary["plain-aiohttp"]["frames_per_s"], summary["nats-server"]["frames_per_s"])
    tuned = summary.get("tickgate+gc-tuned", {}).get("frames_per_s", 0.0)
    return [
        (">= 2 M frames/s", ours >= 2e6, f"{ours / 1e6:.2f} M/s"),
        (
            ">= 60% of fastest reference",
            ours >= 0.6 * best,
            f"{ours / best:.0%} of {best / 1e6:.2f} M/s",
        ),
        ("(experiment) gc-tuned >= 2 M frames/s", tuned >= 2e6, f"{tuned / 1e6:.2f} M/s"),
    ]


def _realistic_subs(tempo: int) -> Callable[[Sequence[int], int], list[str]]:
    def build(conids: Sequence[int], conns: int) -> list[str]:
        rng = random.Random(6)
        return [
            "|".join(subscribe(c, tempo=tempo) for c in rng.sample(list(conids), 20))
            for _ in range(conns)
        ]

    return build


def _realistic_checks(tempo: int) -> Checker:
    def check(summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
        ours = summary["tickgate"]
        p99_ms = ours["latency_us"]["p99"] / 1e3
        limit = tempo + 15
        checks = [(f"p99 < {limit} ms", p99_ms < limit, f"p99 {p99_ms:.1f} ms")]
        if tempo == 0:
            lost, reordered = ours["seq"]["lost"], ours["seq"]["reordered"]
            checks.append(
                (
                    "no loss, no reorder",
                    lost == 0 and reordered == 0,
                    f"lost {lost}, reordered {reordered}",
                )
            )
        else:
            reordered = ours["seq"]["reordered"]
            checks.append(("no reorder", reordered == 0, f"reordered {reordered}"))
        return checks

    return check


def _realistic(tempo: int) -> Scenario:
    server = ("--feed", "paced", "--rate", "20000", "--instruments", "500")
    variant = Variant("tickgate", "tickgate", server, (), subs=_realistic_subs(tempo))
    tuned = Variant(
        "tickgate+gc-tuned", "tickgate", (*server, *GC_TUNED), subs=_realistic_subs(tempo)
    )
    variants = (variant, tuned) if tempo == 0 else (variant,)
    return Scenario(f"realistic-tempo{tempo}", 1000, variants, _realistic_checks(tempo))


def _one_each(conids: Sequence[int], conns: int) -> list[str]:
    return [subscribe(conids[i % len(conids)]) for i in range(conns)]


def _connections_checks(summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    ours = summary["tickgate"]
    kb = ours["rss_per_conn_kb"]
    return [("< 30 KB per connection", kb < 30, f"{kb:.1f} KB, all in {ours['connect_s']:.2f} s")]


def _connections() -> Scenario:
    idle_subject = ("--mode", "nats", "--path", "/", "--subject", f"md.{FIREHOSE_CONID}")
    return Scenario(
        "connections-10k",
        10_000,
        (
            Variant(
                "tickgate",
                "tickgate",
                ("--feed", "paced", "--rate", "1000", "--instruments", "500"),
                subs=_one_each,
            ),
            Variant("plain-aiohttp", "plain", ("--idle",), ("--sub", subscribe(FIREHOSE_CONID))),
            Variant("nats-server", "nats", (), idle_subject),
        ),
        _connections_checks,
    )


def _slow_subs(conids: Sequence[int], conns: int) -> list[str]:
    return ["|".join(subscribe(c) for c in conids) for _ in range(conns)]


def _slow_checks(summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    base, slow = summary["tickgate"], summary["tickgate+1-stalled"]
    ratio = slow["latency_us"]["p99"] / max(base["latency_us"]["p99"], 1e-9)
    grown_kb = slow["peak_rss_kb"] - base["peak_rss_kb"]
    return [
        (
            "others' p99 within 20%",
            ratio <= 1.2,
            f"p99 x{ratio:.2f} ({slow['latency_us']['p99'] / 1e3:.2f} ms)",
        ),
        (
            "memory bounded by outbox limit",
            grown_kb * 1024 <= SLOW_OUTBOX_LIMIT,
            f"peak RSS +{grown_kb} KB (limit {SLOW_OUTBOX_LIMIT // 1024} KB)",
        ),
    ]


def _slow_consumer() -> Scenario:
    server = (
        "--feed",
        "paced",
        "--rate",
        "2000",
        "--instruments",
        "10",
        "--outbox-limit",
        str(SLOW_OUTBOX_LIMIT),
    )
    return Scenario(
        "slow-consumer",
        100,
        (
            Variant("tickgate", "tickgate", server, subs=_slow_subs),
            Variant("tickgate+1-stalled", "tickgate", server, ("--stall", "1"), subs=_slow_subs),
        ),
        _slow_checks,
    )


def _tls_checks(summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    tls, plain = summary["tickgate-tls"]["frames_per_s"], summary["tickgate"]["frames_per_s"]
    return [(">= 50% of plain", tls >= 0.5 * plain, f"{tls / plain:.0%} ({tls / 1e6:.2f} M/s)")]


def _tls() -> Scenario:
    sub = ("--sub", subscribe(FIREHOSE_CONID))
    return Scenario(
        "tls-firehose-100",
        100,
        (
            Variant("tickgate", "tickgate", ("--feed", "firehose"), sub),
            Variant(
                "tickgate-tls", "tickgate", ("--feed", "firehose", "--tls"), (*sub, "--tls", "1")
            ),
        ),
        _tls_checks,
    )


def all_scenarios() -> list[Scenario]:
    """Every scenario, in the order they run."""
    firehose = [
        Scenario(
            f"firehose-{c}",
            c,
            _firehose_variants(c),
            _firehose_checks if c == 100 else lambda s: [],
        )
        for c in (1, 10, 100, 1000)
    ]
    return [*firehose, _realistic(0), _realistic(500), _connections(), _slow_consumer(), _tls()]
