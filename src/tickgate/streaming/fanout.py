"""Which fan-out core the outboxes run on: the compiled `_fanout` or its pure-Python twin.

The C extension is built by `pip install` when a compiler and Python's headers are present;
without them the install still succeeds and everything runs on `_fanout_py`, which behaves the
same call by call. `TICKGATE_PURE_PYTHON=1` forces the pure-Python core (read at import).
`IMPLEMENTATION` names the one in use ("c" or "python"); `tickgate serve` logs it at start.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

from tickgate.streaming import _fanout_py


def _available() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    try:
        from tickgate.streaming import _fanout
    except ImportError:  # not built: no compiler at install time
        pass
    else:
        found["c"] = _fanout
    found["python"] = _fanout_py
    return found


#: Every core importable here, by name ("c" only if the extension was built); tests run each.
IMPLEMENTATIONS = _available()
#: The core in use: "c" when built, unless TICKGATE_PURE_PYTHON=1; else "python".
IMPLEMENTATION = (
    "c" if "c" in IMPLEMENTATIONS and os.environ.get("TICKGATE_PURE_PYTHON") != "1" else "python"
)

if TYPE_CHECKING:
    from tickgate.streaming._fanout import WRITE_SAMPLE_EVERY, OutboxCore, publish
else:
    _active = IMPLEMENTATIONS[IMPLEMENTATION]
    OutboxCore, publish = _active.OutboxCore, _active.publish
    WRITE_SAMPLE_EVERY = _active.WRITE_SAMPLE_EVERY

__all__ = ["IMPLEMENTATION", "IMPLEMENTATIONS", "WRITE_SAMPLE_EVERY", "OutboxCore", "publish"]
