"""The commands that watch and drive a running gateway over its public API: `tail`, `order`,
`positions`, `status`, `market`, `session` and `fault` (`tickgate.fault_cli`). `tickgate.cli`
registers and dispatches them.

Output is for scripts first: one JSON object per line (NDJSON) on stdout, `--count N` to stop
after N lines, errors on stderr with exit status 1. `tail md --table` redraws a terminal table
instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TextIO

import orjson

from tickgate import fault_cli
from tickgate.config import environment_token
from tickgate.server.api_client import ClientError, GatewayClient, Target

COMMANDS = ("tail", "order", "positions", "status", "market", "session", "fault")
DEFAULT_FIELDS = "31,84,86"
#: Field ids shown as the table's column titles.
FIELD_NAMES = {
    "31": "last",
    "84": "bid",
    "86": "ask",
    "85": "ask size",
    "88": "bid size",
    "7059": "last size",
    "87": "volume",
    "82": "change",
    "83": "change %",
}
#: Account topics of `/v1/api/ws` that `tail` follows.
ACCOUNT_TOPICS = {"orders": "sor", "trades": "str", "pnl": "spl"}

Write = Callable[[str], None]
Ask = Callable[[str], str]


def connection_options() -> argparse.ArgumentParser:
    """The options every command that calls a gateway takes (a parent parser): `--url`,
    `--data-dir`, `--insecure`, `--token`. `target` reads them."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default="https://127.0.0.1:5000", help="gateway base URL")
    common.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./tickgate-data"),
        help="the gateway's data directory, whose certificate is trusted (./tickgate-data)",
    )
    common.add_argument(
        "--insecure", action="store_true", help="do not verify the gateway's certificate"
    )
    common.add_argument(
        "--token",
        help="the gateway's --auth-token, when it has one [env TICKGATE_AUTH_TOKEN, preferred]",
    )
    return common


def target(args: argparse.Namespace) -> Target:
    """The gateway `connection_options` name (the token from `--token`, else the
    environment's)."""
    return Target(
        url=args.url,
        data_dir=args.data_dir,
        insecure=args.insecure,
        token=args.token or environment_token(),
    )


def run_client(call: Callable[[Target], Coroutine[Any, Any, int]], args: argparse.Namespace) -> int:
    """Run `call` against the gateway `args` name; returns its exit status, or 1 with the
    message on stderr when the gateway refuses or cannot be reached (130 on Ctrl-C)."""
    try:
        return asyncio.run(call(target(args)))
    except (ClientError, fault_cli.UsageError) as exc:
        print(f"tickgate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def add_parsers(commands: Any) -> None:
    """Add the client commands to the `tickgate` subparsers."""
    common = connection_options()

    tail = commands.add_parser(
        "tail", parents=[common], help="stream market data or account updates as JSON lines"
    )
    tail.add_argument("what", choices=("md", *ACCOUNT_TOPICS))
    tail.add_argument("symbols", nargs="*", help="md: symbols or conids")
    tail.add_argument("--fields", default=DEFAULT_FIELDS, help="md: comma-separated field ids")
    tail.add_argument(
        "--tempo",
        type=int,
        metavar="MS",
        help="md: stream over /v1/portal/ws at most every MS ms (default: /v1/api/ws, 500 ms)",
    )
    tail.add_argument("--table", action="store_true", help="md: a live table, not JSON lines")
    tail.add_argument("--count", type=int, metavar="N", help="stop after N lines")

    order = commands.add_parser(
        "order", parents=[common], help="place an order, answering the gateway's questions"
    )
    order.add_argument("side", choices=("buy", "sell"))
    order.add_argument("quantity", type=_positive_number)
    order.add_argument("symbol")
    order.add_argument("--limit", type=_positive_number, help="limit price (default: market)")
    order.add_argument("--tif", default="DAY", help="time in force (DAY, GTC, IOC...)")
    order.add_argument("--account", help="account id (default: the selected account)")
    order.add_argument("--yes", action="store_true", help="confirm every question")

    positions = commands.add_parser("positions", parents=[common], help="list positions")
    positions.add_argument("--account", help="account id (default: the selected account)")
    commands.add_parser("status", parents=[common], help="the gateway's /tickgate/status")
    market = commands.add_parser(
        "market", parents=[common], help="halt or resume an instrument (simulator)"
    )
    market.add_argument("action", choices=("halt", "resume"))
    market.add_argument("symbol")
    session = commands.add_parser(
        "session", parents=[common], help="close or open the trading session (simulator)"
    )
    session.add_argument("action", choices=("close", "open"))
    fault_cli.add_parser(commands, common)


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    ask: Ask = input,
) -> int:
    """Run one client command; returns the exit status (1 with a message on stderr when the
    gateway refuses or cannot be reached)."""
    stream = out or sys.stdout

    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return run_client(lambda gateway: _run(args, gateway, write, ask), args)


async def _run(args: argparse.Namespace, target: Target, write: Write, ask: Ask) -> int:
    async with GatewayClient(target) as client:
        if args.command == "tail":
            await _tail(client, args, write)
        elif args.command == "order":
            await _order(client, args, write, ask)
        elif args.command == "positions":
            account = args.account or await client.account()
            for row in await client.call("GET", f"/v1/api/portfolio/{account}/positions/0"):
                write(_line(row))
        elif args.command == "status":
            write(_line(await client.call("GET", "/tickgate/status")))
        elif args.command == "fault":
            write(_line(await client.call(*fault_cli.request(args))))
        elif args.command == "market":
            conid = (await client.conids([args.symbol]))[args.symbol.upper()]
            write(_line(await client.call("POST", f"/tickgate/market/{conid}/{args.action}")))
        else:
            write(_line(await client.call("POST", f"/tickgate/session/{args.action}")))
    return 0


