"""Failures of the gateway's parts, contained, counted and reported.

A part that fails on every tick (one bad order, a broken listener) must neither stop the others
nor flood the log. `Health` counts each failure per component and logs it with its traceback the
first time, then at most one summary line per `log_interval_ns` saying how many more failures
there were and the latest one. `report()` is what `/tickgate/status` shows.

A component is healthy when it has not failed during the last `recovery_ns`: a part that failed
once and then kept working reads healthy again, while its failure count stays visible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tickgate.clock import NS_PER_S

log = logging.getLogger("tickgate.health")

LOG_INTERVAL_NS = 60 * NS_PER_S
RECOVERY_NS = 60 * NS_PER_S


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last_error: str = ""
    last_context: str = ""
    last_failure_ns: int = 0
    last_logged_ns: int = 0
    unlogged: int = 0


class Health:
    """Failure counters per named component. Event loop thread only (not thread-safe)."""

    def __init__(
        self,
        monotonic_ns: Callable[[], int],
        *,
        log_interval_ns: int = LOG_INTERVAL_NS,
        recovery_ns: int = RECOVERY_NS,
    ) -> None:
        self._now = monotonic_ns
        self.log_interval_ns = log_interval_ns
        self.recovery_ns = recovery_ns
        self._records: dict[str, _Record] = {}

    def register(self, component: str) -> None:
        """Make `component` appear in the report (healthy) before it ever fails."""
        self._records.setdefault(component, _Record())

    def failed(self, component: str, context: str, exc: BaseException) -> None:
        """Count a failure of `component` while doing `context` (e.g. "conid 265598").

        Logs the first failure with its traceback, later ones as one summary line at most every
        `log_interval_ns`. Never raises.
        """
        now = self._now()
        record = self._records.setdefault(component, _Record())
        first = record.failures == 0
        record.failures += 1
        record.last_error = f"{type(exc).__name__}: {exc}"
        record.last_context = context
        record.last_failure_ns = now
        if first:
            record.last_logged_ns = now
            log.error(
                "%s failed on %s; contained, the rest of the gateway carries on",
                component,
                context,
                exc_info=exc,
            )
        elif now - record.last_logged_ns >= self.log_interval_ns:
            log.error(
                "%s failed %d more times (%d in all); latest on %s: %s",
                component,
                record.unlogged + 1,
                record.failures,
                context,
                record.last_error,
            )
            record.last_logged_ns = now
            record.unlogged = 0
        else:
            record.unlogged += 1

    def healthy(self, component: str) -> bool:
        """False while `component` failed within the last `recovery_ns`."""
        record = self._records.get(component)
        return record is None or not self._recent(record)

    def report(self) -> dict[str, Any]:
        """`{"healthy": all ok, "components": {name: {healthy, failures, lastError, lastFailure,
        secondsSinceFailure}}}` for every component registered or failed so far."""
        now = self._now()
        components: dict[str, Any] = {}
        for name, record in self._records.items():
            entry: dict[str, Any] = {"healthy": not self._recent(record), "failures": 0}
            if record.failures:
                entry.update(
                    failures=record.failures,
                    lastError=record.last_error,
                    lastFailureOn=record.last_context,
                    secondsSinceFailure=round((now - record.last_failure_ns) / NS_PER_S, 3),
                )
            components[name] = entry
        return {
            "healthy": all(entry["healthy"] for entry in components.values()),
            "components": components,
        }

    def _recent(self, record: _Record) -> bool:
        return record.failures > 0 and self._now() - record.last_failure_ns < self.recovery_ns
