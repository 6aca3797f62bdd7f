"""Gateway configuration: defaults, a TOML file, `TICKGATE_*` environment variables and flags.

Precedence (highest first): command-line flags, environment variables, the TOML file named by
`--config` (or `TICKGATE_CONFIG`), built-in defaults. This is the only module that reads the
environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tickgate import access, toml_lines
from tickgate.errors import ConfigError
from tickgate.model.accounts import (
    DEFAULT_ADVISOR_ID,
    DEFAULT_STARTING_CASH,
    DEFAULT_SUB_ACCOUNTS,
    AccountConfig,
    sub_accounts,
)
from tickgate.sources.relay.address import UpstreamAddress

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
    reply_seed: int | None = None
    ticks_per_second: float = 2000.0
    catalogue: Path | None = None
    catalogue_mode: str = "extend"
    universe: bool = True
    universe_ticks_per_second: float = 100.0
    auto_instruments: bool = False
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
    advisor: bool = False
    advisor_subaccounts: int = DEFAULT_SUB_ACCOUNTS
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
    upstream: str | None = None
    upstream_insecure: bool = False
    upstream_md_lines: int = 100
    nats: str | None = None
    cluster: str | None = None
    cluster_role: str = "core"
    nats_creds: Path | None = None
    nats_tls_ca: Path | None = None
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    cluster_lease_seconds: float = 10.0
    workers: int = 0


#: name -> (type, help). The help text is what `tickgate serve --help` shows.
OPTIONS: dict[str, tuple[type, str]] = {
    "host": (str, "address to listen on"),
    "port": (int, "TCP port to listen on (0 picks a free port)"),
    "tls": (bool, "serve HTTPS/WSS with a self-signed certificate kept in the data directory"),
    "data_dir": (Path, "directory for the certificate, the order store and other state"),
    "seed": (int, "seed of the simulated market (same seed and clock, same ticks)"),
    "reply_seed": (
        int,
        "seed of the order questions' reply ids (same seed, same ids); unset, each process "
        "draws its own, so an id from before a restart never matches a new question",
    ),
    "ticks_per_second": (float, "total simulator update rate over all instruments"),
    "catalogue": (
        Path,
        "instrument file (TOML, JSON or CSV) that extends or replaces the built-in catalogue",
    ),
    "catalogue_mode": (str, "'extend' (file entries add to or override built-ins) or 'replace'"),
    "universe": (
        bool,
        "serve the built-in universe beside the seeded core: the S&P 500 and Nasdaq-100 members, "
        "SPX with its SPX/SPXW options, weekly SPY and QQQ options (no-universe: the core alone)",
    ),
    "auto_instruments": (
        bool,
        "create a stock the catalogue does not know on its first search (secdef/search, "
        "trsrv/stocks), with a conid derived from its symbol, simulated like the universe",
    ),
    "universe_ticks_per_second": (
        float,
        "total update rate of the layered instruments (the built-in universe beyond the seeded "
        "core, instruments added while running), on top of ticks_per_second (0 = they keep "
        "their opening quote)",
    ),
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
    "advisor": (
        bool,
        f"log in as a Financial Advisor: master account {DEFAULT_ADVISOR_ID} over the paper "
        "accounts (the [[accounts]] entries, else --advisor-subaccounts of them) as its "
        "sub-accounts, with allocation groups and orders split over them",
    ),
    "advisor_subaccounts": (
        int,
        "sub-accounts an --advisor login gets when no [[accounts]] are configured",
    ),
    "source": (
        str,
        "where market data comes from: 'simulator', 'replay' (of --replay files) or 'relay' "
        "(of an --upstream gateway)",
    ),
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
    "upstream": (str, "the Client Portal gateway a relay streams from (https://HOST:PORT)"),
    "upstream_insecure": (bool, "do not verify the upstream gateway's TLS certificate"),
    "upstream_md_lines": (int, "market data lines the upstream session allows a relay"),
    "nats": (
        str,
        "NATS server URL(s) (nats://HOST:4222 or tls://..., comma-separated; may carry "
        "user:password@) of the cluster this gateway joins; needs --cluster",
    ),
    "cluster": (str, "name of the cluster to join over --nats (members of one cluster share it)"),
    "cluster_role": (
        str,
        "'core' (owns the source, trading and the brokerage session; one per cluster) or "
        "'edge' (serves clients from market data fed by the core)",
    ),
    "nats_creds": (Path, "NATS credentials file (JWT + NKey, .creds)"),
    "nats_tls_ca": (Path, "CA certificate(s) to trust for the NATS server's TLS"),
    "nats_tls_cert": (Path, "client certificate for NATS servers that verify clients"),
    "nats_tls_key": (Path, "key of --nats-tls-cert"),
    "cluster_lease_seconds": (
        float,
        "how long the core's claim on its cluster outlives a core that stopped renewing it",
    ),
    "workers": (
        int,
        "run N edge worker processes on one port (SO_REUSEPORT) with a core and an embedded "
        "nats-server (0: one process)",
    ),
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
    "source": ("simulator", "replay", "relay"),
    "cluster_role": ("core", "edge"),
}

#: Settings that no longer exist, with what replaced them (a clear error beats a silent change).
REMOVED = {
    "session_close_utc": "the daily close now follows each market's calendar (16:00 New York "
    "time for US stocks, 13:00 on early-close days); see market_hours",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the configuration, and where it was written: `FILE:LINE` (or `FILE`
    when no line applies), the environment variable, the flag, or nothing for a built Config."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigProblems(ConfigError):
    """Every problem of a configuration, found in one pass. `problems` are in source order (the
    file by line, the environment, the flags, then settings that conflict); str() is one line
    per problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


