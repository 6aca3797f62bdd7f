"""Where each key of a TOML document is written, so configuration messages can name the line.

`tomllib`, which reads every TOML file tickgate takes, returns plain dicts without positions, and
`tomlkit`, which keeps a document's formatting for editing, has no public line numbers either.
So this scanner runs only on text `tomllib` has already accepted: it needs to find where keys and
table headers begin, skipping comments, strings (multi-line ones included) and values that span
lines, and it hands the text of each key back to `tomllib` to decode, so quoting and escapes
follow the parser's own rules rather than a second implementation of them.
"""

from __future__ import annotations

import tomllib
from typing import Any

#: A place in a document: table and key names, and the index of an entry of an array of tables.
KeyPath = tuple[str | int, ...]


def key_lines(text: str) -> dict[KeyPath, int]:
    """The 1-based line of every key and table header of `text`, which `tomllib` accepts.

    A key `k` under `[t]` is `("t", "k")`; the N-th `[[a]]` header (from 0) is `("a", N)` and its
    keys `("a", N, "k")`; a dotted key `x.y = 1` lists `("x",)` and `("x", "y")`. Keys inside
    inline tables and arrays are not listed: `line_of` answers for them with the line of the
    nearest listed parent. Raises `tomllib.TOMLDecodeError` for text `tomllib` refuses (the
    scanner relies on the text being valid, so it checks).
    """
    tomllib.loads(text)
    return _Scanner(text).scan()


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of its nearest parent that `lines` lists; None for neither."""
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def _decoded_key(key_text: str) -> tuple[str, ...]:
    """The names of a (possibly dotted and quoted) key, decoded by `tomllib` itself."""
    node: Any = tomllib.loads(f"{key_text} = 0")
    names: list[str] = []
    while isinstance(node, dict):
        ((name, node),) = node.items()
        names.append(name)
    return tuple(names)


class _Scanner:
    """One pass over the text: statements start at line beginnings outside values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.table: KeyPath = ()
        self.lines: dict[KeyPath, int] = {}
        #: Entries seen so far of each array of tables (by its resolved path).
        self.entries: dict[KeyPath, int] = {}

    def scan(self) -> dict[KeyPath, int]:
        while self.pos < len(self.text):
            self._skip_blanks()
            char = self._peek()
            if char in ("", "\n"):
                self._advance()
            elif char == "#":
                self._skip_comment()
            elif char == "[":
                self._header()
            else:
                self._key_value()
        return self.lines

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _more(self) -> bool:
        return self.pos < len(self.text)

    def _advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.pos < len(self.text):
                if self.text[self.pos] == "\n":
                    self.line += 1
                self.pos += 1

    def _skip_blanks(self) -> None:
        while self._peek() in (" ", "\t", "\r"):
            self._advance()

    def _skip_comment(self) -> None:
        while self._peek() not in ("", "\n"):
            self._advance()

    def _header(self) -> None:
        line = self.line
        is_array = self._peek(1) == "["
        self._advance(2 if is_array else 1)
        start = self.pos
        while self._more() and self._peek() != "]":
            self._skip_string() if self._peek() in ('"', "'") else self._advance()
        names = _decoded_key(self.text[start : self.pos])
        self._advance(2 if is_array else 1)
        path = self._resolved(names)
        if is_array:
            index = self.entries.get(path, -1) + 1
            self.entries[path] = index
            self.lines.setdefault(path, line)
            path = (*path, index)
        self.lines.setdefault(path, line)
        self.table = path

    def _resolved(self, names: tuple[str, ...]) -> KeyPath:
        """A header's names with the current entry of each array of tables they pass through."""
        path: KeyPath = ()
        for name in names:
            path = (*path, name)
            if path in self.entries:
                path = (*path, self.entries[path])
        # The last name is the header's own table: its entry index is added by the caller.
        if path and isinstance(path[-1], int) and path[:-1] in self.entries:
            path = path[:-1]
        return path

    def _key_value(self) -> None:
        line = self.line
        start = self.pos
        while self._more() and self._peek() != "=":
            self._skip_string() if self._peek() in ('"', "'") else self._advance()
        names = _decoded_key(self.text[start : self.pos])
        self._advance()
        for end in range(1, len(names) + 1):
            self.lines.setdefault((*self.table, *names[:end]), line)
        self._skip_value()

    def _skip_value(self) -> None:
        """To the end of the value: its strings, nested arrays and comments between items."""
        depth = 0
        while True:
            char = self._peek()
            if char == "":
                return
            if char in ('"', "'"):
                self._skip_string()
            elif char == "#":
                self._skip_comment()
            elif char == "\n" and depth == 0:
                return
            else:
                depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
                self._advance()

    def _skip_string(self) -> None:
        quote = self._peek()
        if self._peek(1) == quote and self._peek(2) == quote:
            self._advance(3)
            while self._more() and self.text[self.pos : self.pos + 3] != quote * 3:
                if quote == '"' and self._peek() == "\\":
                    self._advance()
                self._advance()
            self._advance(3)
            # A multi-line string may end in one or two more quotes of its own.
            while self._peek() == quote:
                self._advance()
            return
        self._advance()
        while self._more() and self._peek() != quote:
            if quote == '"' and self._peek() == "\\":
                self._advance()
            self._advance()
        self._advance()
