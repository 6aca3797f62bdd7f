"""Configuration precedence and validation."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tickgate import config
from tickgate.config import ConfigProblems
from tickgate.errors import ConfigError
from tickgate.model.accounts import AccountConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tickgate.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = config.load(environ={})
    assert (settings.host, settings.port, settings.tls) == ("127.0.0.1", 5000, True)
    assert settings.data_dir == Path("./tickgate-data")
    account = settings.accounts[0]
    assert account.account_id == "DU1234567" and account.starting_cash == Decimal(1_000_000)


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 6001\nseed = 3\nticks_per_second = 100\n")
    env = {"TICKGATE_PORT": "6002", "TICKGATE_SEED": "4"}
    settings = config.load({"port": 6003}, config_file=path, environ=env)
    assert (settings.port, settings.seed, settings.ticks_per_second) == (6003, 4, 100.0)


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "tls = false\n")
    assert config.load(environ={"TICKGATE_CONFIG": str(path)}).tls is False


def test_accounts_from_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[accounts]]\nid = "DU1"\ncash = 5000\n[[accounts]]\nid = "DU2"\ncurrency = "EUR"\n',
    )
    settings = config.load(config_file=path, environ={})
    assert [(a.account_id, a.base_currency, a.starting_cash) for a in settings.accounts] == [
        ("DU1", "USD", Decimal(5000)),
        ("DU2", "EUR", Decimal(1_000_000)),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("port = 70000\n", "tickgate.toml:1: port must be between 0 and 65535, got 70000"),
        ("port = 'abc'\n", "tickgate.toml:1: port must be a whole number, got 'abc'"),
        ("colour = 1\n", "tickgate.toml:1: unknown setting 'colour'"),
        ("seed = 1\nport = \n", "tickgate.toml:2: invalid TOML"),
        ("tls = 'maybe'\n", "tickgate.toml:1: tls must be true or false, got 'maybe'"),
        ("catalogue_mode = 'merge'\n", "tickgate.toml:1: catalogue_mode must be one of"),
        ('[[accounts]]\nid = "A"\n[[accounts]]\nid = "A"\n', "tickgate.toml:4: .* unique"),
        ("[[accounts]]\ncash = 1\n", "tickgate.toml:1: accounts\\[0\\]: .*non-empty string id"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        config.load(config_file=write(tmp_path, text), environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="TICKGATE_MD_LINES"):
        config.load(environ={"TICKGATE_MD_LINES": "lots"})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(config_file=tmp_path / "nope.toml", environ={})


def test_trading_settings_are_typed_and_checked(tmp_path: Path) -> None:
    path = write(tmp_path, 'fill_queue_model = "through"\ncommission_per_share = 0.0035\n')
    settings = config.load({"stop_trigger": "bid"}, config_file=path, environ={})
    assert settings.fill_queue_model == "through" and settings.stop_trigger == "bid"
    assert settings.commission_per_share == Decimal("0.0035")
    with pytest.raises(
        ConfigError, match="TICKGATE_COMMISSION_MINIMUM: commission_minimum must be a number"
    ):
        config.load(environ={"TICKGATE_COMMISSION_MINIMUM": "cheap"})
    with pytest.raises(ConfigError, match="stop_trigger must be one of"):
        config.load({"stop_trigger": "mid"}, environ={})
    with pytest.raises(ConfigError, match="must not be negative"):
        config.load({"commission_per_contract": Decimal("-1")}, environ={})


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        ({"store": "postgres"}, "store must be one of"),
        ({"market_hours": "sometimes"}, "market_hours must be one of always, exchange"),
        ({"fill_queue_model": "fifo"}, "fill_queue_model must be one of"),
    ],
)
def test_choices_are_enforced(flags: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        config.load(flags, environ={})


def test_the_removed_session_close_option_is_refused_with_what_replaced_it(
    tmp_path: Path,
) -> None:
    file = tmp_path / "old.toml"
    file.write_text('session_close_utc = "21:00"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="session_close_utc was removed: the daily close now"):
        config.load(config_file=file, environ={})
    with pytest.raises(ConfigError, match="TICKGATE_SESSION_CLOSE_UTC was removed"):
        config.load(environ={"TICKGATE_SESSION_CLOSE_UTC": "21:00"})
    assert config.load({"market_hours": "exchange"}, environ={}).market_hours == "exchange"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "gw.example"])
def test_listening_beyond_loopback_needs_an_access_control(host: str) -> None:
    with pytest.raises(ConfigError, match="without access control"):
        config.load({"host": host}, environ={})
    assert config.load({"host": host, "allow_ip": ["10.0.0.0/8"]}, environ={}).host == host
    token = {"TICKGATE_AUTH_TOKEN": "0123456789abcdef"}
    assert config.load({"host": host}, environ=token).auth_token == "0123456789abcdef"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_nothing(host: str) -> None:
    assert config.load({"host": host}, environ={}).host == host


def test_access_lists_from_flags_environment_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'allow_origin = ["https://Dash.Example:443/"]\nallow_ip = "10.*"\n')
    env = {"TICKGATE_ALLOW_HOST": "gw.example, GW2.example"}
    settings = config.load({"allow_ip": ["192.168.1.0/24"]}, config_file=path, environ=env)
    assert settings.allow_origin == ("https://dash.example",)
    assert settings.allow_host == ("gw.example", "gw2.example")
    assert settings.allow_ip == ("192.168.1.0/24",)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"allow_ip": ["10.0.0.300"]}, "allow_ip: '10.0.0.300'"),
        ({"allow_origin": ["*"]}, "allow_origin: '*' is not an origin"),
        ({"allow_host": ["gw:5000"]}, "allow_host"),
        ({"auth_token": "short"}, "auth_token must be at least 16"),
        ({"auth_token": "has spaces in it, sixteen+"}, "without spaces"),
    ],
)
def test_bad_access_settings_are_named(changes: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        config.load(changes, environ={})


def test_an_empty_token_is_no_token() -> None:
    assert config.load(environ={"TICKGATE_AUTH_TOKEN": ""}).auth_token is None
    with pytest.raises(ConfigError, match="without access control"):
        config.load({"host": "0.0.0.0"}, environ={"TICKGATE_AUTH_TOKEN": ""})


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        ({"source": "replay"}, "needs at least one file: --replay FILE"),
        ({"replay": (Path("a.tgr"),)}, "only played with --source replay"),
        ({"source": "replay", "replay": (Path("a.tgr"),), "replay_speed": "fast"}, "'max'"),
        ({"source": "replay", "replay": (Path("a.tgr"),), "replay_speed": "0"}, "positive"),
        ({"record_rotate_mb": -1.0}, "record_rotate_mb must be 0"),
        ({"source": "relayed"}, "source must be one of simulator, replay, relay"),
        ({"source": "relay"}, "source 'relay' needs an upstream: --upstream https://HOST:PORT"),
        ({"upstream": "https://h:5000"}, "--upstream is only used with --source relay"),
        ({"source": "relay", "upstream": "ftp://h"}, "upstream must be an http(s)://HOST:PORT"),
        ({"source": "relay", "upstream": "https://h", "upstream_md_lines": 0}, "must be positive"),
    ],
)
def test_replay_and_record_settings_are_checked(flags: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        config.load(flags, environ={})


def test_relay_settings_from_the_environment_and_a_file(tmp_path: Path) -> None:
    environ = {
        "TICKGATE_SOURCE": "relay",
        "TICKGATE_UPSTREAM": "https://10.0.0.5:5000",
        "TICKGATE_UPSTREAM_INSECURE": "true",
        "TICKGATE_UPSTREAM_MD_LINES": "40",
    }
    settings = config.load(environ=environ)
    assert (settings.source, settings.upstream) == ("relay", "https://10.0.0.5:5000")
    assert settings.upstream_insecure and settings.upstream_md_lines == 40
    toml = write(
        tmp_path, 'source = "relay"\nupstream = "https://gw:5000"\nupstream_md_lines = 7\n'
    )
    settings = config.load(config_file=toml, environ={})
    assert (settings.upstream, settings.upstream_md_lines) == ("https://gw:5000", 7)


def test_replay_files_from_flags_environment_and_file(tmp_path: Path) -> None:
    environ = {"TICKGATE_SOURCE": "replay", "TICKGATE_REPLAY": "a.tgr,b.dbn.zst"}
    assert config.load(environ=environ).replay == (Path("a.tgr"), Path("b.dbn.zst"))
    toml = write(tmp_path, 'source = "replay"\nreplay = ["day.csv"]\nreplay_speed = "max"\n')
    settings = config.load(config_file=toml, environ={})
    assert (settings.replay, settings.replay_speed) == ((Path("day.csv"),), "max")
    flags = {"source": "replay", "replay": [Path("x.tgr")], "replay_loop": True}
    assert config.load(flags, environ={}).replay == (Path("x.tgr"),)


def test_advisor_from_flag_environment_and_file(tmp_path: Path) -> None:
    """`--advisor` makes numbered sub-accounts when no [[accounts]] are configured; the
    configured ones become the sub-accounts otherwise; the master's id is not a sub-account."""
    settings = config.load({"advisor": True, "advisor_subaccounts": 2}, environ={})
    assert [a.account_id for a in settings.accounts] == ["DU1234567", "DU1234568"]
    from_env = config.load(environ={"TICKGATE_ADVISOR": "true"})
    assert from_env.advisor and len(from_env.accounts) == 3
    path = write(tmp_path, 'advisor = true\n[[accounts]]\nid = "DU55"\n')
    assert [a.account_id for a in config.load(config_file=path, environ={}).accounts] == ["DU55"]
    assert config.load(environ={}).accounts == (AccountConfig(),)
    with pytest.raises(ConfigProblems, match="advisor_subaccounts must be between 1 and 100"):
        config.load({"advisor": True, "advisor_subaccounts": 0}, environ={})
    clash = write(tmp_path, 'advisor = true\n[[accounts]]\nid = "F1234567"\n')
    with pytest.raises(ConfigProblems, match="F1234567 is the advisor's master account"):
        config.load(config_file=clash, environ={})
