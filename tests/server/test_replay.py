"""Recording and replay through a real gateway: exactness, both dialects, control, determinism."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import WsClient, call, make_config
from tests.instruments import AAPL
from tests.sources.replay_files import START_NS, STEP_NS, quotes, write_recording

from tickgate.model.ticks import Tick
from tickgate.server.app import RunningServer, build_app, start_server
from tickgate.server.gateway import GATEWAY
from tickgate.server.replay_control import RECORDER
from tickgate.sources.recording import RecordingReader

Connect = Callable[..., Awaitable[WsClient]]
Frame = dict[str, Any]
#: Slow enough that nothing after the first recorded instant plays until a test speeds it up.
CRAWL = "0.000001"
SECOND = 1_000_000_000


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll `predicate` (a condition on the server's state) until it holds."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.01)


class Servers:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[RunningServer] = []

    async def start(self, *, tap: list[Tick] | None = None, **changes: Any) -> RunningServer:
        app = build_app(make_config(self.tmp_path, store="memory", **changes))
        if tap is not None:  # every tick the market engine is given, in order
            app[GATEWAY].bus.subscribe(tap.append)
        server = await start_server(app)
        self.running.append(server)
        return server


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    made = Servers(tmp_path)
    yield made
    for server in made.running:
        await server.stop()


async def replay_state(http: aiohttp.ClientSession, server: RunningServer) -> Frame:
    return dict(await call(http, "GET", server.base_url + "/tickgate/replay"))


async def finished(http: aiohttp.ClientSession, server: RunningServer) -> None:
    async def done() -> bool:
        return (await replay_state(http, server))["state"] == "finished"

    await until(done)


async def test_a_recorded_gateway_replays_its_ticks_exactly(
    servers: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "sim.tgr"
    recording = await servers.start(record=path, ticks_per_second=2000.0)
    recorder = recording.runner.app[RECORDER]

    async def enough() -> bool:
        return recorder.stats.ticks >= 2000

    await until(enough)
    stats = await call(http, "GET", recording.base_url + "/tickgate/recording")
    assert stats["file"] == str(path) and stats["ticks"] >= 2000
    await recording.stop()
    servers.running.remove(recording)
    recorded = list(RecordingReader(path).ticks())
    assert len(recorded) >= 2000

    replayed: list[Tick] = []
    replay = await servers.start(source="replay", replay=(path,), replay_speed="max", tap=replayed)
    await finished(http, replay)
    assert replayed == recorded  # conid, fields and time of every tick
    assert replay.gateway.clock.now_ns() == recorded[-1].ts_ns
    snapshot = replay.gateway.market.snapshot(AAPL.conid)
    last = {fid: v for t in recorded if t.conid == AAPL.conid for fid, v in t.fields.items()}
    assert {fid: snapshot[fid] for fid in last} == last  # the market keeps its last values


async def subscribe_legacy(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> WsClient:
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    ws = await ws_connect(server.ws_base + "/v1/portal/ws")
    await ws.send(f's+md+{AAPL.conid}+{{"snapshot":true,"fields":"31,84,86"}}')
    await ws.recv_until(lambda f: f.get("topic") == f"md+{AAPL.conid}")  # the snapshot
    return ws


async def legacy_frames_to_the_end(ws: WsClient) -> list[Frame]:
    frames: list[Frame] = []
    while True:
        frame = await ws.recv(10)
        frames.append(frame)
        if frame.get("topic") == "replay+end":
            return frames


async def test_both_dialects_see_the_replay_and_its_end_notice(
    servers: Servers, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    ticks = quotes(40)
    path = write_recording(tmp_path / "q.tgr", ticks)
    server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
    legacy = await subscribe_legacy(server, http, ws_connect)
    session = (await call(http, "POST", server.base_url + "/v1/api/tickle"))["session"]
    current = await ws_connect(
        server.ws_base + "/v1/api/ws", headers={"Cookie": f'api={{"session":"{session}"}}'}
    )
    await current.recv_until(lambda f: f.get("topic") == "sts")
    await current.send(f'smd+{AAPL.conid}+{{"fields":["84","86"]}}')
    first = await current.recv_until(lambda f: f.get("topic") == f"smd+{AAPL.conid}")
    assert (first["84"], first["86"]) == ("189.49", "189.51")

    await call(http, "POST", server.base_url + "/tickgate/replay/speed", json={"speed": "max"})
    frames = await legacy_frames_to_the_end(legacy)
    # Every change, in order, none invented (the seed dialect sends prices as JSON numbers).
    bids = [Decimal(repr(f["84"])) for f in frames if "84" in f]
    assert bids == [Decimal(t.fields[84]) for t in ticks[1:]]
    end = frames[-1]
    assert end["ticks"] == 40 and "market keeps its last values" in end["message"]
    assert end["time"] == ticks[-1].ts_ns // 1_000_000
    bulletin = await current.recv_until(lambda f: f.get("topic") == "blt")
    assert bulletin["args"]["id"] == "tickgate-replay-end"
    assert bulletin["args"]["message"] == end["message"]
    snapshot = (
        f"{server.base_url}/v1/api/iserver/marketdata/snapshot?conids={AAPL.conid}&fields=84,86"
    )
    await call(http, "GET", snapshot)  # the pre-flight
    rest = await call(http, "GET", snapshot)
    assert (rest[0]["84"], rest[0]["86"]) == (ticks[-1].fields[84], ticks[-1].fields[86])
    state = await replay_state(http, server)
    assert state["state"] == "finished" and state["ticks"] == 40
    assert state["replayTimeNs"] == ticks[-1].ts_ns


async def test_two_runs_of_one_file_send_the_same_frames(
    servers: Servers, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    path = write_recording(tmp_path / "q.tgr", quotes(300))
    runs = []
    for _ in range(2):
        server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
        ws = await subscribe_legacy(server, http, ws_connect)
        await call(http, "POST", server.base_url + "/tickgate/replay/speed", json={"speed": "max"})
        runs.append(await legacy_frames_to_the_end(ws))
        await ws.close()
    assert len(runs[0]) == 300 and runs[0] == runs[1]


async def test_pause_resume_seek_and_speed_over_the_control_routes(
    servers: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    ticks = quotes(40)
    path = write_recording(tmp_path / "q.tgr", ticks)
    server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
    base = server.base_url + "/tickgate/replay"
    paused = await call(http, "POST", base + "/pause")
    assert paused["state"] == "paused" and paused["ticks"] == 1
    # Seek 2 s in: every tick before it is folded into one, the market shows the values then.
    seeked = await call(http, "POST", base + "/seek", json={"time": "+2"})
    assert seeked["state"] == "paused"

    async def moved() -> bool:
        return (await replay_state(http, server))["positionNs"] == START_NS + 20 * STEP_NS

    await until(moved)
    market = server.gateway.market
    assert market.snapshot(AAPL.conid, [84, 86]) == {
        84: ticks[19].fields[84],
        86: ticks[19].fields[86],
    }
    assert server.gateway.clock.now_ns() == START_NS + 20 * STEP_NS
    state = await call(http, "POST", base + "/speed", json={"speed": 1000})
    assert state["speed"] == 1000.0 and state["state"] == "paused"
    await call(http, "POST", base + "/resume")
    await finished(http, server)
    assert market.snapshot(AAPL.conid, [84]) == {84: ticks[-1].fields[84]}
    # Back to the start: time goes on forward, the ticks come again later than recorded.
    await call(http, "POST", base + "/seek", json={"time": "2026-01-02T15:00:00Z"})
    await finished(http, server)
    state = await replay_state(http, server)
    assert state["offsetNs"] > 0 and state["replayTimeNs"] == ticks[-1].ts_ns + state["offsetNs"]

    for route, body, message in (
        ("/seek", {"time": "yesterday"}, "not a time"),
        ("/seek", {}, "seek needs a time"),
        ("/speed", {"speed": "fast"}, "speed must be a positive number or 'max'"),
        ("/speed", {"speed": 0}, "speed must be a positive number or 'max'"),
    ):
        error = await call(http, "POST", base + route, json=body, status=400)
        assert message in error["error"]


async def test_control_routes_on_a_simulated_market_say_there_is_no_replay(
    servers: Servers, http: aiohttp.ClientSession
) -> None:
    server = await servers.start()
    error = await call(http, "POST", server.base_url + "/tickgate/replay/pause", status=409)
    assert error["error"] == "the market source is not a replay: nothing to control"
    error = await call(http, "GET", server.base_url + "/tickgate/recording", status=409)
    assert "not recording" in error["error"]


async def test_loop_starts_over_with_time_running_forward(
    servers: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = write_recording(tmp_path / "q.tgr", quotes(10))
    tap: list[Tick] = []
    server = await servers.start(
        source="replay", replay=(path,), replay_speed="max", replay_loop=True, tap=tap
    )

    async def looped() -> bool:
        return (await replay_state(http, server))["loops"] >= 3

    await until(looped)
    await call(http, "POST", server.base_url + "/tickgate/replay/pause")
    times = [t.ts_ns for t in tap]
    assert times == sorted(times) and len(times) >= 30
    assert [t.fields for t in tap[10:20]] == [t.fields for t in quotes(10)]


async def test_replay_time_drives_the_session_close(
    servers: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    close_ns = 1_767_387_600_000_000_000  # 2026-01-02T21:00:00Z, 16:00 in New York
    before = [Tick(t.conid, t.fields, t.ts_ns - START_NS + close_ns - SECOND) for t in quotes(3)]
    after = Tick(AAPL.conid, {84: "189.00", 86: "189.02"}, close_ns + SECOND)
    path = write_recording(tmp_path / "close.tgr", [*before, after])
    server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
    base = server.base_url + "/v1/api"
    await call(http, "GET", base + "/iserver/accounts")
    order = {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "price": 185.0}
    order.update(quantity=5, tif="DAY")
    ack = await call(
        http, "POST", f"{base}/iserver/account/DU1234567/orders", json={"orders": [order]}
    )
    if "message" in ack[0]:  # the limit is far from the market: confirm
        ack = await call(
            http, "POST", f"{base}/iserver/reply/{ack[0]['id']}", json={"confirmed": True}
        )
    status_url = f"{base}/iserver/account/order/status/{ack[0]['order_id']}"
    assert (await call(http, "GET", status_url))["order_status"] == "Submitted"
    await call(http, "POST", server.base_url + "/tickgate/replay/speed", json={"speed": "max"})
    await finished(http, server)

    async def expired() -> bool:
        return (await call(http, "GET", status_url))["order_status"] == "Cancelled"

    await until(expired)
    # The day closed exactly at the replayed 16:00, between the ticks on either side of it.
    assert server.gateway.trading.state.session_start_ns == close_ns
    assert server.gateway.clock.now_ns() == close_ns + SECOND


async def test_a_seek_outside_the_recording_is_refused_and_leaves_replay_time_alone(
    servers: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    ticks = quotes(40)
    path = write_recording(tmp_path / "q.tgr", ticks)
    server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
    base = server.base_url + "/tickgate/replay"
    before = await call(http, "POST", base + "/pause")
    span = "runs from 2026-01-02T15:00:00.000000Z to 2026-01-02T15:00:03.900000Z"
    for time in ("+99999h", "1970-01-01T00:00:00Z", "2026-01-02T15:00:03.900001Z", "0"):
        error = await call(http, "POST", base + "/seek", json={"time": time}, status=400)
        assert error["error"].startswith("cannot seek there: ") and span in error["error"]
    after = await replay_state(http, server)
    assert after["replayTimeNs"] == before["replayTimeNs"] and after["offsetNs"] == 0
    assert after["state"] == "paused" and after["positionNs"] == START_NS
    # The last tick itself is in the span: the seek is taken and plays up to it.
    await call(http, "POST", base + "/seek", json={"time": "+3.9"})

    async def at_the_end() -> bool:
        return (await replay_state(http, server))["positionNs"] == ticks[-1].ts_ns

    await until(at_the_end)
    assert server.gateway.clock.now_ns() == ticks[-1].ts_ns
    error = await call(http, "POST", base + "/seek", json={"time": "+4"}, status=400)
    assert span in error["error"]
    error = await call(http, "POST", base + "/seek", json={"time": "soon"}, status=400)
    assert "+N[ms|s|m|h]" in error["error"] and "epoch ns" in error["error"]
    assert server.gateway.clock.now_ns() == ticks[-1].ts_ns


async def test_the_span_of_a_window_ends_at_its_last_tick_played(
    servers: Servers, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = write_recording(tmp_path / "q.tgr", quotes(40))
    server = await servers.start(
        source="replay", replay=(path,), replay_speed=CRAWL, replay_from="+1", replay_to="+2.55"
    )
    seek = server.base_url + "/tickgate/replay/seek"
    span = "runs from 2026-01-02T15:00:01.000000Z to 2026-01-02T15:00:02.500000Z"
    # `+N` counts from the window's start; both sides of the window are refused.
    for time in ("2026-01-02T15:00:00.5Z", "+1.6"):
        error = await call(http, "POST", seek, json={"time": time}, status=400)
        assert span in error["error"]
    await call(http, "POST", seek, json={"time": "+1.5"})