async def _tail(client: GatewayClient, args: argparse.Namespace, write: Write) -> None:
    if args.count is not None and args.count < 1:
        raise ClientError("--count must be at least 1")
    if args.what == "md":
        lines = _market_lines(client, args)
        if args.table:
            lines = _table(lines, args.fields.split(","), write)
    else:
        if args.symbols or args.table or args.tempo is not None:
            raise ClientError(f"tail {args.what} takes no symbols, --table or --tempo")
        lines = _account_lines(client, ACCOUNT_TOPICS[args.what])
    shown = 0
    async for line in lines:
        if not args.table:
            write(line)
        shown += 1
        if args.count is not None and shown >= args.count:
            return


async def _market_lines(client: GatewayClient, args: argparse.Namespace) -> AsyncIterator[str]:
    if not args.symbols:
        raise ClientError("tail md needs symbols or conids, e.g. tail md AAPL MSFT")
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    if not fields or not all(f.isdigit() for f in fields):
        raise ClientError(f"--fields must be comma-separated field ids, got {args.fields!r}")
    conids = await client.conids(args.symbols)
    symbols = {conid: symbol for symbol, conid in conids.items()}
    portal = args.tempo is not None
    if portal and args.tempo < 0:
        raise ClientError("--tempo must not be negative")
    commands = [
        f"s+md+{conid}+"
        + orjson.dumps({"tempo": args.tempo, "snapshot": True, "fields": ",".join(fields)}).decode()
        if portal
        else f"smd+{conid}+" + orjson.dumps({"fields": fields}).decode()
        for conid in symbols
    ]
    async for frame in client.stream(commands, portal=portal):
        line = market_line(frame, symbols, fields, received_ms=time.time_ns() // 1_000_000)
        if line is not None:
            yield line


def market_line(
    frame: dict[str, Any], symbols: dict[int, str], fields: list[str], *, received_ms: int
) -> str | None:
    """`{"symbol", "conid", "time", field: value...}` for a market frame carrying any of
    `fields`, else None (heartbeats, replies, a frame with only other fields).

    `time` (epoch ms) is the gateway's own stamp where the dialect has one (`_updated` on
    `/v1/api/ws`, the market's time, so a replay's); the seed dialect stamps nothing, so
    there it is `received_ms`, when the frame arrived."""
    prefix, _, conid = str(frame.get("topic", "")).partition("+")
    if prefix not in ("smd", "md") or not conid.isdigit():
        return None
    values = {f: frame[f] for f in fields if f in frame}
    if not values:
        return None
    row: dict[str, Any] = {"symbol": symbols.get(int(conid), conid), "conid": int(conid)}
    row["time"] = frame.get("_updated", received_ms)
    row.update(values)
    return _line(row)


async def _account_lines(client: GatewayClient, topic: str) -> AsyncIterator[str]:
    async for frame in client.stream([topic + "+{}"]):
        if frame.get("topic") != topic:
            continue
        for entry in _entries(frame.get("args")):
            yield _line(entry)


def _entries(args: Any) -> Iterable[dict[str, Any]]:
    """An account frame's items: the orders or trades of its list, or the P&L of each
    partition of its map (with its key)."""
    if isinstance(args, list):
        return (item for item in args if isinstance(item, dict))
    if isinstance(args, dict):
        return (
            {"key": key, **value} if isinstance(value, dict) else {"key": key, "value": value}
            for key, value in args.items()
        )
    return ()


async def _table(lines: AsyncIterator[str], fields: list[str], write: Write) -> AsyncIterator[str]:
    """Keep the latest values per instrument and redraw the table (ANSI: home, clear) on
    each update; passes every line on so `--count` still counts updates."""
    latest: dict[str, dict[str, Any]] = {}
    titles = ["symbol", *(FIELD_NAMES.get(f, f) for f in fields)]
    async for line in lines:
        row = orjson.loads(line)
        latest.setdefault(str(row["symbol"]), {}).update(row)
        body = [
            [symbol, *(str(values.get(f, "")) for f in fields)] for symbol, values in latest.items()
        ]
        widths = [max(len(cells[i]) for cells in [titles, *body]) for i in range(len(titles))]
        text = [
            "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            for cells in [titles, *body]
        ]
        write("\x1b[H\x1b[2J" + "\n".join(text))
        yield line


async def _order(client: GatewayClient, args: argparse.Namespace, write: Write, ask: Ask) -> None:
    account = args.account or await client.account()
    conid = (await client.conids([args.symbol]))[args.symbol.upper()]
    order: dict[str, Any] = {
        "conid": conid,
        "side": args.side.upper(),
        "quantity": args.quantity,
        "orderType": "MKT" if args.limit is None else "LMT",
        "tif": args.tif.upper(),
    }
    if args.limit is not None:
        order["price"] = args.limit

    async def confirm(messages: list[str]) -> bool:
        # Questions and the prompt go to stderr: stdout carries only the JSON answer.
        for message in messages:
            print(f"? {message}", file=sys.stderr)
        if args.yes:
            return True
        print("confirm? [y/N] ", end="", file=sys.stderr, flush=True)
        try:
            reply = await asyncio.to_thread(ask, "")
        except EOFError:
            return False
        return reply.strip().lower() in ("y", "yes")

    placed = await client.place(account, order, confirm)
    for row in placed if isinstance(placed, list) else [placed]:
        write(_line(row))


def _line(value: Any) -> str:
    return orjson.dumps(value).decode()


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return int(value) if value.is_integer() else value
