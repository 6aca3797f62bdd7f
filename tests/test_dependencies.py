"""`pip install .` (no extras) must be enough for `tickgate serve`: README's first command.

The cluster's modules are imported by the composition root even when no cluster is configured,
so whatever they import at module level is a core dependency, not an extra's. This test starts
the real entry point's imports in a fresh interpreter and checks that every third-party
distribution they load is reachable from `[project] dependencies` alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What `tickgate serve` imports before it listens (the CLI and the whole app).
_PROBE = """
import json, sys
from importlib import metadata
before = set(sys.modules)  # the interpreter's own start-up (site hooks), not tickgate's
import tickgate.cli, tickgate.server.app
dists = metadata.packages_distributions()
names = {d for m in set(sys.modules) - before for d in dists.get(m.partition('.')[0], ())}
print(json.dumps(sorted(names)))
"""


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


def test_serve_imports_only_core_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _closure(project["dependencies"]) | {"tickgate"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    loaded = {_name(d) for d in json.loads(out.stdout)}
    assert loaded - core == set(), "imported by `tickgate serve` but only in an extra"
