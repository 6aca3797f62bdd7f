"""A real gateway process for end-to-end tests: started with `python -m tickgate`, its address
read from the banner it prints once it listens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BANNER_LINES = 10


def command(data_dir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """Argv and environment of a gateway on `data_dir`: plain HTTP, any free port, seed 7,
    warnings only, extra flags `args`."""
    env = {**os.environ, "TICKGATE_DATA_DIR": str(data_dir), "TICKGATE_LOG_LEVEL": "warning"}
    argv = [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--seed", "7", *args]
    return argv, env


def launch(data_dir: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start a gateway (see `command`) and return the process and its REST base URL
    (`http://127.0.0.1:PORT/v1/api`) once it listens. Its stderr is discarded."""
    argv, env = command(data_dir, *args)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdout is not None
    for _ in range(BANNER_LINES):
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
        if match:
            return proc, match.group(1) + "/v1/api"
    proc.kill()
    proc.communicate()
    raise AssertionError("the gateway did not announce its address")
