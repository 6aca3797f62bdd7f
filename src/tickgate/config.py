"""Gateway configuration: defaults, a TOML file, `TICKGATE_*` environment variables and flags.

Precedence (highest first): command-line flags, environment variables, the TOML file named by
`--config` (or `TICKGATE_CONFIG`), built-in defaults. This is the only module that reads the
environment.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tickgate import access
from tickgate.errors import ConfigError
from tickgate.model.accounts import AccountConfig

ENV_PREFIX = "TICKGATE_"
#: A token short enough to guess online is no access control.
MIN_TOKEN_LENGTH = 16
#: Settings never printed or logged.
SECRETS = frozenset({"auth_token"})


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting of a gateway process. See `OPTIONS` for the meaning of each."""

    host: str = "127.0.0.1"
    port: int = 5000
    tls: bool = True
    data_dir: Path = Path("./tickgate-data")
    seed: int = 42
    ticks_per_second: float = 2000.0
    catalogue: Path | None = None
    catalogue_mode: str = "extend"
    md_lines: int = 100
    md_lines_per_connection: int = 50
    depth_streams_per_connection: int = 5
    account_subscriptions_per_minute: int = 20
    max_frame_bytes: int = 8192
    unauthenticated_message_bytes: int = 16384
    request_timeout_seconds: float = 10.0
    commands_per_second: float = 50.0
    command_burst: int = 250
    smd_expiry_seconds: int = 900
    outbox_limit_bytes: int = 4 * 1024 * 1024
    require_priming: bool = True
    strict_replies: bool = True
    rest_pacing: bool = False
    heartbeat_seconds: float = 10.0
    log_level: str = "info"
    log_format: str = "text"
    market_hours: str = "always"
    store: str = "sqlite"
    fill_queue_model: str = "touch"
    stop_trigger: str = "last"
    commission_per_share: Decimal = Decimal("0.005")
    commission_minimum: Decimal = Decimal("1.00")
    commission_max_fraction: Decimal = Decimal("0.01")
    commission_per_contract: Decimal = Decimal("0.85")
    allow_origin: tuple[str, ...] = ()
    allow_host: tuple[str, ...] = ()
    allow_ip: tuple[str, ...] = ()
    auth_token: str | None = None
    accounts: tuple[AccountConfig, ...] = field(default_factory=lambda: (AccountConfig(),))
    source: str = "simulator"
    replay: tuple[Path, ...] = ()
    replay_speed: str = "1"
    replay_loop: bool = False
    replay_from: str | None = None
    replay_to: str | None = None
    replay_symbols: Path | None = None
    record: Path | None = None
    record_rotate_mb: float = 0.0
    record_rotate_hourly: bool = False


