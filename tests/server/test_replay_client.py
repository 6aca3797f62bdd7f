"""`tickgate record --url` and `tickgate replay ... --url`: clients of a running gateway."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tests.conftest import StartServer, call
from tests.instruments import AAPL
from tests.sources.replay_files import quotes, write_recording

from tickgate.server.api_client import ClientError
from tickgate.server.replay_client import RecordOptions, market_tick, record
from tickgate.sources.recording import RecordingReader

MSFT = 272093


@pytest.mark.parametrize("dialect", ["portal", "api"])
async def test_recording_a_running_gateway_as_a_client(
    start: StartServer, tmp_path: Path, dialect: str
) -> None:
    server = await start(store="memory", ticks_per_second=2000.0)
    changes: list[tuple[int, dict[int, str]]] = []
    fields = (84, 86, 31)

    def listen(conid: int, changed: dict[int, str], _ts: int) -> None:
        wanted = {fid: v for fid, v in changed.items() if fid in fields}
        if conid in (AAPL.conid, MSFT) and wanted:
            changes.append((conid, wanted))

    server.gateway.market.add_listener(listen)
    out = tmp_path / f"client-{dialect}.tgr"
    stop = asyncio.Event()
    options = RecordOptions(
        url=server.base_url, out=out, conids=(AAPL.conid, MSFT), dialect=dialect, fields=fields
    )
    task = asyncio.create_task(record(options, stop=stop))
    async with asyncio.timeout(20):
        while not out.exists() or len(list(RecordingReader(out).ticks())) < 30:
            await asyncio.sleep(0.05)
    stop.set()
    stats = await asyncio.wait_for(task, 10)

    reader = RecordingReader(out)
    assert reader.header.source == f"record {server.base_url}"
    assert {i.conid: i.symbol for i in reader.header.instruments} == {
        AAPL.conid: "AAPL",
        MSFT: "MSFT",
    }
    ticks = list(reader.ticks())
    assert len(ticks) == stats.ticks >= 30
    assert {t.conid for t in ticks} == {AAPL.conid, MSFT}
    assert all(set(t.fields) <= set(fields) for t in ticks)
    times = [t.ts_ns for t in ticks]
    assert times == sorted(times)
    if dialect == "portal":
        # Every change after the two snapshots arrives, in order, as the gateway made it.
        recorded = [(t.conid, t.fields) for t in ticks[2:]]
        first = changes.index(recorded[0])
        assert changes[first : first + len(recorded)] == recorded


async def test_a_gateway_without_all_conids_asks_for_a_list(tmp_path: Path) -> None:
    # tickgate serves /trsrv/all-conids; a gateway that lacks it is one serving accounts only.
    async def accounts(_request: web.Request) -> web.Response:
        return web.json_response({"accounts": []})

    app = web.Application()
    app.router.add_get("/v1/api/iserver/accounts", accounts)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        options = RecordOptions(url=f"http://127.0.0.1:{port}", out=tmp_path / "x.tgr")
        with pytest.raises(ClientError, match="--conids"):
            await record(options, stop=asyncio.Event())
    finally:
        await runner.cleanup()
    assert not (tmp_path / "x.tgr").exists()


def test_market_tick_reads_both_dialects_and_ignores_the_rest() -> None:
    current = (
        b'{"topic":"smd+8314","conid":8314,"_updated":1,"6119":"q0","31":"140.10","86":"140.12"}'
    )
    assert market_tick(current) == market_tick(b'{"topic":"md+8314","31":"140.10","86":"140.12"}')
    # The portal dialect's numbers are recorded as the engine's text, with the conid's decimals.
    portal = b'{"31":140.1,"86":140.12,"88":1300,"7762":12345,"55":"IBM","topic":"md+8314"}'
    recorded = market_tick(portal, {8314: 2})
    assert recorded is not None
    assert recorded.fields == {31: "140.10", 86: "140.12", 88: "1,300", 7762: "12345", 55: "IBM"}
    tick = market_tick(current)
    assert tick is not None and (tick.conid, tick.fields) == (8314, {31: "140.10", 86: "140.12"})
    for other in (b'{"topic":"system","hb":1}', b'{"topic":"blt","args":{}}', b"[1]", b"nope"):
        assert market_tick(other) is None


def cli(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickgate", *words], capture_output=True, text=True, timeout=30
    )


async def test_the_replay_command_controls_a_replaying_gateway(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = write_recording(tmp_path / "q.tgr", quotes(20))
    server = await start(source="replay", replay=(path,), replay_speed="0.000001", store="memory")
    paused = await asyncio.to_thread(cli, "replay", "pause", "--url", server.base_url)
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["state"] == "paused"
    speed = await asyncio.to_thread(cli, "replay", "speed", "max", "--url", server.base_url)
    assert json.loads(speed.stdout)["speed"] == "max"
    await asyncio.to_thread(cli, "replay", "resume", "--url", server.base_url)
    async with asyncio.timeout(15):
        while (await call(http, "GET", server.base_url + "/tickgate/replay"))[
            "state"
        ] != "finished":
            await asyncio.sleep(0.02)
    bad = await asyncio.to_thread(cli, "replay", "seek", "soon", "--url", server.base_url)
    assert bad.returncode == 2 and "not a time: 'soon'" in bad.stderr
    missing = await asyncio.to_thread(cli, "replay", "speed", "--url", server.base_url)
    assert missing.returncode == 2 and "needs a value" in missing.stderr


async def test_the_record_command_stops_cleanly_on_sigint(
    start: StartServer, tmp_path: Path
) -> None:
    server = await start(store="memory", ticks_per_second=2000.0)
    out = tmp_path / "cli.tgr"
    command = [sys.executable, "-m", "tickgate", "record", "--url", server.base_url]
    command += ["--conids", str(AAPL.conid), "--dialect", "portal", str(out)]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(20):
        while not out.exists() or len(list(RecordingReader(out).ticks())) < 10:
            await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
    ticks = list(RecordingReader(out).ticks())
    assert f"recorded {len(ticks)} ticks in 1 file(s)" in stdout.decode()