@dataclass(frozen=True, slots=True)
class Checked:
    """What `check` found: the settings that were read without a problem, every problem, and
    the validated `Config` when there is none."""

    values: Mapping[str, Any]
    problems: tuple[Problem, ...]
    config: Config | None


def load(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build a validated `Config`. Raises `ConfigProblems` listing every bad setting with its
    source (file and line, environment variable or flag)."""
    checked = check(flags, config_file=config_file, environ=environ)
    if checked.config is None:
        raise ConfigProblems(checked.problems)
    return checked.config


def check(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Checked:
    """Read every source and report every problem at once (see `load`); never raises for bad
    settings."""
    env = dict(os.environ if environ is None else environ)
    file_name = config_file or (
        Path(env[ENV_PREFIX + "CONFIG"]) if ENV_PREFIX + "CONFIG" in env else None
    )
    reading = _Reading()
    if file_name is not None:
        _read_toml(file_name, reading)
    _read_environ(env, reading)
    for name, value in (flags or {}).items():
        if value is not None:
            reading.take(name, value, "--" + name.replace("_", "-"), strict=False)
    return reading.finish()


def read_file(path: Path) -> dict[str, Any]:
    """The settings of a TOML config file, typed and range-checked. Raises `ConfigProblems`
    with every problem of the file, each naming the file and line."""
    reading = _Reading()
    _read_toml(path, reading)
    if reading.problems:
        raise ConfigProblems(reading.problems)
    return reading.values


class _Reading:
    """Settings gathered from the sources so far, where each came from, and the problems."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.where: dict[str, str] = {}
        self.bad: set[str] = set()
        self.problems: list[Problem] = []

    def fail(self, name: str, where: str, message: str) -> None:
        self.bad.add(name)
        self.problems.append(Problem(where, message))

    def take(self, name: str, raw: Any, where: str, *, strict: bool) -> None:
        """Type-check and range-check one option's value; keep it or record why not."""
        try:
            value = _typed(name, raw, strict=strict)
        except ValueError as exc:
            self.fail(name, where, str(exc))
            return
        problem = _option_problem(name, value)
        if problem is not None:
            self.fail(name, where, problem)
            return
        self.values[name] = value
        self.where[name] = where

    def finish(self) -> Checked:
        config = Config(**self.values)
        for names, message in _conflicts(config):
            if self.bad.isdisjoint(names):  # a conflict with a refused value says nothing new
                where = next((self.where[n] for n in names if n in self.where), "")
                self.problems.append(Problem(where, message))
        if self.problems:
            return Checked(dict(self.values), tuple(self.problems), None)
        return Checked(dict(self.values), (), _normalized(config))


def _read_toml(path: Path, reading: _Reading) -> None:
    """Every setting and every problem of the TOML file at `path`, problems in line order."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reading.fail("", str(path), f"cannot read config file: {exc.strerror or exc}")
        return
    except UnicodeDecodeError as exc:
        reading.fail("", str(path), f"not UTF-8 text ({exc.reason})")
        return
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = _syntax_error(str(exc))
        reading.fail("", f"{path}:{line}" if line else str(path), f"invalid TOML: {message}")
        return
    lines = toml_lines.key_lines(text)

    def at(*key: str | int) -> str:
        line = toml_lines.line_of(lines, key)
        return f"{path}:{line}" if line is not None else str(path)

    first = len(reading.problems)
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name == "accounts":
            accounts = _read_accounts(value, at, reading)
            if accounts is not None:
                reading.values["accounts"] = accounts
                reading.where["accounts"] = at(key)
        elif name in OPTIONS:
            reading.take(name, value, at(key), strict=True)
        elif name in REMOVED:
            reading.fail(name, at(key), f"{key} was removed: {REMOVED[name]}")
        else:
            reading.fail(
                name, at(key), f"unknown setting {key!r}{_suggestion(name, _TOP_KEYS, _SEE_HELP)}"
            )
    reading.problems[first:] = sorted(reading.problems[first:], key=_line_number)


_TOP_KEYS = (*OPTIONS, "accounts")
_SEE_HELP = " (tickgate serve --help lists them)"
_ACCOUNT_KEYS = ("id", "currency", "cash")


def _line_number(problem: Problem) -> int:
    _, _, line = problem.where.rpartition(":")
    return int(line) if line.isdigit() else 0


def _syntax_error(text: str) -> tuple[str, int | None]:
    """tomllib's message without its position, and the line it names."""
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", text, flags=re.DOTALL)
    if match is None:
        return text, None
    return f"{match[1]} (column {match[3]})", int(match[2])


def _suggestion(word: str, known: Sequence[str], otherwise: str = "") -> str:
    """`; did you mean 'x'?` for the closest known word, else `otherwise`. The cut-off keeps
    far-fetched guesses out ('server' is not 'seed')."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else otherwise


def _read_accounts(
    value: Any, at: Callable[..., str], reading: _Reading
) -> tuple[AccountConfig, ...] | None:
    """The `[[accounts]]` entries, or None (with the problems recorded) when any is bad."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        reading.fail(
            "accounts", at("accounts"), "accounts must be an array of tables: [[accounts]]"
        )
        return None
    if not value:
        reading.fail("accounts", at("accounts"), "accounts must list at least one account")
        return None
    accounts: list[AccountConfig] = []
    first_with_id: dict[str, int] = {}
    ok = True
    for index, item in enumerate(value):
        entry = f"accounts[{index}]"

        def problem(key: str | None, message: str, index: int = index) -> None:
            nonlocal ok
            ok = False
            where = at("accounts", index, key) if key is not None else at("accounts", index)
            reading.fail("accounts", where, message)

        for key in item:
            if key not in _ACCOUNT_KEYS:
                problem(
                    key,
                    f"{entry}: unknown key {key!r}"
                    + _suggestion(key, _ACCOUNT_KEYS, "; an account has id, currency and cash"),
                )
        account_id = item.get("id")
        if not isinstance(account_id, str) or not account_id.strip():
            problem(
                "id" if "id" in item else None,
                f"{entry}: each account needs a non-empty string id, got {_shown(account_id)}",
            )
            account_id = None
        elif account_id in first_with_id:
            problem(
                "id",
                f"{entry}: id {account_id!r} is already accounts"
                f"[{first_with_id[account_id]}]'s; account ids must be unique",
            )
        else:
            first_with_id[account_id] = index
        currency = item.get("currency", "USD")
        currency_problem = _currency_problem(currency)
        if currency_problem is not None:
            problem("currency", f"{entry}: {currency_problem}")
        try:
            cash = _typed_decimal(item.get("cash", DEFAULT_STARTING_CASH), strict=True)
            if cash < 0:
                raise ValueError(f"must not be negative, got {cash}")
        except ValueError as exc:
            problem("cash", f"{entry}: cash {exc}")
            cash = None
        if ok and account_id is not None and cash is not None:
            accounts.append(AccountConfig(account_id, currency, cash))
    return tuple(accounts) if ok else None


