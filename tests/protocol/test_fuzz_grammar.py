"""Both dialects' parsers over generated commands: only `ProtocolError` ever escapes.

The commands come from `tests.protocol.grammar`: the grammar's own parts mixed with hostile ones
(JSON nested hundreds of levels, out-of-range numbers, Unicode spaces and digits). Every refusal
must also be something the server can send back: a short message that encodes as an error frame.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from tests.protocol.grammar import (
    api_command,
    nested_api_command,
    nested_portal_command,
    portal_command,
)

from tickgate.errors import ProtocolError
from tickgate.protocol import portal
from tickgate.protocol.api import frames
from tickgate.protocol.api import grammar as api
from tickgate.protocol.portal import ASCII_WHITESPACE

#: An error message stays readable whatever the input: no echo of a whole client message.
MAX_ERROR_LENGTH = 400


def assert_sendable(error: ProtocolError) -> None:
    assert error.message and len(error.message) <= MAX_ERROR_LENGTH, error.message
    orjson.loads(frames.encode_error(error.message, error.topic))
    orjson.loads(portal.encode_error(error.message, error.topic))


@settings(max_examples=400)
@given(api_command())
def test_api_dialect_commands_parse_or_raise_a_sendable_protocol_error(text: str) -> None:
    try:
        api.parse(text)
    except ProtocolError as error:
        assert_sendable(error)


@settings(max_examples=400)
@given(portal_command())
def test_seed_dialect_commands_parse_or_raise_a_sendable_protocol_error(text: str) -> None:
    try:
        command = portal.parse(text)
    except ProtocolError as error:
        assert_sendable(error)
        return
    # Accepted: then nothing but ASCII whitespace padded the command's parts.
    head = text.split("{", 1)[0]
    assert not any(c.isspace() and c not in ASCII_WHITESPACE for c in head), (text, command)


@given(nested_api_command(), nested_portal_command())
def test_nesting_at_any_depth_in_any_option_is_refused_with_a_sendable_error(
    api_text: str, portal_text: str
) -> None:
    for parse, text in ((api.parse, api_text), (portal.parse, portal_text)):
        try:
            parse(text)
        except ProtocolError as error:
            assert_sendable(error)
