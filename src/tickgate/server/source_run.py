"""One gateway's data source and the task that runs it, as the probes and `/metrics` see them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from tickgate.sources.base import DataSource


class SourceRun:
    """The source the composition root picked, and its task once the app's startup began it.

    Built by the root beside the source; only the app's background context starts it."""

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def started(self) -> bool:
        return self._task is not None

    @property
    def running(self) -> bool:
        """True from the start until the task ends (crashes are restarted inside it)."""
        return self._task is not None and not self._task.done()

    def problem(self) -> str | None:
        """Why the source cannot deliver data although its task runs (a relay whose upstream
        is down), or None. A source says so with a `problem()` method of its own."""
        report = getattr(self.source, "problem", None)
        found = report() if callable(report) else None
        return found if isinstance(found, str) else None

    def start(self, run: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `run` (the supervised source loop) as this source's task. Raises RuntimeError
        when started twice."""
        if self._task is not None:
            raise RuntimeError(f"the {self.name} source was started twice")
        self._task = asyncio.create_task(run)
        return self._task


SOURCE_RUN = web.AppKey("source_run", SourceRun)
