"""One relay in front of one upstream: the lines it costs the upstream, the latency of its hop
and its CPU per delivered frame, each against a client reading the upstream directly.

Run: ``PYTHONPATH=src python benchmarks/bench_relay.py [--clients 1000] [--conids 20]
[--seconds 20] [--json PATH] [--profile PATH]``.

Starts two real gateway processes on 127.0.0.1 (plain HTTP): an upstream tickgate (the
simulator) and a relay (`--source relay --upstream ...`) in front of it. `--clients` clients
connect to the relay, every other one on the portal dialect, spread over `--conids`
instruments (fields 31, 84, 86), and one api client per conid reads the upstream directly.

It prints, all from the same run (the machine may be shared: compare within a run):
- the upstream's market-data lines: the relay must cost exactly one per conid;
- the relay hop: for each value of field 31 seen by a direct client and by a timed relay
  client of the same conid (one per dialect and conid), the time from the direct arrival to
  the relayed arrival, p50/p99, per dialect, on this process's monotonic clock;
- CPU per delivered frame: each server's CPU time over the window divided by the WebSocket
  frames it wrote (`tickgate_frames_sent`), the relay's beside the upstream's.

`--profile PATH` samples the relay with py-spy during the window and writes a per-function
summary there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from procs import cpu_seconds
from profiling import Recording

from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.model.instruments import SecType

FIELDS = '{"fields":["31","84","86"]}'
#: Arrivals of one value further apart than this are a price that came back, not one frame.
MATCH_WINDOW_NS = 1_000_000_000
FRAMES_SENT = re.compile(r"^tickgate_frames_sent(?:_total)? (\S+)$", re.M)


def launch(data_dir: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """A gateway process and its base URL, read from its banner."""
    env = {**os.environ, "TICKGATE_DATA_DIR": str(data_dir), "TICKGATE_LOG_LEVEL": "warning"}
    argv = [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--store", "memory"]
    proc = subprocess.Popen(
        [*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdout is not None
    for _ in range(12):
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
        if match:
            return proc, match.group(1)
    proc.kill()
    raise SystemExit("a gateway did not announce its address")


@dataclass
class Timing:
    """Arrivals of each (conid, value of 31) directly and through the relay, and the hops.

    Both kinds of readers share this process's event loop, so a relayed copy may be read
    before its direct one: each arrival is matched with the other side's latest arrival of
    the same value within `MATCH_WINDOW_NS`, whichever came first (a hop may be negative)."""

    direct: dict[tuple[int, str], int] = field(default_factory=dict)
    relayed: dict[str, dict[tuple[int, str], int]] = field(
        default_factory=lambda: {"api": {}, "portal": {}}
    )
    hops: dict[str, list[int]] = field(default_factory=lambda: {"api": [], "portal": []})

    def direct_arrival(self, key: tuple[int, str], now: int) -> None:
        self.direct[key] = now
        for dialect, early in self.relayed.items():
            at = early.pop(key, None)
            if at is not None and now - at < MATCH_WINDOW_NS:
                self.hops[dialect].append(at - now)

    def relayed_arrival(self, dialect: str, key: tuple[int, str], now: int) -> None:
        at = self.direct.get(key)
        if at is not None and now - at < MATCH_WINDOW_NS:
            self.hops[dialect].append(now - at)
        else:
            self.relayed[dialect][key] = now


async def client(
    http: aiohttp.ClientSession,
    base: str,
    conid: int,
    timing: Timing | None,
    ready: asyncio.Event,
    stop: asyncio.Event,
    *,
    direct: bool = False,
    portal: bool = False,
) -> None:
    """One client streaming `conid`. A `direct` client records when each value of field 31
    arrived; a relay client given `timing` records how much later it got it (one without
    only reads, as load)."""
    await (await http.get(base + "/v1/api/iserver/accounts")).read()
    tickle = await (await http.post(base + "/v1/api/tickle")).json()
    ws_url = base.replace("http", "ws", 1) + ("/v1/portal/ws" if portal else "/v1/api/ws")
    dialect = "portal" if portal else "api"
    async with http.ws_connect(ws_url) as ws:
        if portal:
            await ws.send_str(f's+md+{conid}+{{"fields":"31,84,86"}}')
        else:
            await ws.send_str(orjson.dumps({"session": tickle["session"]}).decode())
            await ws.send_str(f"smd+{conid}+{FIELDS}")
        ready.set()
        topic = f"md+{conid}" if portal else f"smd+{conid}"
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.receive(), 0.5)
            except TimeoutError:
                continue
            if message.type is not aiohttp.WSMsgType.TEXT:
                return
            if timing is None:
                continue
            now = time.monotonic_ns()
            frame = orjson.loads(message.data)
            last = frame.get("31") if frame.get("topic") == topic else None
            if last is None:
                continue
            key = (conid, str(last).lstrip("C"))
            if direct:
                timing.direct_arrival(key, now)
            else:
                timing.relayed_arrival(dialect, key, now)


def record(pid: int, summary: Path) -> Recording:
    """py-spy sampling process `pid` (100 Hz, not pausing it); `finish` writes the summary."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = summary.with_suffix(".raw")
    command = [binary, "record", "--pid", str(pid), "--rate", "100", "--nonblocking"]
    command += ["--format", "raw", "--output", str(raw)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(proc, raw, summary)


async def frames_sent(http: aiohttp.ClientSession, base: str) -> float:
    async with http.get(base + "/metrics") as response:
        match = FRAMES_SENT.search(await response.text())
    return float(match.group(1)) if match else 0.0


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] / 1e6


