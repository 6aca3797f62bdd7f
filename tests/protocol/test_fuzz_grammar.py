"""Both dialects' parsers over generated commands: only `ProtocolError` ever escapes.

The commands come from `tests.protocol.grammar`: the grammar's own parts mixed with hostile ones
(JSON nested hundreds of levels, out-of-range numbers, Unicode spaces and digits). Every refusal
must also be something the server can send back: a short message that encodes as an error frame.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocol.grammar import (
    CURRENT_SHAPES,
    DEPTHS,
    OPTION_KEYS,
    current_command,
    legacy_command,
)

from tickgate.errors import ProtocolError
from tickgate.protocol import current, legacy
from tickgate.protocol import current_frames as frames
from tickgate.protocol.legacy import ASCII_WHITESPACE

#: An error message stays readable whatever the input: no echo of a whole client message.
MAX_ERROR_LENGTH = 400


def assert_sendable(error: ProtocolError) -> None:
    assert error.message and len(error.message) <= MAX_ERROR_LENGTH, error.message
    orjson.loads(frames.encode_error(error.message, error.topic))
    orjson.loads(legacy.encode_error(error.message, error.topic))


@settings(max_examples=400)
@given(current_command())
def test_current_dialect_commands_parse_or_raise_a_sendable_protocol_error(text: str) -> None:
    try:
        current.parse(text)
    except ProtocolError as error:
        assert_sendable(error)


@settings(max_examples=400)
@given(legacy_command())
def test_seed_dialect_commands_parse_or_raise_a_sendable_protocol_error(text: str) -> None:
    try:
        command = legacy.parse(text)
    except ProtocolError as error:
        assert_sendable(error)
        return
    # Accepted: then nothing but ASCII whitespace padded the command's parts.
    head = text.split("{", 1)[0]
    assert not any(c.isspace() and c not in ASCII_WHITESPACE for c in head), (text, command)


@given(
    st.sampled_from(sorted(CURRENT_SHAPES)),
    st.sampled_from(OPTION_KEYS),
    DEPTHS,
    st.sampled_from(["[", '{"a":']),
)
def test_nesting_at_any_depth_in_any_option_is_a_protocol_error_or_fine(
    verb: str, key: str, depth: int, opener: str
) -> None:
    targets = {"conid": "265598", "account": "DU1234567", "id": "100001"}
    closer = "]" if opener == "[" else "}"
    value = opener * depth + ("" if opener == "[" else "1") + closer * depth
    parts = [verb, *(targets[kind] for kind in CURRENT_SHAPES[verb])]
    try:
        current.parse("+".join(parts) + "+{" + f'"{key}":{value}' + "}")
    except ProtocolError as error:
        assert_sendable(error)
    seed = f's+md+265598+{{"{key}":{value}}}'
    try:
        legacy.parse(seed)
    except ProtocolError as error:
        assert_sendable(error)
