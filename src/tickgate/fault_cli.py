"""`tickgate fault ...`: inject, list and clear faults on a running gateway (docs/control.md).

The command only builds the `/tickgate/faults/...` request from its options: the gateway
checks every value and answers a bad one with a 400, which the command prints as its error.
"""

from __future__ import annotations

import argparse
from typing import Any

KINDS = ("list", "clear", "drop", "logout", "competing", "expire", "rest", "heartbeat", "latency")
#: Option name -> the body key it sets (options left out are not sent).
OPTIONS = {
    "code": "code",
    "reason": "reason",
    "seconds": "seconds",
    "calls": "calls",
    "retry_after": "retryAfter",
    "error": "error",
    "ms": "ms",
    "min_ms": "minMs",
    "max_ms": "maxMs",
    "seed": "seed",
    "path": "path",
}


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `tickgate fault` to the `tickgate` subparsers."""
    fault = commands.add_parser(
        "fault",
        parents=[common],
        help="inject, list or clear faults: drop sockets, logout, competing, expire, "
        "rest errors, stalled heartbeat, latency",
        description="Examples: `tickgate fault drop --code 1011`, `tickgate fault rest "
        "/iserver/marketdata/snapshot 429 --calls 3`, `tickgate fault latency ws --ms 200`, "
        "`tickgate fault list`, `tickgate fault clear [ID]`.",
    )
    fault.add_argument("kind", choices=KINDS)
    fault.add_argument(
        "values",
        nargs="*",
        help="clear: a fault id; rest: PATH STATUS; latency: rest|ws [PATH]",
    )
    fault.add_argument("--code", type=int, help="drop: the close code (default 1001)")
    fault.add_argument("--reason", help="drop: the close reason")
    fault.add_argument("--abort", action="store_true", help="drop: no close frame at all")
    fault.add_argument("--seconds", type=float, help="how long the fault lasts")
    fault.add_argument("--calls", type=int, help="rest, latency rest: for how many answers")
    fault.add_argument("--retry-after", type=int, help="rest 429: the Retry-After seconds")
    fault.add_argument("--error", help="rest: the error text of the answer")
    fault.add_argument("--ms", type=float, help="latency: a fixed delay")
    fault.add_argument("--min-ms", type=float, help="latency: the shortest random delay")
    fault.add_argument("--max-ms", type=float, help="latency: the longest random delay")
    fault.add_argument("--seed", type=int, help="latency: the random source's seed")
    fault.add_argument("--path", help="latency rest: the route (default *)")


class UsageError(ValueError):
    """The command line does not make a request."""


def request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path, JSON body) of the request `args` asks for. Raises UsageError."""
    kind, values = args.kind, list(args.values)
    if kind == "list":
        _no_more(values, kind)
        return "GET", "/tickgate/faults", None
    if kind == "clear":
        if len(values) > 1:
            raise UsageError("tickgate fault clear takes at most one fault id")
        return ("DELETE", f"/tickgate/faults/{values[0]}" if values else "/tickgate/faults", None)
    given = {key: getattr(args, name) for name, key in OPTIONS.items()}
    body: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if args.abort:
        body["abort"] = True
    if kind == "rest":
        if len(values) != 2 or not values[1].isdigit():
            raise UsageError("tickgate fault rest needs PATH STATUS, e.g. /tickle 503")
        body.update(path=values[0], status=int(values[1]))
    elif kind == "latency":
        if not values or values[0] not in ("rest", "ws") or len(values) > 2:
            raise UsageError("tickgate fault latency needs rest|ws [PATH]")
        body["target"] = values[0]
        if len(values) == 2:
            body["path"] = values[1]
    else:
        _no_more(values, kind)
    return "POST", f"/tickgate/faults/{kind}", body


def _no_more(values: list[str], kind: str) -> None:
    if values:
        raise UsageError(f"tickgate fault {kind} takes no value, got {' '.join(values)!r}")
