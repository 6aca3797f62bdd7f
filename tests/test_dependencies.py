"""`pip install .` (no extras) must be enough for `tickgate serve`: README's first command.

The cluster's modules need nats-py, which only the `cluster` extra installs. These tests run
the real CLI in a fresh interpreter in which importing `nats` fails (a `sitecustomize` put on
PYTHONPATH blocks it, as an environment without the extra would), and check that:
- plain `serve` starts, answers REST and never even tries to import nats;
- every third-party distribution that `serve` loaded is reachable from `[project]
  dependencies` alone;
- a cluster option there is refused with one line naming the extra, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from tests.e2e.gateway_process import launch

ROOT = Path(__file__).resolve().parents[1]

# Runs at the child's start-up (site imports it from PYTHONPATH). Modules already loaded then
# are the interpreter's own start-up (site hooks, .pth files), not tickgate's.
_SITECUSTOMIZE = '''
import atexit, json, os, sys

_tried = []


class _NoNats:
    """Importing nats fails, as where the cluster extra is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "nats" or name.startswith("nats."):
            _tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoNats())
_before = set(sys.modules)


@atexit.register
def _report():
    with open(os.environ["TICKGATE_TEST_IMPORTS"], "w") as out:
        json.dump({"loaded": sorted(set(sys.modules) - _before), "tried_nats": _tried}, out)
'''


@dataclass(frozen=True)
class Run:
    """What a `serve` without nats did: its answer, exit code and imports."""

    auth_status: dict[str, object]
    returncode: int
    loaded: list[str]
    tried_nats: list[str]


def _without_nats(tmp: Path) -> dict[str, str]:
    """Environment changes that make importing nats fail in a child interpreter and have it
    report its imports to `tmp/imports.json` when it exits."""
    site = tmp / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "TICKGATE_TEST_IMPORTS": str(tmp / "imports.json")}


@pytest.fixture(scope="module")
def serve_without_nats(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("no-nats")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _without_nats(tmp).items():
            patch.setenv(name, value)
        proc, base = launch(tmp / "data")
    try:
        with urllib.request.urlopen(base + "/iserver/auth/status", timeout=60) as response:
            status = json.loads(response.read())
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    report = json.loads((tmp / "imports.json").read_text())
    return Run(status, proc.returncode, report["loaded"], report["tried_nats"])


def test_serve_starts_and_answers_where_nats_cannot_be_imported(
    serve_without_nats: Run,
) -> None:
    assert serve_without_nats.auth_status["authenticated"] is True
    assert serve_without_nats.returncode == 0
    # Not merely survived: the cluster's modules were never imported at all.
    assert serve_without_nats.tried_nats == []
    assert not [m for m in serve_without_nats.loaded if m.startswith("tickgate.server.cluster")]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _closure(roots: list[str]) -> set[str]:
    """The installed distributions `roots` pull in, following requirements without extras."""
    seen: set[str] = set()
    todo = [_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def test_serve_imports_only_core_dependencies(serve_without_nats: Run) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _closure(project["dependencies"]) | {"tickgate"}
    dists = metadata.packages_distributions()
    loaded = {
        _name(d) for m in serve_without_nats.loaded for d in dists.get(m.partition(".")[0], ())
    }
    assert "aiohttp" in loaded  # the report saw the server's imports
    assert loaded - core == set(), "imported by `tickgate serve` but only in an extra"


@pytest.mark.parametrize(
    "flags",
    [
        ["--nats", "nats://127.0.0.1:4222", "--cluster", "c"],
        ["--nats", "nats://127.0.0.1:4222", "--cluster", "c", "--cluster-role", "edge"],
        ["--workers", "2"],
    ],
    ids=["core", "edge", "workers"],
)
def test_a_cluster_option_without_the_extra_names_it_in_one_line(
    tmp_path: Path, flags: list[str]
) -> None:
    env = {**os.environ, **_without_nats(tmp_path), "TICKGATE_DATA_DIR": str(tmp_path / "d")}
    done = subprocess.run(
        [sys.executable, "-m", "tickgate", "serve", "--port", "0", "--no-tls", *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"tickgate: {flags[0]} needs the cluster extra, and nats-py is not installed: "
        "pip install 'tickgate[cluster]'"
    ]
