"""One data directory, one gateway: real processes on one directory.

A second gateway on a directory in use is refused with the holder named, while the first keeps
serving; once the holder dies (even by SIGKILL, leaving its lock file behind) a new gateway
starts on the same directory.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

from tests.e2e.gateway_process import command, launch

from tickgate.datadir import LOCK_NAME

REFUSAL_TIMEOUT_S = 30


def tickle(base: str) -> int:
    with urllib.request.urlopen(f"{base}/tickle", timeout=10) as response:
        return int(response.status)


def start_refused(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv, env = command(data_dir, *args)
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=REFUSAL_TIMEOUT_S, check=False
    )


def test_second_gateway_is_refused_naming_the_holder_and_a_restart_after_kill9_works(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first, base = launch(data)
    try:
        second = start_refused(data)
        assert second.returncode != 0
        assert "Traceback" not in second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.pid}" in lines[0]
        assert str(data.resolve()) in lines[0] and "in use" in lines[0]
        assert "listening" not in second.stdout
        assert tickle(base) == 200  # the first keeps serving
        holder = json.loads((data / LOCK_NAME).read_text())
        assert holder["pid"] == first.pid
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", holder["started"])
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert json.loads((data / LOCK_NAME).read_text())["pid"] == first.pid  # stale text remains

    after, base = launch(data)
    try:
        assert tickle(base) == 200
        assert json.loads((data / LOCK_NAME).read_text())["pid"] == after.pid
    finally:
        after.send_signal(signal.SIGINT)
        after.communicate(timeout=15)
    assert after.returncode == 0


def test_a_memory_store_gateway_is_refused_too(tmp_path: Path) -> None:
    """The directory also holds the certificate: one directory, one gateway, whatever the store."""
    data = tmp_path / "data"
    first, base = launch(data, "--store", "memory")
    try:
        second = start_refused(data, "--store", "memory")
        assert second.returncode != 0 and f"pid {first.pid}" in second.stderr
        assert tickle(base) == 200
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=15)
