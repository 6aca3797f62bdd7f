"""The house rules, checked as part of the suite: ruff, mypy --strict and the import layers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy", "--strict", "src/tickgate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers_hold() -> None:
    # Prefer the lint-imports next to this interpreter (the venv's), else the one on PATH.
    beside = Path(sys.executable).parent / "lint-imports"
    result = run(str(beside) if beside.exists() else shutil.which("lint-imports") or "lint-imports")
    assert result.returncode == 0, result.stdout + result.stderr
