"""The benchmark scenarios of issue 6 and the targets each is checked against.

A scenario is a set of variants run back to back in the same invocation (so ratios compare like
with like): the gateway, the references, or the gateway under a different condition. Each variant
names the server to start and the load generator's arguments.

Firehose clients parse one message in `PARSE_EVERY` (all are framed and counted): parsing every
message cost the client more CPU per frame than nats-server spends, so with the client on the
other core the reference ran at ~70% of its core, below its ceiling. The gateway's own firehose
runs are server-bound either way; realistic and slow-consumer runs parse every message (they
check loss and order).
"""

from __future__ import annotations

import random
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from checks import INCONCLUSIVE, Check, Checker, Runs, Summary, judged, ratio_to_fastest
from feeds import BENCH_FIELDS, FIREHOSE_CONID
from stalled import memory_check

FIELDS_TEXT = ",".join(str(f) for f in BENCH_FIELDS)
SUBSCRIBE = 's+md+{conid}+{{"fields":"{fields}","tempo":{tempo}}}'
SLOW_OUTBOX_LIMIT = 1 << 20
#: the stalled client's receive buffer: small, so its backlog cannot hide on the client side
STALLED_RCVBUF = 4096
PARSE_EVERY = 16


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
    checks: Checker = field(default=lambda summary, runs: [])
    #: seconds measured in a full (not --quick) run, when the default is too short
    duration_s: float | None = None
    #: sample the server's RSS over time and what it holds per connection (watch.py)
    watch: bool = False


#: Experiment, not the shipped gateway: the GC's full scans of every connection's objects are the
#: first cost in the profiles; this variant freezes start-up objects and raises the gen-0 threshold.
GC_TUNED = ("--gc-threshold", "100000")


def _firehose_variants(conns: int) -> tuple[Variant, ...]:
    sub = ("--sub", subscribe(FIREHOSE_CONID), "--parse-every", str(PARSE_EVERY))
    # The publisher's window grows with the fan-out, so 1000 subscribers do not starve nats.
    window = str(max(4096, 16 * conns))
    nats = (
        *("--mode", "nats", "--path", "/", "--subject", f"md.{FIREHOSE_CONID}"),
        *("--parse-every", str(PARSE_EVERY), "--pub-window", window),
    )
    tuned = (Variant("tickgate+gc-tuned", "tickgate", ("--feed", "firehose", *GC_TUNED), sub),)
    return (
        Variant("tickgate", "tickgate", ("--feed", "firehose"), sub),
        *(tuned if conns == 100 else ()),
        Variant("plain-aiohttp", "plain", (), sub),
        Variant("nats-server", "nats", (), (*nats, "--pub", "NATS")),
    )


def _firehose_checks(summary: Summary, runs: Runs) -> list[Check]:
    ours = summary["tickgate"]["frames_per_s"]
    tuned = summary.get("tickgate+gc-tuned", {}).get("frames_per_s", 0.0)
    return [
        judged(">= 2 M frames/s", ours >= 2e6, f"{ours / 1e6:.2f} M/s"),
        *ratio_to_fastest(summary, "tickgate", ("plain-aiohttp", "nats-server"), share=0.6),
        judged("(experiment) gc-tuned >= 2 M frames/s", tuned >= 2e6, f"{tuned / 1e6:.2f} M/s"),
    ]


def realistic_subs(tempo: int) -> Callable[[Sequence[int], int], list[str]]:
    def build(conids: Sequence[int], conns: int) -> list[str]:
        rng = random.Random(6)
        return [
            "|".join(subscribe(c, tempo=tempo) for c in rng.sample(list(conids), 20))
            for _ in range(conns)
        ]

    return build


def _realistic_checks(tempo: int) -> Checker:
    def check(summary: Summary, runs: Runs) -> list[Check]:
        ours = summary["tickgate"]
        p99_ms = ours["latency_us"]["p99"] / 1e3
        limit = tempo + 15
        checks = [judged(f"p99 < {limit} ms", p99_ms < limit, f"p99 {p99_ms:.1f} ms")]
        if tempo == 0:
            lost, reordered = ours["seq"]["lost"], ours["seq"]["reordered"]
            checks.append(
                judged(
                    "no loss, no reorder",
                    lost == 0 and reordered == 0,
                    f"lost {lost}, reordered {reordered}",
                )
            )
        else:
            reordered = ours["seq"]["reordered"]
            checks.append(judged("no reorder", reordered == 0, f"reordered {reordered}"))
        return checks

    return check


def _realistic(tempo: int) -> Scenario:
    server = ("--feed", "paced", "--rate", "20000", "--instruments", "500")
    variant = Variant("tickgate", "tickgate", server, (), subs=realistic_subs(tempo))
    tuned = Variant(
        "tickgate+gc-tuned", "tickgate", (*server, *GC_TUNED), subs=realistic_subs(tempo)
    )
    variants = (variant, tuned) if tempo == 0 else (variant,)
    return Scenario(f"realistic-tempo{tempo}", 1000, variants, _realistic_checks(tempo))


