"""`tickgate record --url` and `tickgate replay ... --url`: clients of a running gateway."""

from __future__ import annotations

import asyncio
import json
import os
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

from tickgate.server.api_client import ClientError, Target
from tickgate.server.app import RunningServer
from tickgate.server.replay_client import RecordOptions, control, market_tick, record
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
        target=Target(server.base_url),
        out=out,
        conids=(AAPL.conid, MSFT),
        dialect=dialect,
        fields=fields,
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
        options = RecordOptions(target=Target(f"http://127.0.0.1:{port}"), out=tmp_path / "x.tgr")
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


def cli(*words: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickgate", *words],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
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
    assert bad.returncode == 1 and "not a time: 'soon'" in bad.stderr
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


TOKEN = "replay-client-test-token-0123"


async def test_record_and_replay_reach_a_gateway_with_tls_and_a_token_as_status_does(
    start: StartServer, tmp_path: Path
) -> None:
    path = write_recording(tmp_path / "q.tgr", quotes(20))
    server = await start(
        source="replay", replay=(path,), replay_speed="0.000001", tls=True, auth_token=TOKEN
    )
    url = ("--url", server.base_url)
    trust = ("--data-dir", str(server.gateway.config.data_dir))
    paused = await asyncio.to_thread(cli, "replay", "pause", *url, *trust, "--token", TOKEN)
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["state"] == "paused"
    with_env = await asyncio.to_thread(
        cli, "replay", "status", *url, "--insecure", env={"TICKGATE_AUTH_TOKEN": TOKEN}
    )
    assert with_env.returncode == 0, with_env.stderr
    assert json.loads(with_env.stdout)["state"] == "paused"
    for command in ("status", "replay"):
        words = (command, "status") if command == "replay" else (command,)
        untrusted = await asyncio.to_thread(cli, *words, *url, "--data-dir", str(tmp_path / "x"))
        assert untrusted.returncode == 1 and "--insecure" in untrusted.stderr, untrusted.stderr
        no_token = await asyncio.to_thread(cli, *words, *url, *trust)
        assert no_token.returncode == 1 and "HTTP 401" in no_token.stderr, no_token.stderr
        unreachable = await asyncio.to_thread(cli, *words, "--url", "http://127.0.0.1:9")
        assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
    # `record` takes the same options; the replay's instrument is recorded over TLS and token.
    out = tmp_path / "again.tgr"
    refused = await asyncio.to_thread(cli, "record", *url, *trust, "--conids", "265598", str(out))
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr, refused.stderr
    assert not out.exists()
    command = [sys.executable, "-m", "tickgate", "record", *url, *trust, "--conids", "265598"]
    proc = await asyncio.create_subprocess_exec(
        *command,
        "--dialect",
        "portal",
        str(out),
        env={**os.environ, "TICKGATE_AUTH_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # The subscription's snapshot is recorded whenever it comes; the seek plays the rest.
        await call_replay(server, "seek", "+1.9")
        async with asyncio.timeout(30):
            while not out.exists() or not list(RecordingReader(out).ticks()):
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _out, stderr = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert [i.conid for i in RecordingReader(out).header.instruments] == [AAPL.conid]


async def call_replay(server: RunningServer, action: str, value: str) -> None:
    """One replay control call, as `tickgate replay` makes it (TLS, token)."""
    target = Target(server.base_url, data_dir=server.gateway.config.data_dir, token=TOKEN)
    await control(target, action, value)


def test_record_refuses_a_missing_directory_instead_of_making_it(tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "deeper" / "x.tgr"
    refused = cli("record", "--url", "http://127.0.0.1:9", str(out))
    assert refused.returncode == 2 and not (tmp_path / "nowhere").exists()
    assert refused.stderr == (f"tickgate: recording {out}: directory {out.parent} does not exist\n")
