"""A recording survives SIGKILL of its gateway: everything but the last second replays.

A real gateway process records its simulated market at a high rate; the test kills it with
SIGKILL while ticks are flowing, then reads the file (every complete frame decodes, a cut last
frame is skipped) and replays it through a fresh gateway, which must deliver exactly the ticks
the file holds.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from tests.conftest import make_config

from tickgate.model.ticks import Tick
from tickgate.server.app import build_app, start_server
from tickgate.server.gateway import GATEWAY
from tickgate.sources.recording import RecordingReader

#: The recorder writes a frame at least every half second; allow as much again for a loaded
#: machine before calling the promise ("all but the last second") broken.
LOST_AT_MOST_NS = 1_500_000_000


def launch(data_dir: Path, record: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "TICKGATE_DATA_DIR": str(data_dir), "TICKGATE_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--store", "memory"]
    command += ["--ticks-per-second", "5000", "--record", str(record)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdout is not None
    for _ in range(10):
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
        if match:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError("the gateway did not announce its address")


async def frames_written(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(base + "/tickgate/recording") as response:
        return int((await response.json())["frames"])


async def test_a_killed_recorders_file_replays_all_but_its_last_second(tmp_path: Path) -> None:
    record = tmp_path / "killed.tgr"
    proc, base = launch(tmp_path / "data", record)
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(30):
            while await frames_written(http, base) < 6:  # the header and five tick frames
                await asyncio.sleep(0.05)
        killed_at = time.time_ns()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    reader = RecordingReader(record)
    assert reader.header.source == "simulator"
    recorded = list(reader.ticks())
    assert len(recorded) > 1000
    assert killed_at - recorded[-1].ts_ns < LOST_AT_MOST_NS

    replayed: list[Tick] = []
    config = make_config(
        tmp_path, source="replay", replay=(record,), replay_speed="max", store="memory"
    )
    app = build_app(config)
    app[GATEWAY].bus.subscribe(replayed.append)
    server = await start_server(app)
    try:
        async with asyncio.timeout(30):
            while len(replayed) < len(recorded):
                await asyncio.sleep(0.02)
    finally:
        await server.stop()
    assert replayed == recorded