def _currency_problem(code: Any) -> str | None:
    """Why `code` is not an ISO 4217 currency code, or None. The list is the `iso4217`
    package's copy of the maintenance agency's table (updated with each amendment)."""
    if not isinstance(code, str):
        return f"currency must be a string (an ISO 4217 code such as 'USD'), got {_shown(code)}"
    codes = _iso_4217_codes()
    if code in codes:
        return None
    return f"unknown currency {code!r} (not an ISO 4217 code){_suggestion(code.upper(), codes)}"


@functools.cache
def _iso_4217_codes() -> tuple[str, ...]:
    import iso4217  # parsed on first use: only configured account currencies need it

    return tuple(sorted(currency.code for currency in iso4217.Currency))


def _read_environ(env: Mapping[str, str], reading: _Reading) -> None:
    for name, why in REMOVED.items():
        key = ENV_PREFIX + name.upper()
        if key in env:
            reading.fail(name, key, f"{key} was removed: {why}")
    for name in OPTIONS:
        key = ENV_PREFIX + name.upper()
        if key in env:
            reading.take(name, env[key], key, strict=False)


#: How each kind of option is named in a type error.
_KIND_NAMES: dict[type, str] = {
    int: "a whole number",
    float: "a number",
    Decimal: "a number",
    bool: "true or false",
    str: "a string",
    Path: "a path (a string)",
    tuple: "a list of strings",
    list: "a list of file names",
}
#: str options that also take a number in a TOML file (`replay_speed = 2`).
_NUMBER_AS_TEXT = frozenset({"replay_speed"})


