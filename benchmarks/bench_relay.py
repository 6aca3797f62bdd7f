"""One relay in front of one upstream: the lines it costs the upstream, the latency of its hop.

Run: ``PYTHONPATH=src python benchmarks/bench_relay.py [--clients 200] [--conids 20]
[--seconds 10]``.

Starts two real gateway processes on 127.0.0.1 (plain HTTP): an upstream tickgate (the
simulator) and a relay (`--source relay --upstream ...`) in front of it. `--clients` clients
connect to the relay (every other one on the portal dialect), spread over `--conids`
instruments (fields 31, 84, 86), and one api client per conid reads the upstream directly. It
prints the upstream's market-data lines (the relay must cost exactly one per conid, however
many clients), and the hop latency: for each value seen by both a direct client and a timed
relay client of the same conid, the time from the direct arrival to the relayed arrival,
p50/p99, on this process's monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import aiohttp
import orjson

from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.model.instruments import SecType

FIELDS = '{"fields":["31","84","86"]}'


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


async def client(
    http: aiohttp.ClientSession,
    base: str,
    conid: int,
    seen: dict[tuple[int, str], int],
    hops: list[int] | None,
    ready: asyncio.Event,
    stop: asyncio.Event,
    *,
    direct: bool,
    portal: bool = False,
) -> None:
    """One api-dialect client streaming `conid`. A `direct` client records when each value of
    field 31 arrived (`seen`); a relay client with `hops` records how much later it got it
    (one without only reads, as load)."""
    await (await http.get(base + "/v1/api/iserver/accounts")).read()
    tickle = await (await http.post(base + "/v1/api/tickle")).json()
    ws_url = base.replace("http", "ws", 1) + ("/v1/portal/ws" if portal else "/v1/api/ws")
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
            now = time.monotonic_ns()
            frame = orjson.loads(message.data)
            last = frame.get("31") if frame.get("topic") == topic else None
            if last is None:
                continue
            # Prices come back to earlier values: a value's latest direct arrival is the one
            # its relayed copy belongs to, and it is matched once.
            if direct:
                seen[(conid, last)] = now
            elif hops is not None and (at := seen.pop((conid, last), None)) is not None:
                hops.append(now - at)


async def measure(
    upstream: str, relay: str, clients: int, conids: list[int], seconds: float
) -> None:
    seen: dict[tuple[int, str], int] = {}
    hops: list[int] = []
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = []
        for conid in conids:  # direct readers first, so they are listening before the relay
            ready = asyncio.Event()
            tasks.append(
                asyncio.create_task(
                    client(http, upstream, conid, seen, None, ready, stop, direct=True)
                )
            )
            await ready.wait()
        for i in range(clients):
            ready = asyncio.Event()
            conid = conids[i % len(conids)]
            # Only one relay client per conid times the hop; the rest are the load. The timed
            # ones read the portal dialect, which streams each change at once (the api dialect
            # paces at 500 ms, which would hide the hop in its own wait).
            timing = hops if i < len(conids) else None
            tasks.append(
                asyncio.create_task(
                    client(http, relay, conid, seen, timing, ready, stop, direct=False)
                )
            )
            await ready.wait()
        await asyncio.sleep(seconds)
        status = await (await http.get(upstream + "/tickgate/status")).json()
        relay_status = await (await http.get(relay + "/tickgate/status")).json()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    hops.sort()
    print(f"downstream clients {clients} on {len(conids)} conids through one relay")
    print(
        f"upstream market-data lines: {status['marketDataLines']} (relay holds "
        f"{relay_status['relay']['lines']}, reconnects {relay_status['relay']['reconnects']})"
    )
    if hops:
        p50 = statistics.median(hops) / 1e6
        p99 = hops[min(len(hops) - 1, int(len(hops) * 0.99))] / 1e6
        print(
            f"relay hop (direct arrival -> relayed arrival): {len(hops)} values, "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
    else:
        print("no value was seen both directly and through the relay")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--conids", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ticks-per-second", type=float, default=200.0)
    args = parser.parse_args()
    stocks = [i.conid for i in default_catalogue(today=date.today()) if i.sec_type is SecType.STK]
    conids = stocks[: args.conids]
    with tempfile.TemporaryDirectory() as tmp:
        up, upstream = launch(Path(tmp) / "up", "--ticks-per-second", str(args.ticks_per_second))
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
                asyncio.run(measure(upstream, relay, args.clients, conids, args.seconds))
            finally:
                down.terminate()
                down.communicate()
        finally:
            up.terminate()
            up.communicate()


if __name__ == "__main__":
    main()