def _one_each(conids: Sequence[int], conns: int) -> list[str]:
    return [subscribe(conids[i % len(conids)]) for i in range(conns)]


def _connections_checks(summary: Summary, runs: Runs) -> list[Check]:
    ours = summary["tickgate"]
    kb = ours["rss_per_conn_kb"]
    measured = f"{kb:.1f} KB, all in {ours['connect_s']:.2f} s"
    return [judged("< 12 KB per connection", kb < 12, measured)]


#: 100,000 sockets need more ephemeral ports than one loopback address has (~28k).
SOURCE_ADDRESSES = 8
#: Few conids, so that in a short window every one of them ticks (every client gets a frame).
IDLE_INSTRUMENTS = 50
IDLE_WANTED = 100_000
#: Open files a process keeps for other things than its client sockets.
FD_RESERVE = 1_000


def idle_connections() -> int:
    """How many of the 100,000 sockets this process may open: the open-files hard limit caps it
    (`run.py` raises it where it may; without CAP_SYS_RESOURCE it cannot be raised)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return IDLE_WANTED
    return max(1, min(IDLE_WANTED, hard - FD_RESERVE))


def _idle_checks(summary: Summary, runs: Runs) -> list[Check]:
    ours = summary["tickgate"]
    opened, still = ours["opened"], ours["open_at_end"]
    conns = idle_connections()
    least = ours["per_conn_frames_min"]
    if conns < IDLE_WANTED:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        capped = Check(
            f"{IDLE_WANTED:,} connections",
            f"{INCONCLUSIVE} (open-files hard limit {hard:,}: ran {conns:,})",
            f"{opened:,.0f} opened",
        )
    else:
        capped = judged(f"{IDLE_WANTED:,} connections", opened == IDLE_WANTED, f"{opened:,.0f}")
    return [
        capped,
        judged(
            f"all {conns:,} connected and open",
            opened == conns and still == conns,
            f"{opened:,.0f} opened in {ours['connect_s']:.1f} s, {still:,.0f} open at the end",
        ),
        judged("a tick reaches every subscriber", least >= 1, f"fewest frames per client: {least}"),
        judged(
            "(reported) memory per connection",
            True,
            f"{ours['rss_per_conn_kb']:.1f} KB, peak {ours['peak_rss_kb'] / 1024:.0f} MB",
        ),
    ]


def _idle_100k() -> Scenario:
    server = ("--feed", "paced", "--rate", "1000", "--instruments", str(IDLE_INSTRUMENTS))
    spread = ("--sources", str(SOURCE_ADDRESSES), "--inflight", "200")
    return Scenario(
        "connections-100k",
        idle_connections(),
        (Variant("tickgate", "tickgate", server, spread, subs=_one_each),),
        _idle_checks,
    )


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


def _slow_checks(summary: Summary, runs: Runs) -> list[Check]:
    base, slow = summary["tickgate"], summary["tickgate+1-stalled"]
    ratio = slow["latency_us"]["p99"] / max(base["latency_us"]["p99"], 1e-9)
    return [
        judged(
            "others' p99 within 20%",
            ratio <= 1.2,
            f"p99 x{ratio:.2f} ({slow['latency_us']['p99'] / 1e3:.2f} ms)",
        ),
        memory_check(runs["tickgate+1-stalled"], SLOW_OUTBOX_LIMIT),
    ]


#: Long enough for the stalled connection's backlog (~190 KB/s) to fill the server's kernel send
#: queue (~2.9 MB on loopback, autotuned) and the transport buffer (~16 s), then to show ~10 s of
#: conflation, in which an unbounded queue would grow by ~2 MB.
SLOW_DURATION_S = 26.0


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
    stall = ("--stall", "1", "--stall-rcvbuf", str(STALLED_RCVBUF))
    return Scenario(
        "slow-consumer",
        100,
        (
            Variant("tickgate", "tickgate", server, subs=_slow_subs),
            Variant("tickgate+1-stalled", "tickgate", server, stall, subs=_slow_subs),
        ),
        _slow_checks,
        duration_s=SLOW_DURATION_S,
        watch=True,
    )


def _tls_checks(summary: Summary, runs: Runs) -> list[Check]:
    tls, plain = summary["tickgate-tls"]["frames_per_s"], summary["tickgate"]["frames_per_s"]
    measured = f"{tls / plain:.0%} ({tls / 1e6:.2f} M/s)"
    return [judged(">= 50% of plain", tls >= 0.5 * plain, measured)]


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
            _firehose_checks if c == 100 else lambda summary, runs: [],
        )
        for c in (1, 10, 100, 1000)
    ]
    return [
        *firehose,
        _realistic(0),
        _realistic(500),
        _connections(),
        _idle_100k(),
        _slow_consumer(),
        _tls(),
    ]