def _typed(name: str, value: Any, *, strict: bool) -> Any:
    """`value` as option `name`'s type. `strict` (a TOML file, which has types of its own)
    takes only the matching TOML type; otherwise text (the environment) is converted.
    Raises ValueError with the message to show."""
    kind = OPTIONS[name][0]
    try:
        return _converted(name, kind, value, strict=strict)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {_KIND_NAMES[kind]}, got {_shown(value, name)}") from None


def _converted(name: str, kind: type, value: Any, *, strict: bool) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if strict:  # TOML has booleans: "yes" or 1 is a mistake, not a spelling
            raise ValueError(value)
        return _to_bool(value)
    if kind is int:
        if isinstance(value, bool) or (strict and not isinstance(value, int)):
            raise ValueError(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool) or (strict and not isinstance(value, int | float)):
            raise ValueError(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if kind is Decimal:
        return _typed_decimal(value, strict=strict)
    if kind is tuple:
        return _to_strings(value)
    if kind is list:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str | Path) for i in items):
            raise ValueError(value)
        return tuple(Path(item) for item in items if str(item).strip())
    if strict and not isinstance(value, str):
        if not (name in _NUMBER_AS_TEXT and isinstance(value, int | float)):
            raise ValueError(value)
        if isinstance(value, bool):
            raise ValueError(value)
    if kind is Path:
        if not isinstance(value, str | Path):
            raise ValueError(value)
        return Path(value)
    return str(value)


