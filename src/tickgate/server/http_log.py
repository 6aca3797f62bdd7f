"""The logger of aiohttp's HTTP server, with malformed requests as one WARNING line.

aiohttp logs a request it cannot parse (bad request line, oversized header, invalid chunking)
as an ERROR with a traceback of its own parser. That is the client's mistake, not the server's:
`server_logger()` turns such records into one WARNING line naming the client and the problem,
and leaves every other record (a real failure) as it was.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

NAME = "tickgate.http"
_MAX_PROBLEM = 120


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
