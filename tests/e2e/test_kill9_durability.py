"""Nothing acknowledged is lost: SIGKILL the gateway mid-burst, restart it, compare.

The gateway runs as a real process on a real SQLite file. A client fires a burst of market
orders (which fill at once against the simulated quotes) and resting limit orders, records every
acknowledged order id, and kills the process with SIGKILL while requests are still in flight.
After a restart on the same data directory every acknowledged order must be there with its
status, and positions, fills and cash must agree with each other.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from tests.e2e.gateway_process import launch

ACCT = "DU1234567"
CONIDS = (265598, 8314, 272093, 756733)


async def place(http: aiohttp.ClientSession, base: str, n: int) -> int | None:
    conid = CONIDS[n % len(CONIDS)]
    order: dict[str, Any] = {
        "conid": conid,
        "side": "BUY" if n % 3 else "SELL",
        "quantity": 1 + n % 5,
    }
    if n % 4 == 3:
        order.update(orderType="LMT", price=1.00, tif="GTC")  # far below the market: rests
    else:
        order.update(orderType="MKT", tif="DAY")
    async with http.post(f"{base}/iserver/account/{ACCT}/orders", json={"orders": [order]}) as r:
        body = await r.json()
    if isinstance(body, list) and "message" in body[0]:  # the far-limit question
        async with http.post(
            f"{base}/iserver/reply/{body[0]['id']}", json={"confirmed": True}
        ) as r:
            body = await r.json()
    return int(body[0]["order_id"]) if isinstance(body, list) else None


async def burst_then_kill(base: str, proc: subprocess.Popen[str]) -> set[int]:
    acked: set[int] = set()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/iserver/questions/suppress", json={"messageIds": ["o10151"]}):
            pass

        async def worker(start: int) -> None:
            for n in range(start, 10_000, 4):
                try:
                    order_id = await place(http, base, n)
                except (TimeoutError, aiohttp.ClientError):
                    return  # the server died under us
                if order_id is not None:
                    acked.add(order_id)

        workers = [asyncio.create_task(worker(i)) for i in range(4)]
        while len(acked) < 120:
            await asyncio.sleep(0.01)  # watching the burst, not letting state settle
        proc.send_signal(signal.SIGKILL)
        await asyncio.gather(*workers)
    return acked


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_sigkill_mid_burst_loses_no_acknowledged_order(tmp_path: Path) -> None:
    proc, base = launch(tmp_path / "data")
    try:
        acked = await burst_then_kill(base, proc)
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    proc, base = launch(tmp_path / "data")
    try:
        async with aiohttp.ClientSession() as http:
            # Freeze the traded instruments first: with prices and fills standing still, the
            # answers below describe one instant, so they must agree to the cent.
            root = base.removesuffix("/v1/api")
            for conid in CONIDS:
                async with http.post(f"{root}/tickgate/market/{conid}/halt") as halted:
                    assert halted.status == 200, await halted.text()
            statuses = {
                oid: (await get(http, f"{base}/iserver/account/order/status/{oid}"))
                for oid in acked
            }
            trades = await get(http, f"{base}/iserver/account/trades?days=7")
            positions = await get(http, f"{base}/portfolio/{ACCT}/positions/0")
            summary = await get(http, f"{base}/portfolio/{ACCT}/summary")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        assert proc.stdout is not None
        proc.stdout.close()

    assert all(
        s["order_status"] in ("Filled", "Submitted", "PreSubmitted") for s in statuses.values()
    )
    assert any(s["order_status"] == "Filled" for s in statuses.values())
    net: dict[int, float] = defaultdict(float)
    for trade in trades:
        net[int(trade["conid"])] += float(trade["size"]) * (1 if trade["side"] == "B" else -1)
    held = {int(p["conid"]): float(p["position"]) for p in positions}
    assert {c: q for c, q in net.items() if q} == held
    market_value = sum(float(p["mktValue"]) for p in positions)
    assert (
        abs(
            summary["netliquidation"]["amount"]
            - (summary["totalcashvalue"]["amount"] + market_value)
        )
        < 0.01
    )
    filled = [s for s in statuses.values() if s["order_status"] == "Filled"]
    assert len(trades) >= len(filled)  # every acknowledged fill kept its execution
    assert len(acked) >= 120
