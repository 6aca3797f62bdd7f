"""Child processes for the SIGKILL tests: a script run by a fresh interpreter on one store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_child(script: str, db: Path) -> subprocess.Popen[str]:
    """Run `script` with `argv[1]` = `db` and `argv[2]` = this test directory (to import the
    test modules from), on this interpreter's import path; stdout is piped as text."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(Path(__file__).parent)],
        stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    return child
