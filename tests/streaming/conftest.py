"""Both fan-out cores: the outbox tests run on each one that is importable here."""

from __future__ import annotations

import pytest

from tickgate.streaming.fanout import IMPLEMENTATIONS
from tickgate.streaming.outbox import Outbox, outbox_on


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def core(request: pytest.FixtureRequest) -> str:
    """The name of a fan-out core ("c" where the extension was built, and "python")."""
    name: str = request.param
    return name


@pytest.fixture
def outbox_class(core: str) -> type[Outbox]:
    """The outbox class on `core`."""
    return outbox_on(core)