def _typed_decimal(value: Any, *, strict: bool) -> Decimal:
    """An exact, finite decimal; a TOML file may give a number or numeric text."""
    if strict and not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"must be a number, got {_shown(value)}")
    try:
        number = to_decimal(value)
    except ValueError:
        raise ValueError(f"must be a number, got {_shown(value)}") from None
    if not number.is_finite():
        raise ValueError(f"must be a finite number, got {_shown(value)}")
    return number


def _shown(value: Any, name: str = "") -> str:
    if name in SECRETS:
        return "(a value not shown)"
    if name == "upstream" and isinstance(value, str):
        return repr(UpstreamAddress.parse(value).shown)  # its password is a token
    if isinstance(value, dict):
        return "a table"
    return repr(value)


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


def _positive(value: Any) -> bool:
    return bool(value > 0)


def _zero_or_more(value: Any) -> bool:
    return bool(value >= 0)


def _at_least(minimum: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: bool(value >= minimum), f"must be at least {minimum}")


_POSITIVE = (_positive, "must be positive")
_NEVER_OR_POSITIVE = (_zero_or_more, "must be 0 (never) or positive")
_NOT_NEGATIVE = (_zero_or_more, "must not be negative")

#: option -> (accepts the typed value, what it must be). Options not listed take any value.
_LIMITS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "port": (lambda port: 0 <= port <= 65535, "must be between 0 and 65535"),
    "ticks_per_second": _POSITIVE,
    "universe_ticks_per_second": _NOT_NEGATIVE,
    "md_lines": _POSITIVE,
    "md_lines_per_connection": _POSITIVE,
    "depth_streams_per_connection": _POSITIVE,
    "account_subscriptions_per_minute": _POSITIVE,
    "max_frame_bytes": _at_least(64),
    "unauthenticated_message_bytes": _at_least(256),
    "request_timeout_seconds": _POSITIVE,
    "commands_per_second": _POSITIVE,
    "command_burst": _POSITIVE,
    "smd_expiry_seconds": _NEVER_OR_POSITIVE,
    "outbox_limit_bytes": _at_least(65536),
    "heartbeat_seconds": _POSITIVE,
    "commission_per_share": _NOT_NEGATIVE,
    "commission_minimum": _NOT_NEGATIVE,
    "commission_max_fraction": _NOT_NEGATIVE,
    "commission_per_contract": _NOT_NEGATIVE,
    "record_rotate_mb": _NEVER_OR_POSITIVE,
    "upstream_md_lines": _POSITIVE,
    "cluster_lease_seconds": _POSITIVE,
    "workers": (lambda n: 0 <= n <= 64, "must be between 0 and 64"),
    "advisor_subaccounts": (lambda n: 1 <= n <= 100, "must be between 1 and 100"),
    "cluster": (
        lambda name: name is None or re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) is not None,
        "must be 1-64 letters, digits, '-' or '_'",
    ),
    "upstream": (
        lambda url: url is None or url.startswith(("https://", "http://")),
        "must be an http(s)://HOST:PORT address",
    ),
    "replay_speed": (lambda speed: _speed_ok(speed), "must be a positive number or 'max'"),
}


