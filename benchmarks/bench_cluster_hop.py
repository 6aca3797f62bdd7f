"""What the hop through an edge costs: `tickgate serve --workers 1` (a core, one edge and a
nats-server, real processes), one portal client on the core and one on the edge, streaming the
same conids.

Run: ``PYTHONPATH=src python benchmarks/bench_cluster_hop.py [--seconds 20] [--conids 5]``
(needs ``pip install 'tickgate[cluster]'``).

Both clients live in this process and stamp each frame with the monotonic clock on arrival.
The edge's frames are, after its first (the image), a run of the core client's frames (see
tests/cluster); matching them in order gives, per frame, how much later it reached the edge's
client than the core's: the bus hop (publish, NATS, follow, the edge's engine and hub) minus
nothing else, since both gateways render the same frame. Also measured: how long a client on
the edge waits for its first frame of a conid nobody on the edge streamed before (subscribe,
image from the core, stitch), and the supervisor's start-up time.

Prints one JSON object. On a shared 2-core machine the numbers are a rough guide.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

CONIDS = [265598, 272093, 8314, 756733, 76792991, 4815747, 107113386, 15124833]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def stream(
    http: aiohttp.ClientSession, base: str, conids: list[int], out: dict[int, list[Any]]
) -> None:
    async with http.get(base + "/v1/api/iserver/accounts") as response:
        assert response.status == 200
    ws_base = base.replace("http://", "ws://")
    async with http.ws_connect(ws_base + "/v1/portal/ws") as ws:
        for conid in conids:
            await ws.send_str(f's+md+{conid}+{{"fields":"31,84,86,85,88"}}')
        async for message in ws:
            frame = json.loads(message.data)
            topic = frame.get("topic", "")
            if topic.startswith("md+") and "error" not in frame:
                out[int(topic[3:])].append((time.monotonic(), frame))


def hops(core: list[Any], edge: list[Any]) -> list[float]:
    """Per edge frame after the image, its arrival minus the same core frame's."""
    frames = [frame for _, frame in core]
    found: list[float] = []
    position = 0
    for at, frame in edge[1:]:
        try:
            index = frames.index(frame, position)
        except ValueError:
            continue
        found.append(at - core[index][0])
        position = index + 1
    return found


async def first_frame_wait(http: aiohttp.ClientSession, base: str, conid: int) -> float:
    ws_base = base.replace("http://", "ws://")
    async with http.ws_connect(ws_base + "/v1/portal/ws") as ws:
        started = time.monotonic()
        await ws.send_str(f's+md+{conid}+{{"fields":"31,84,86"}}')
        async for message in ws:
            if json.loads(message.data).get("topic") == f"md+{conid}":
                return time.monotonic() - started
    raise RuntimeError("no frame")


async def measure(
    edge_url: str, core_url: str, seconds: float, conids: list[int]
) -> dict[str, Any]:
    core_frames: dict[int, list[Any]] = {c: [] for c in conids}
    edge_frames: dict[int, list[Any]] = {c: [] for c in conids}
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [
            asyncio.create_task(stream(http, core_url, conids, core_frames)),
            asyncio.create_task(stream(http, edge_url, conids, edge_frames)),
        ]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        waits = [await first_frame_wait(http, edge_url, conid) for conid in CONIDS[len(conids) :]]
    delays = [d for c in conids for d in hops(core_frames[c], edge_frames[c])]
    return {
        "frames_core": sum(len(v) for v in core_frames.values()),
        "frames_edge": sum(len(v) for v in edge_frames.values()),
        "frames_matched": len(delays),
        "hop_ms_p50": round(pct(delays, 0.5) * 1e3, 2),
        "hop_ms_p99": round(pct(delays, 0.99) * 1e3, 2),
        "hop_ms_mean": round(statistics.fmean(delays) * 1e3, 2) if delays else None,
        "first_frame_on_edge_ms": [round(w * 1e3, 1) for w in waits],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--conids", type=int, default=5)
    parser.add_argument("--ticks-per-second", type=float, default=2000.0)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="tickgate-hop-"))
    argv = [
        sys.executable, "-m", "tickgate", "--no-tls", "--port", "0", "--workers", "1",
        "--data-dir", str(data), "--log-level", "warning",
        "--ticks-per-second", str(args.ticks_per_second),
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout is not None
    edge_url = core_url = None
    for line in proc.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        edge_url = edge_url or (match.group(1) if match else None)
        workers = re.search(r"a core at (http://\S+),", line)
        if workers:
            core_url = workers.group(1)
            break
    startup = time.monotonic() - started
    try:
        assert edge_url and core_url, "the supervisor did not start"
        result = asyncio.run(measure(edge_url, core_url, args.seconds, CONIDS[: args.conids]))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    result["workers_1_startup_s"] = round(startup, 2)
    result["ticks_per_second"] = args.ticks_per_second
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
