"""How deeply a client's JSON value may nest, shared by both WebSocket dialects.

orjson reads up to 1,024 levels but writes only 255, so a value that parses may still fail when
it is shown back in an error message or re-encoded. No command of either dialect needs more than
two levels (an options object holding a list), so anything deeper is refused at the parser,
before any other code sees it.
"""

from __future__ import annotations

#: Levels of arrays/objects a client's JSON may have (the options object itself is level 1).
MAX_JSON_DEPTH = 8


def exceeds_depth(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `value` has more than `limit` nested levels of lists and dicts.

    Iterative (no recursion), and it stops descending at `limit + 1` levels, so its cost is
    bounded by the size of `value` whatever its depth.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def depth_error(limit: int = MAX_JSON_DEPTH) -> str:
    """The message a client gets for JSON nested too deeply."""
    return f"JSON nested more than {limit} levels deep; commands need at most 2"