def _option_problem(name: str, value: Any) -> str | None:
    """Why a typed value of option `name` cannot be used, or None."""
    limit = _LIMITS.get(name)
    if limit is not None and not limit[0](value):
        return f"{name} {limit[1]}, got {_shown(value, name)}"
    allowed = _CHOICES.get(name)
    if allowed is not None and value not in allowed:
        return f"{name} must be one of {', '.join(allowed)}, got {value!r}"
    try:
        if name == "allow_ip":
            access.parse_networks(value)
        elif name == "allow_origin":
            for origin in value:
                access.normalize_origin(origin)
        elif name == "allow_host":
            for host in value:
                access.normalize_host_name(host)
    except ConfigError as exc:
        return str(exc)
    if name == "auth_token" and value and not _token_ok(value):
        return (
            f"auth_token must be at least {MIN_TOKEN_LENGTH} printable characters without spaces "
            "(e.g. the output of: python3 -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return None


def _token_ok(token: str) -> bool:
    return (
        len(token) >= MIN_TOKEN_LENGTH
        and token.isprintable()
        and not any(c.isspace() for c in token)
    )


def _conflicts(config: Config) -> list[tuple[tuple[str, ...], str]]:
    """Problems of settings together, each with the settings involved (the first one set names
    the source)."""
    found: list[tuple[tuple[str, ...], str]] = []
    if config.source == "replay" and not config.replay:
        found.append(
            (("source", "replay"), "source 'replay' needs at least one file: --replay FILE...")
        )
    if config.replay and config.source != "replay":
        found.append((("replay", "source"), "--replay files are only played with --source replay"))
    if config.source == "relay" and not config.upstream:
        found.append(
            (
                ("source", "upstream"),
                "source 'relay' needs an upstream: --upstream https://HOST:PORT",
            )
        )
    if config.upstream and config.source != "relay":
        found.append((("upstream", "source"), "--upstream is only used with --source relay"))
    found += _cluster_conflicts(config)
    if len({a.account_id for a in config.accounts}) != len(config.accounts):
        found.append((("accounts",), "account ids must be unique"))
    if config.advisor and any(a.account_id == DEFAULT_ADVISOR_ID for a in config.accounts):
        found.append(
            (
                ("accounts", "advisor"),
                f"{DEFAULT_ADVISOR_ID} is the advisor's master account: a sub-account needs "
                "another id",
            )
        )
    problem = exposure_problem(config)
    if problem is not None:
        found.append((("host", "allow_ip", "auth_token"), problem))
    return found


def _cluster_conflicts(config: Config) -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    if config.nats and not config.cluster:
        found.append((("nats", "cluster"), "--nats needs a cluster name: --cluster NAME"))
    if config.cluster and not config.nats:
        found.append((("cluster", "nats"), "--cluster needs the NATS server: --nats URL"))
    if config.cluster_role == "edge" and not config.nats:
        found.append(
            (("cluster_role", "nats"), "--cluster-role edge needs --nats URL --cluster NAME")
        )
    if config.workers and config.nats:
        found.append(
            (
                ("workers", "nats"),
                "--workers runs its own nats-server: leave out --nats (or run core and edges "
                "yourself with --nats URL --cluster NAME)",
            )
        )
    if (config.nats_tls_cert is None) != (config.nats_tls_key is None):
        found.append(
            (("nats_tls_cert", "nats_tls_key"), "--nats-tls-cert and --nats-tls-key go together")
        )
    return found


def _validated(config: Config) -> Config:
    """`config` normalized, or ConfigProblems with everything wrong with it."""
    problems = [
        Problem("", problem)
        for name in OPTIONS
        if (problem := _option_problem(name, getattr(config, name))) is not None
    ]
    problems += [Problem("", message) for _, message in _conflicts(config)]
    if problems:
        raise ConfigProblems(problems)
    return _normalized(config)


def _normalized(config: Config) -> Config:
    """Origins and host names in their canonical form, duplicates dropped; an empty token is
    no token. An advisor login without configured accounts gets its numbered sub-accounts."""
    accounts = config.accounts
    if config.advisor and accounts == (AccountConfig(),):
        accounts = sub_accounts(config.advisor_subaccounts)
    return dataclasses.replace(
        config,
        accounts=accounts,
        allow_origin=tuple(dict.fromkeys(map(access.normalize_origin, config.allow_origin))),
        allow_host=tuple(dict.fromkeys(map(access.normalize_host_name, config.allow_host))),
        allow_ip=tuple(config.allow_ip),
        auth_token=config.auth_token or None,
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