async def measure(
    upstream: tuple[int, str],
    relay: tuple[int, str],
    clients: int,
    conids: list[int],
    seconds: float,
    profile: Path | None,
) -> dict[str, Any]:
    (up_pid, up_base), (relay_pid, relay_base) = upstream, relay
    timing = Timing()
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = []

        async def add(base: str, conid: int, timed: bool, **kind: bool) -> None:
            ready = asyncio.Event()
            chosen = timing if timed else None
            tasks.append(
                asyncio.create_task(client(http, base, conid, chosen, ready, stop, **kind))
            )
            await ready.wait()

        for conid in conids:  # direct readers first, so they are listening before the relay
            await add(up_base, conid, True, direct=True)
        for i in range(clients):
            # The first two clients of each conid (one per dialect) time the hop; the rest
            # are the load.
            await add(relay_base, conids[i % len(conids)], i < 2 * len(conids), portal=i % 2 == 1)
        await asyncio.sleep(2.0)  # every first frame delivered: the window is steady state
        for hops in timing.hops.values():
            hops.clear()
        recording = None if profile is None else record(relay_pid, profile)
        cpu0 = {pid: cpu_seconds(pid) for pid in (up_pid, relay_pid)}
        sent0 = {base: await frames_sent(http, base) for base in (up_base, relay_base)}
        await asyncio.sleep(seconds)
        cpu = {pid: cpu_seconds(pid) - cpu0[pid] for pid in (up_pid, relay_pid)}
        sent = {base: await frames_sent(http, base) - sent0[base] for base in sent0}
        status = await (await http.get(up_base + "/tickgate/status")).json()
        relay_status = await (await http.get(relay_base + "/tickgate/status")).json()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if recording is not None:
            recording.finish()
    result: dict[str, Any] = {
        "clients": clients,
        "conids": len(conids),
        "seconds": seconds,
        "upstreamLines": status["marketDataLines"],
        "relayLines": relay_status["relay"]["lines"],
        "reconnects": relay_status["relay"]["reconnects"],
        "hopMs": {
            dialect: {
                "values": len(hops),
                "p50": statistics.median(hops) / 1e6 if hops else None,
                "p99": percentile(hops, 0.99) if hops else None,
            }
            for dialect, hops in timing.hops.items()
        },
        "cpuSeconds": {"upstream": cpu[up_pid], "relay": cpu[relay_pid]},
        "framesSent": {"upstream": sent[up_base], "relay": sent[relay_base]},
        "cpuUsPerFrame": {
            "upstream": 1e6 * cpu[up_pid] / sent[up_base] if sent[up_base] else None,
            "relay": 1e6 * cpu[relay_pid] / sent[relay_base] if sent[relay_base] else None,
        },
    }
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"downstream clients {result['clients']} on {result['conids']} conids through one "
        f"relay, {result['seconds']:g} s window",
        f"upstream market-data lines: {result['upstreamLines']} (relay holds "
        f"{result['relayLines']}, reconnects {result['reconnects']})",
    ]
    for dialect, hop in result["hopMs"].items():
        if hop["values"]:
            lines.append(
                f"relay hop on {dialect} (direct arrival -> relayed arrival): {hop['values']} "
                f"values, p50 {hop['p50']:.2f} ms, p99 {hop['p99']:.2f} ms"
            )
        else:
            lines.append(f"relay hop on {dialect}: no value seen both directly and relayed")
    cpu, sent, per = result["cpuSeconds"], result["framesSent"], result["cpuUsPerFrame"]
    for side in ("upstream", "relay"):
        each = "n/a" if per[side] is None else f"{per[side]:.1f} us"
        lines.append(
            f"{side}: {cpu[side]:.2f} CPU s for {sent[side]:.0f} frames sent, {each} per frame"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--conids", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ticks-per-second", type=float, default=200.0)
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--profile", type=Path, help="py-spy summary of the relay, written here")
    args = parser.parse_args()
    stocks = [i for i in default_catalogue(today=date.today()) if i.sec_type is SecType.STK]
    chosen = stocks[: args.conids]
    conids = [i.conid for i in chosen]
    with tempfile.TemporaryDirectory() as tmp:
        # The upstream simulates only the benchmark's instruments, so its CPU is mostly
        # serving them; the relay keeps the built-in catalogue (which has them).
        catalogue = Path(tmp) / "upstream.csv"
        catalogue.write_text(
            "conid,symbol,sec_type,reference_price\n"
            + "".join(f"{i.conid},{i.symbol},STK,{i.reference_price}\n" for i in chosen)
        )
        up, upstream = launch(
            Path(tmp) / "up",
            "--ticks-per-second",
            str(args.ticks_per_second),
            "--catalogue",
            str(catalogue),
            "--catalogue-mode",
            "replace",
        )
        try:
            down, relay = launch(
                Path(tmp) / "relay",
                "--source",
                "relay",
                "--upstream",
                upstream,
                "--md-lines-per-connection",
                "100",
            )
            try:
                result = asyncio.run(
                    measure(
                        (up.pid, upstream),
                        (down.pid, relay),
                        args.clients,
                        conids,
                        args.seconds,
                        args.profile,
                    )
                )
            finally:
                down.terminate()
                down.communicate()
        finally:
            up.terminate()
            up.communicate()
    print(report(result))
    if args.json is not None:
        args.json.write_text(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