#: name -> (type, help). The help text is what `tickgate serve --help` shows.
OPTIONS: dict[str, tuple[type, str]] = {
    "host": (str, "address to listen on"),
    "port": (int, "TCP port to listen on (0 picks a free port)"),
    "tls": (bool, "serve HTTPS/WSS with a self-signed certificate kept in the data directory"),
    "data_dir": (Path, "directory for the certificate, the order store and other state"),
    "seed": (int, "seed of the simulated market (same seed and clock, same ticks)"),
    "ticks_per_second": (float, "total simulator update rate over all instruments"),
    "catalogue": (
        Path,
        "instrument file (TOML, JSON or CSV) that extends or replaces the built-in catalogue",
    ),
    "catalogue_mode": (str, "'extend' (file entries add to or override built-ins) or 'replace'"),
    "md_lines": (int, "market data lines: distinct conids one session may stream at once"),
    "md_lines_per_connection": (
        int,
        "market data lines one WebSocket connection may hold (within the session's md_lines)",
    ),
    "depth_streams_per_connection": (int, "sbd price ladders one WebSocket connection may hold"),
    "account_subscriptions_per_minute": (
        int,
        "account topic (re-)subscriptions one WebSocket connection may make per minute",
    ),
    "max_frame_bytes": (
        int,
        "largest client WebSocket message accepted; larger ones get an error frame",
    ),
    "unauthenticated_message_bytes": (
        int,
        "largest WebSocket message before the socket is authenticated; larger ones close it",
    ),
    "request_timeout_seconds": (
        float,
        "time a client has to send a whole HTTP request head, to finish a WebSocket message it "
        "began, and to authenticate a /v1/api/ws socket",
    ),
    "commands_per_second": (float, "WebSocket commands one connection may send per second"),
    "command_burst": (int, "WebSocket commands one connection may send in a burst"),
    "smd_expiry_seconds": (
        int,
        "seconds after which an smd stream ends unless renewed (0 = never)",
    ),
    "outbox_limit_bytes": (
        int,
        "bytes a slow WebSocket reader may have pending before the policy applies",
    ),
    "require_priming": (bool, "streaming on /v1/portal/ws needs a prior GET /iserver/accounts"),
    "strict_replies": (
        bool,
        "a REST request between an order question and its reply makes the reply stale (503)",
    ),
    "rest_pacing": (
        bool,
        "enforce the reference's REST rate limits (10 req/s, 1 per 5 s on orders...) with 429",
    ),
    "heartbeat_seconds": (float, "interval of the system heartbeat frame on /v1/api/ws"),
    "log_level": (str, "debug, info, warning or error"),
    "log_format": (
        str,
        "'text' (for people) or 'json' (one object per line, for log collectors); lines "
        "carry the request or connection id",
    ),
    "market_hours": (
        str,
        "'always' (the simulator trades around the clock) or 'exchange' (each market keeps its "
        "real sessions: closed at night, on weekends and holidays)",
    ),
    "store": (str, "where orders and fills are kept: 'sqlite' (in the data directory) or 'memory'"),
    "fill_queue_model": (
        str,
        "'touch' (a resting limit fills when the market reaches it) or 'through'",
    ),
    "stop_trigger": (str, "price that triggers stop orders: 'last', 'bid' or 'ask'"),
    "commission_per_share": (Decimal, "stock commission per share (IBKR's fixed pricing)"),
    "commission_minimum": (Decimal, "minimum stock commission per order"),
    "commission_max_fraction": (
        Decimal,
        "stock commission cap as a fraction of trade value",
    ),
    "commission_per_contract": (Decimal, "futures and options commission per contract"),
    "allow_origin": (
        tuple,
        "another page origin (https://host:port) whose browser requests and WebSockets are "
        "served, for your own dashboard; repeatable",
    ),
    "allow_host": (
        tuple,
        "another name this gateway is reached under (Host header); '*' for any; repeatable",
    ),
    "allow_ip": (
        tuple,
        "client addresses served besides loopback: CIDR (192.168.1.0/24), an address, or the "
        "real gateway's wildcards (10.*); repeatable",
    ),
    "auth_token": (
        str,
        "token every client must present (Authorization: Bearer, or the page's login); "
        f"at least {MIN_TOKEN_LENGTH} characters; prefer the environment to the flag",
    ),
    "source": (str, "where market data comes from: 'simulator' or 'replay' (of --replay files)"),
    "replay": (
        list,
        "files to replay: tickgate recordings, Databento .dbn/.dbn.zst, tick .csv",
    ),
    "replay_speed": (str, "replay pace: a multiple of the recorded pace, or 'max'"),
    "replay_loop": (bool, "start the replay over at its end instead of stopping"),
    "replay_from": (str, "replay from this time (ISO 8601, epoch ns, or +SECONDS from start)"),
    "replay_to": (str, "replay up to this time (same forms as --from)"),
    "replay_symbols": (Path, "symbol,conid CSV mapping DBN/CSV symbols to conids"),
    "record": (Path, "record every tick entering the market to this file (zstd frames)"),
    "record_rotate_mb": (float, "start a new recording file past this size in MB (0 = never)"),
    "record_rotate_hourly": (bool, "start a new recording file every hour"),
}

#: Short flags some options also answer to on the command line.
FLAG_ALIASES: dict[str, tuple[str, ...]] = {
    "replay_speed": ("--speed",),
    "replay_loop": ("--loop",),
    "replay_from": ("--from",),
    "replay_to": ("--to",),
}

