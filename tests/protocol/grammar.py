"""Hypothesis strategies for client commands of both WebSocket dialects, valid and hostile.

Commands are built from the grammar's own parts (verbs, topics, conids, accounts, JSON options)
and mixed with what broke or could break the gateway: JSON nested hundreds of levels deep,
numbers beyond any range, Unicode spaces and digits, stray separators, control characters.
Shared by the parser-level property tests and the fuzzers that run over a real socket.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

CONIDS = ["265598", "272093", "8314", "0", "-1", "99999999999", "١٢٣", "²", "265598@SMART"]
ACCOUNTS = ["DU1234567", "DU9999999", "", "DU 1", "x" * 40, "../etc"]
SPACES = ["", " ", "\t", "\r\n", "\u00a0", "\u2003", "\u3000", "\ufeff"]
FIELDS = ["31", "84", "86", "55", "7051", "99999", "1e9", "", " 31 ", "٣١"]

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(FIELDS)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _deep(depth: int, opener: str, closer: str) -> str:
    return opener * depth + closer * depth


#: Nesting depths around the limits that matter: ours (8), orjson's writer (255), its reader (1024).
DEPTHS = st.sampled_from([8, 9, 255, 256, 300, 1023, 1024, 1100]) | st.integers(2, 1100)

#: JSON text for one option value, as a client may type it (not always valid JSON).
OPTION_VALUE_TEXT = st.one_of(
    JSON_VALUES.map(json.dumps),
    DEPTHS.map(lambda n: _deep(n, "[", "]")),
    DEPTHS.map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(['"1e999999"', "1e999999", "-0", "NaN", '"\\ud800"', "[", "}", ""]),
)
OPTION_KEYS = [
    "fields",
    "keys",
    "filters",
    "tempo",
    "snapshot",
    "days",
    "realtimeUpdatesOnly",
    "outside_rth",
    "period",
    "bar",
    "source",
    "exchange",
    "session",
]


@st.composite
def options_text(draw: st.DrawFn) -> str:
    """A JSON options object as text, with hostile values in known keys."""
    # The list-valued options, which reach the most code, come up most often.
    listed = st.sampled_from(["fields", "keys", "filters"])
    keys = draw(st.lists(listed | st.sampled_from(OPTION_KEYS), max_size=3, unique=True))
    members = [f'"{key}":{draw(OPTION_VALUE_TEXT)}' for key in keys]
    return "{" + ",".join(members) + "}"


def _joined(draw: st.DrawFn, parts: list[str]) -> str:
    separator = draw(st.sampled_from(["+", "+", " + ", "+\u00a0", "++"]))
    pad = draw(st.sampled_from(SPACES))
    return pad + separator.join(parts) + draw(st.sampled_from(SPACES))


@st.composite
def portal_command(draw: st.DrawFn) -> str:
    """A command of the portal dialect (`/v1/portal/ws`), often malformed."""
    verb = draw(st.sampled_from(["s", "u", "x", "S", ""]))
    topic = draw(st.sampled_from(["md", "realtime-account-data", "foo", ""]))
    target = draw(st.sampled_from(CONIDS if topic == "md" else ACCOUNTS))
    parts = [verb, topic, target]
    if draw(st.booleans()):
        parts.append(draw(options_text()))
    return _joined(draw, parts)


#: The targets each verb of the api dialect takes (protocol reference §4.3).
CURRENT_SHAPES: dict[str, tuple[str, ...]] = {
    "smd": ("conid",),
    "umd": ("conid",),
    "smh": ("conid",),
    "umh": ("id",),
    "sbd": ("account", "conid"),
    "ubd": ("account",),
    "sor": (),
    "uor": (),
    "str": (),
    "utr": (),
    "spl": (),
    "upl": (),
    "ssd": ("account",),
    "usd": ("account",),
    "sld": ("account",),
    "uld": ("account",),
    "xyz": ("conid",),
}
_TARGETS = {"conid": CONIDS, "account": ACCOUNTS, "id": ["100001", "1", "", "a b"]}


@st.composite
def api_command(draw: st.DrawFn) -> str:
    """A command of the api dialect (`/v1/api/ws`), often malformed."""
    kind = draw(st.sampled_from(["verb", "verb", "verb", "tic", "ech", "json"]))
    if kind == "tic":
        return draw(st.sampled_from(SPACES)) + "tic"
    if kind == "ech":
        return "ech+" + draw(st.text(max_size=20))
    if kind == "json":
        return '{"session":' + draw(OPTION_VALUE_TEXT) + "}"
    verb = draw(st.sampled_from(sorted(CURRENT_SHAPES)))
    if draw(st.integers(0, 4)):  # mostly the verb's own shape, so deeper checks are reached
        targets = [draw(st.sampled_from(_TARGETS[kind])) for kind in CURRENT_SHAPES[verb]]
    else:
        targets = draw(st.lists(st.sampled_from(CONIDS + ACCOUNTS), max_size=3))
    parts = [verb, *targets]
    if draw(st.booleans()):
        parts.append(draw(options_text()))
    return _joined(draw, parts)


#: The options each verb reads, where a nested value reaches the most code.
_VERB_OPTIONS = {
    "smd": ["fields"],
    "smh": ["period", "bar", "source", "exchange", "outside_rth"],
    "sor": ["filters"],
    "str": ["days", "realtimeUpdatesOnly"],
    "ssd": ["keys", "fields"],
    "sld": ["keys", "fields"],
}
_SHAPE_TARGETS = {"conid": "265598", "account": "DU1234567", "id": "100001"}


def _nested_value(depth: int, opener: str) -> str:
    if opener == "[":
        return _deep(depth, "[", "]")
    return opener * depth + "1" + "}" * depth


@st.composite
def nested_api_command(draw: st.DrawFn) -> str:
    """A well-formed command of the api dialect with one option nested `DEPTHS` deep."""
    verb = draw(st.sampled_from(sorted(CURRENT_SHAPES)))
    own = _VERB_OPTIONS.get(verb)
    key = draw(st.sampled_from(own if own and draw(st.integers(0, 4)) else OPTION_KEYS))
    value = _nested_value(draw(DEPTHS), draw(st.sampled_from(["[", '{"a":'])))
    parts = [verb, *(_SHAPE_TARGETS[kind] for kind in CURRENT_SHAPES[verb])]
    return "+".join(parts) + "+{" + f'"{key}":{value}' + "}"


@st.composite
def nested_portal_command(draw: st.DrawFn) -> str:
    """`s+md+265598` with one option nested `DEPTHS` deep."""
    key = draw(st.sampled_from(["fields", "tempo", "snapshot", "other"]))
    value = _nested_value(draw(DEPTHS), draw(st.sampled_from(["[", '{"a":'])))
    return f's+md+265598+{{"{key}":{value}}}'
