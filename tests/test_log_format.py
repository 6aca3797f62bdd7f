"""The log formats: JSON lines that parse, ids from the context, secrets redacted."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from tickgate import log_format
from tickgate.log_format import LOG_CONTEXT, add_secrets, make_handler


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing to one JSON and one text stream."""
    json_out, text_out = io.StringIO(), io.StringIO()
    log = logging.getLogger("tickgate.test_log_format")
    handlers = [make_handler("json", json_out), make_handler("text", text_out)]
    for handler in handlers:
        log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield log, json_out, text_out
    for handler in handlers:
        log.removeHandler(handler)


def test_json_lines_parse_one_per_event_with_the_context_id(
    logger: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    log, json_out, text_out = logger
    log.info("plain %s", "event")
    token = LOG_CONTEXT.set(("request_id", "r-7"))
    try:
        log.warning("multi\nline message")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
    finally:
        LOG_CONTEXT.reset(token)
    lines = json_out.getvalue().splitlines()
    assert len(lines) == 3
    entries = [orjson.loads(line) for line in lines]
    assert entries[0]["message"] == "plain event" and "request_id" not in entries[0]
    assert entries[0]["level"] == "info" and entries[0]["logger"] == "tickgate.test_log_format"
    assert entries[0]["time"].endswith("+00:00")
    assert entries[1] == {**entries[1], "message": "multi\nline message", "request_id": "r-7"}
    assert entries[2]["level"] == "error" and "ValueError: boom" in entries[2]["exception"]
    assert "[request_id=r-7]" in text_out.getvalue().splitlines()[1]


def test_registered_secrets_are_redacted_everywhere(
    logger: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    log, json_out, text_out = logger
    secret = "s3cret-token-value-123"
    remove = add_secrets(lambda: (secret, None, "short"))
    try:
        log.info("header was Bearer %s", secret)
        try:
            raise RuntimeError(f"bad {secret}")
        except RuntimeError:
            log.exception("failed")
        log.info("short values are left alone: short")
    finally:
        remove()
    log.info("after removal %s", secret)
    for out in (json_out, text_out):
        written = out.getvalue()
        assert written.count(secret) == 1 and "after removal" in written
        assert written.count(log_format.REDACTED) >= 2
        assert "left alone: short" in written


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        make_handler("xml")