_CHOICES = {
    "catalogue_mode": ("extend", "replace"),
    "log_level": ("debug", "info", "warning", "error"),
    "log_format": ("text", "json"),
    "store": ("sqlite", "memory"),
    "fill_queue_model": ("touch", "through"),
    "stop_trigger": ("last", "bid", "ask"),
    "market_hours": ("always", "exchange"),
    "source": ("simulator", "replay"),
}

#: Settings that no longer exist, with what replaced them (a clear error beats a silent change).
REMOVED = {
    "session_close_utc": "the daily close now follows each market's calendar (16:00 New York "
    "time for US stocks, 13:00 on early-close days); see market_hours",
}


def load(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build a validated `Config`. Raises `ConfigError` naming the bad setting and its source."""
    env = dict(os.environ if environ is None else environ)
    file_name = config_file or (
        Path(env[ENV_PREFIX + "CONFIG"]) if ENV_PREFIX + "CONFIG" in env else None
    )
    values: dict[str, Any] = {}
    if file_name is not None:
        values.update(read_file(file_name))
    values.update(_from_environ(env))
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = tuple(value) if isinstance(value, list) else value
    return _validated(Config(**values))


def read_file(path: Path) -> dict[str, Any]:
    """Read and type-check a TOML config file. Raises `ConfigError` with the file and reason."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name == "accounts":
            values["accounts"] = _accounts(value, source=str(path))
        elif name in OPTIONS:
            values[name] = _coerce(name, value, source=f"{path}: {key}")
        elif name in REMOVED:
            raise ConfigError(f"{path}: {key} was removed: {REMOVED[name]}")
        else:
            raise ConfigError(
                f"{path}: unknown setting {key!r}; known: {', '.join(sorted(OPTIONS))}, accounts"
            )
    return values


def _from_environ(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, why in REMOVED.items():
        if ENV_PREFIX + name.upper() in env:
            raise ConfigError(f"{ENV_PREFIX + name.upper()} was removed: {why}")
    for name in OPTIONS:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = _coerce(name, env[key], source=key)
    return values


def _coerce(name: str, value: Any, *, source: str) -> Any:
    kind = OPTIONS[name][0]
    try:
        if kind is tuple:
            return _to_strings(value)
        if kind is bool:
            return _to_bool(value)
        if kind is Decimal:
            return to_decimal(value)
        if kind is list:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str | Path) for i in items):
                raise ValueError(value)
            return tuple(Path(item) for item in items if str(item).strip())
        if kind is int and (
            isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())
        ):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        kind_name = "a list of strings" if kind is tuple else kind.__name__
        raise ConfigError(f"{source}: {name} must be {kind_name}, got {value!r}") from None


def to_decimal(value: Any) -> Decimal:
    """An exact decimal from a number or text; raises ValueError (not InvalidOperation)."""
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(value) from None


