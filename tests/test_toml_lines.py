"""Line numbers of TOML keys: the scanner must skip what only looks like a key."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.toml_lines import key_lines, line_of

DOCUMENT = '''\
# a comment with key = 1
port = 5000   # trailing = comment
"quoted.key" = 1
text = """
fake = 1
[not_a_table]
"""
literal = \'\'\'
[[nor_this]]
\'\'\'
items = [
  1, # a comment = inside
  "a]b", "c\\"d" ,
]
a.b.c = 2
inline = { p = 1, q = [1, 2] }

[[accounts]]
id = "A"
[[accounts]]
  id = "B"
  "cur rency" = "USD"
[accounts.extra]
k = 1
[server . "tls"]
host = "h"
'''


def test_every_key_and_header_has_its_line() -> None:
    assert tomllib.loads(DOCUMENT)  # the scanner only ever sees text tomllib accepts
    assert key_lines(DOCUMENT) == {
        ("port",): 2,
        ("quoted.key",): 3,
        ("text",): 4,
        ("literal",): 8,
        ("items",): 11,
        ("a",): 15,
        ("a", "b"): 15,
        ("a", "b", "c"): 15,
        ("inline",): 16,
        ("accounts",): 18,
        ("accounts", 0): 18,
        ("accounts", 0, "id"): 19,
        ("accounts", 1): 20,
        ("accounts", 1, "id"): 21,
        ("accounts", 1, "cur rency"): 22,
        ("accounts", 1, "extra"): 23,
        ("accounts", 1, "extra", "k"): 24,
        ("server", "tls"): 25,
        ("server", "tls", "host"): 26,
    }


def test_a_key_inside_a_value_answers_with_its_parent() -> None:
    lines = key_lines(DOCUMENT)
    assert line_of(lines, ("inline", "q", 1)) == 16
    assert line_of(lines, ("accounts", 1, "extra", "k")) == 24
    assert line_of(lines, ("nowhere",)) is None


def test_text_tomllib_refuses_is_refused() -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        key_lines('x = "open\n')


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)


@given(
    st.lists(st.tuples(NAMES, st.integers(0, 3)), min_size=1, max_size=8, unique_by=lambda t: t[0])
)
def test_any_quoted_key_is_found_on_its_line(keys: list[tuple[str, int]]) -> None:
    """Keys with dots, quotes, brackets or `=` in them, after values spread over lines."""
    text, expected, line = "", {}, 1
    for name, blank_lines in keys:
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        value = '"""\n' + "x = 1\n" * blank_lines + '"""'
        text += "\n" * blank_lines
        line += blank_lines
        expected[(name,)] = line
        text += f"{quoted} = {value}\n"
        line += 2 + blank_lines  # the value opens a line and takes blank_lines more
    assert tomllib.loads(text).keys() == {name for name, _ in keys}
    assert key_lines(text) == expected
