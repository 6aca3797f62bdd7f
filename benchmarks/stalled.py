"""Evidence for the slow-consumer memory bound: where the stalled client's backlog sits, whether
its connection reached the outbox limit (conflated or closed), and whether the server's memory
stopped growing once it did.

A stalled reader with a small SO_RCVBUF first fills the kernel's buffers (its receive buffer and
the server's send queue), then the transport's write buffer; above the outbox's high-water mark
the gateway stops writing and conflates market data per conid, so from then on the server's
memory should stay flat while an unbounded queue would grow by everything sent to that client.
"""

from __future__ import annotations

import statistics
from typing import Any

from checks import Check, judged
from procs import LoadResult

KB = 1024


def stalled_metrics(result: LoadResult, watch: dict[str, Any]) -> dict[str, Any]:
    """The readings of the first stalled connection of one run, matched by its client port.

    Empty when the run stalled no connection. Times are seconds since the feed started.
    """
    ports = result.loadgen.get("stalled_ports") or []
    if not ports:
        return {}
    seen = watch.get(str(ports[0]))
    if seen is None:  # gone before the first sample
        return {"seen": 0, "closed": 1, "conflated": 0}
    closed_s = seen["closed_s"]
    metrics: dict[str, Any] = {
        "seen": 1,
        "conflated": seen["conflated"],
        "closed": int(closed_s is not None and closed_s < result.measure_window_s[1]),
        "max_held_kb": seen["max_held"] / KB,
        "max_outbox_pending_kb": seen["max_outbox_pending"] / KB,
        "max_transport_buffer_kb": seen["max_transport_buffer"] / KB,
        "max_kernel_queue_kb": seen["max_kernel_queue"] / KB,
    }
    since = seen["first_conflated_s"]
    series = result.rss_series_kb
    if since is not None and series:
        after = [kb for t, kb in series if t >= since]
        observed = series[-1][0] - since
        metrics["first_conflated_s"] = since
        metrics["observed_after_s"] = observed
        metrics["rss_growth_after_kb"] = (max(after) - after[0]) if after else 0
        metrics["unbounded_backlog_kb"] = _per_client_rate(result) * observed / KB
    return metrics


def _per_client_rate(result: LoadResult) -> float:
    """Bytes per second each reading client received in the measured window."""
    lg = result.loadgen
    readers: int = max(int(lg["opened"]) - len(lg.get("stalled_ports") or []), 1)
    return float(lg["bytes"]) / float(lg["duration_s"]) / readers


def memory_check(runs: list[dict[str, Any]], limit: int) -> Check:
    """MET when, in every run, the stalled connection reached the outbox limit (conflated or was
    closed), the bytes the gateway held for it never exceeded `limit` and the server's RSS grew by
    at most `limit` after that (median over runs: a stall of the whole process, seen in long runs
    with and without a stalled client, makes RSS jump by a few MB once in a while); INCONCLUSIVE
    when some run never reached the limit (the backlog stayed in kernel buffers); else MISS."""
    target = "memory bounded by outbox limit"
    stalled = [run.get("stalled") or {} for run in runs]
    reached = [s for s in stalled if s.get("conflated", 0) > 0 or s.get("closed", 0)]
    if len(reached) < len(stalled):
        queue = max(s.get("max_kernel_queue_kb", 0.0) for s in stalled)
        return Check(
            target,
            f"INCONCLUSIVE (outbox limit reached in {len(reached)}/{len(stalled)} runs)",
            f"kernel send queue up to {queue:.0f} KB",
        )
    held = max(s.get("max_held_kb", 0.0) for s in reached)
    queue = max(s.get("max_kernel_queue_kb", 0.0) for s in reached)
    growths = [s.get("rss_growth_after_kb", 0) for s in reached]
    growth = statistics.median(growths)
    after = min(s.get("observed_after_s", 0.0) for s in reached)
    unbounded = min(s.get("unbounded_backlog_kb", 0.0) for s in reached)
    closed = sum(s.get("closed", 0) for s in reached)
    conflated = min(s.get("conflated", 0) for s in reached)
    measured = (
        f"{len(reached)}/{len(stalled)} runs hit the limit ({closed} closed, >= {conflated} "
        f"merges); held <= {held:.0f} KB, kernel send queue <= {queue:.0f} KB; RSS "
        f"+{growth:.0f} KB (median of {growths}) in the {after:.1f} s after "
        f"(unbounded queue: +{unbounded:.0f} KB)"
    )
    ok = held * KB <= limit and growth * KB <= limit
    return judged(target, ok, f"{measured}; limit {limit // KB} KB")
