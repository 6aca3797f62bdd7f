"""How log records are written: `text` for people, `json` (one object per line) for collectors.

Each line carries the id of the HTTP request or WebSocket connection it happened in, taken from
a context variable the server sets per request (`LOG_CONTEXT`); tasks a connection starts
inherit it, as asyncio copies the context into every task.

Secrets never reach a line: every formatted line (message, arguments and traceback alike) has
each value the registered secret providers return (`add_secrets`: the gateway's token and its
session ids) replaced by `[redacted]`. That is a safety net under the rule that nothing logs
such values in the first place.
"""

from __future__ import annotations

import datetime
import logging
import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import IO, Any

import orjson

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"
#: Values shorter than this are not treated as secrets (redacting "1" would ruin every line).
MIN_SECRET_LENGTH = 8

#: `(kind, id)` of the request or connection being served, e.g. `("request_id", "r-17")`.
LOG_CONTEXT: ContextVar[tuple[str, str] | None] = ContextVar("tickgate_log_context", default=None)

SecretProvider = Callable[[], Iterable[str | None]]
_providers: list[SecretProvider] = []


def add_secrets(provider: SecretProvider) -> Callable[[], None]:
    """Redact every value `provider()` returns (asked at each line) from all log lines written
    through tickgate's formatters. Returns a function that removes the provider again."""
    _providers.append(provider)

    def remove() -> None:
        if provider in _providers:
            _providers.remove(provider)

    return remove


def redact(line: str) -> str:
    """`line` with every current secret replaced by `[redacted]`."""
    for provider in list(_providers):
        for secret in provider():
            if secret and len(secret) >= MIN_SECRET_LENGTH and secret in line:
                line = line.replace(secret, REDACTED)
    return line


class TextFormatter(logging.Formatter):
    """`TIME LEVEL LOGGER [request_id=r-17]: MESSAGE` (the bracket only where there is an id),
    a traceback on the lines below when there is one; redacted."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        context = LOG_CONTEXT.get()
        where = f" [{context[0]}={context[1]}]" if context is not None else ""
        return f"{record.asctime} {record.levelname} {record.name}{where}: {record.message}"

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: `time` (UTC, ISO 8601), `level`, `logger`,
    `message`, the request or connection id when there is one, and `exception` (the
    traceback, newlines escaped) when the record has one. Redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = LOG_CONTEXT.get()
        if context is not None:
            entry[context[0]] = context[1]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return redact(orjson.dumps(entry).decode())


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing to `stream` (stderr by default) in `log_format` (see `FORMATS`).
    Raises ValueError for another format."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure(level: str, log_format: str) -> None:
    """Send the process's log records at `level` and above to stderr in `log_format`, replacing
    any handler set before (the composition root calls it once)."""
    logging.basicConfig(level=level.upper(), handlers=[make_handler(log_format)], force=True)
