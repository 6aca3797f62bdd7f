"""The house rules, checked as part of the suite: ruff, mypy --strict and the import layers."""

from __future__ import annotations

import ast
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


SRC = ROOT / "src" / "tickgate"
#: The modules allowed to read the environment, and those allowed to parse the command line.
# streaming/fanout.py: TICKGATE_PURE_PYTHON picks the fan-out core at import, before any config.
ENV_READERS = {"config.py", "streaming/fanout.py"}
ARGV_PARSERS = {"cli.py", "client_cli.py", "fault_cli.py"}
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}
_ARGV_MODULES = {"argparse", "getopt", "optparse"}


def process_inputs(source: str) -> tuple[list[int], list[int]]:
    """Lines of `source` that read environment variables, and lines that read or parse argv."""
    env: set[int] = set()
    argv: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if node.attr in _ENV_NAMES:
                env.add(node.lineno)
            elif node.attr == "argv":
                argv.add(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names}
            if node.module == "os" and names & _ENV_NAMES:
                env.add(node.lineno)
            elif (node.module == "sys" and "argv" in names) or node.module in _ARGV_MODULES:
                argv.add(node.lineno)
        elif isinstance(node, ast.Import) and {a.name for a in node.names} & _ARGV_MODULES:
            argv.add(node.lineno)
    return sorted(env), sorted(argv)


def test_the_input_scan_finds_every_spelling() -> None:
    source = (
        "import os, sys, argparse\nfrom os import environ\nfrom sys import argv\n"
        "a = os.environ['X']\nb = os.getenv('Y')\nc = sys.argv[1:]\nfrom getopt import getopt\n"
    )
    assert process_inputs(source) == ([2, 4, 5], [1, 3, 6, 7])
    assert process_inputs("import os\npath = os.path.join('a', 'b')\n") == ([], [])


def test_only_config_reads_the_environment_and_only_the_clis_parse_argv() -> None:
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        name = str(path.relative_to(SRC))
        env, argv = process_inputs(path.read_text())
        found += [f"{name}:{line} reads the environment" for line in env if name not in ENV_READERS]
        found += [f"{name}:{line} reads argv" for line in argv if name not in ARGV_PARSERS]
    assert found == [], "\n".join(found)
