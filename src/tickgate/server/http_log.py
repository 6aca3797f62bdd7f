"""The logger of aiohttp's HTTP server, with malformed requests as one WARNING line, and what
the client is told about them.

aiohttp logs a request it cannot parse (bad request line, oversized header, invalid chunking)
as an ERROR with a traceback of its own parser. That is the client's mistake, not the server's:
`server_logger()` turns such records into one WARNING line naming the client and the problem,
and leaves every other record (a real failure) as it was. `parser_problem` words the problem
for the client's JSON answer without the request bytes aiohttp's message quotes.
"""

from __future__ import annotations

import logging
import re

from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

NAME = "tickgate.http"
_MAX_PROBLEM = 120
#: Where aiohttp's message starts quoting the request: `: b'...'` or `: bytearray(b'...')`.
_QUOTE = re.compile(r":?\s*(bytearray\()?b['\"].*", re.DOTALL)
_LIMIT = re.compile(r"more than (\d+) bytes")


def parser_problem(error: HttpProcessingError) -> str:
    """What is wrong with a request aiohttp's parser refused, for the client: aiohttp's words
    without the part of the request they quote (a client is never sent back raw bytes it
    sent, nor a secret among them), and for a URL with raw non-ASCII characters how to send
    them instead."""
    if isinstance(error, LineTooLong):
        limit = _LIMIT.search(str(error.message))
        allowed = f" {limit.group(1)}" if limit else ""
        return f"request head too large: a line of it is longer than the{allowed} bytes allowed"
    # The description comes before the blank line that precedes the quoted request line.
    described = _QUOTE.sub("", str(error.message).split("\n\n", 1)[0])
    parts = [part.strip().rstrip(":").strip() for part in described.splitlines()]
    problem = ": ".join(part for part in parts if part) or "malformed request"
    if problem.startswith("Invalid char in url"):
        problem += " (percent-encode non-ASCII characters as UTF-8, e.g. %C3%A9)"
    return f"malformed HTTP request: {problem}"


class MalformedRequestFilter(logging.Filter):
    """Rewrites records whose exception is an HTTP parsing error; see the module docstring."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            problem = " ".join(str(error.message).split())[:_MAX_PROBLEM]
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = "malformed HTTP request from %s: %s", (remote, problem)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def server_logger() -> logging.Logger:
    """The logger to give aiohttp's server (`logger=`): `tickgate.http`, filter installed once."""
    logger = logging.getLogger(NAME)
    if not any(isinstance(f, MalformedRequestFilter) for f in logger.filters):
        logger.addFilter(MalformedRequestFilter())
    return logger