def _to_strings(value: Any) -> tuple[str, ...]:
    """A list setting: a TOML array or repeated flags, or one comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(value)
    return tuple(item.strip() for item in items if item.strip())


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _accounts(value: Any, *, source: str) -> tuple[AccountConfig, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{source}: accounts must be a non-empty array of tables")
    accounts = []
    for index, item in enumerate(value):
        where = f"{source}: accounts[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ConfigError(f"{where}: each account needs a non-empty string id")
        try:
            cash = Decimal(str(item.get("cash", "1000000")))
        except InvalidOperation:
            raise ConfigError(f"{where}: cash must be a number, got {item.get('cash')!r}") from None
        try:
            account = AccountConfig(item["id"], str(item.get("currency", "USD")), cash)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        accounts.append(account)
    return tuple(accounts)


def _validated(config: Config) -> Config:
    checks = [
        (0 <= config.port <= 65535, "port must be between 0 and 65535"),
        (config.ticks_per_second > 0, "ticks_per_second must be positive"),
        (config.md_lines > 0, "md_lines must be positive"),
        (config.max_frame_bytes >= 64, "max_frame_bytes must be at least 64"),
        (
            config.unauthenticated_message_bytes >= 256,
            "unauthenticated_message_bytes must be at least 256",
        ),
        (config.request_timeout_seconds > 0, "request_timeout_seconds must be positive"),
        (
            min(
                config.md_lines_per_connection,
                config.depth_streams_per_connection,
                config.account_subscriptions_per_minute,
            )
            > 0,
            "per-connection budgets must be positive",
        ),
        (
            config.commands_per_second > 0 and config.command_burst > 0,
            "command rate and burst must be positive",
        ),
        (config.smd_expiry_seconds >= 0, "smd_expiry_seconds must be 0 (never) or positive"),
        (config.outbox_limit_bytes >= 65536, "outbox_limit_bytes must be at least 65536"),
        (config.heartbeat_seconds > 0, "heartbeat_seconds must be positive"),
        (
            min(
                config.commission_per_share,
                config.commission_minimum,
                config.commission_max_fraction,
                config.commission_per_contract,
            )
            >= 0,
            "commissions must not be negative",
        ),
        (
            len({a.account_id for a in config.accounts}) == len(config.accounts),
            "account ids must be unique",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    _check_replay(config)
    for name, allowed in _CHOICES.items():
        if getattr(config, name) not in allowed:
            raise ConfigError(
                f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}"
            )
    config = _access_validated(config)
    problem = exposure_problem(config)
    if problem is not None:
        raise ConfigError(problem)
    return config


def _access_validated(config: Config) -> Config:
    """Normalized origins and host names; networks and the token checked."""
    access.parse_networks(config.allow_ip)
    token = config.auth_token or None
    if token is not None and (
        len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or any(c.isspace() for c in token)
    ):
        raise ConfigError(
            f"auth_token must be at least {MIN_TOKEN_LENGTH} printable characters without spaces "
            "(e.g. the output of: python3 -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return dataclasses.replace(
        config,
        allow_origin=tuple(dict.fromkeys(map(access.normalize_origin, config.allow_origin))),
        allow_host=tuple(dict.fromkeys(map(access.normalize_host_name, config.allow_host))),
        allow_ip=tuple(config.allow_ip),
        auth_token=token,
    )


def exposure_problem(config: Config) -> str | None:
    """Why `config` must not start: it listens beyond this machine with nobody kept out.

    Loopback is served as it is (like the real gateway's default); any other address needs an
    access control the operator chose: a client allow-list, a token, or both. None when fine.
    """
    if access.is_loopback(config.host) or config.allow_ip or config.auth_token:
        return None
    return (
        f"refusing to listen on {config.host!r} without access control: anyone who can reach "
        "that address could trade on the gateway. Choose at least one: --allow-ip CIDR "
        "(repeatable; env TICKGATE_ALLOW_IP=10.0.0.0/8,192.168.1.7; TOML allow_ip = [...]) "
        "to serve only those client addresses, and/or an auth token clients must present "
        f"(env TICKGATE_AUTH_TOKEN or TOML auth_token, {MIN_TOKEN_LENGTH}+ characters; "
        "'Authorization: Bearer TOKEN', the page asks for it). Or keep --host 127.0.0.1."
    )


def _check_replay(config: Config) -> None:
    if config.source == "replay" and not config.replay:
        raise ConfigError("source 'replay' needs at least one file: --replay FILE...")
    if config.replay and config.source != "replay":
        raise ConfigError("--replay files are only played with --source replay")
    if not _speed_ok(config.replay_speed):
        raise ConfigError(
            f"replay_speed must be a positive number or 'max', got {config.replay_speed!r}"
        )
    if config.record_rotate_mb < 0:
        raise ConfigError("record_rotate_mb must be 0 (never) or positive")


def _speed_ok(text: str) -> bool:
    value = text.strip().lower()
    if value == "max":
        return True
    try:
        return 0 < float(value) < float("inf")
    except ValueError:
        return False


def replace(config: Config, **changes: Any) -> Config:
    """A copy of `config` with `changes` applied and validated."""
    return _validated(dataclasses.replace(config, **changes))


def environment_token(environ: Mapping[str, str] | None = None) -> str | None:
    """`TICKGATE_AUTH_TOKEN`, for the client commands (a flag would show it in `ps`)."""
    env = os.environ if environ is None else environ
    return env.get(ENV_PREFIX + "AUTH_TOKEN") or None
