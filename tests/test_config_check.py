"""`tickgate check-config` and `serve --config`: every problem of a file, in one pass, by line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tickgate import config
from tickgate.cli import main
from tickgate.errors import ConfigError

#: The installed console script: the command a user runs, not a function of ours.
TICKGATE = str(Path(sys.executable).parent / "tickgate")

MANY_PROBLEMS = """\
prot = 5001
tls = "yes"
ticks_per_second = -5
require_priming = 1
seed = "seven"
log_format = "xml"
session_close_utc = "21:00"

[[accounts]]
id = "DU1"
currency = "usd"
cash = "lots"

[[accounts]]
id = "DU1"
curency = "USD"
currency = "ZZZ"

[server]
port = 5001
"""


def expected_lines(path: Path) -> list[str]:
    """What each line of MANY_PROBLEMS is refused for, in file order."""
    return [
        f"tickgate: {path}:1: unknown setting 'prot'; did you mean 'port'?",
        f"tickgate: {path}:2: tls must be true or false, got 'yes'",
        f"tickgate: {path}:3: ticks_per_second must be positive, got -5.0",
        f"tickgate: {path}:4: require_priming must be true or false, got 1",
        f"tickgate: {path}:5: seed must be a whole number, got 'seven'",
        f"tickgate: {path}:6: log_format must be one of text, json, got 'xml'",
        f"tickgate: {path}:7: session_close_utc was removed: "
        + config.REMOVED["session_close_utc"],
        f"tickgate: {path}:11: accounts[0]: unknown currency 'usd' (not an ISO 4217 code); "
        "did you mean 'USD'?",
        f"tickgate: {path}:12: accounts[0]: cash must be a number, got 'lots'",
        f"tickgate: {path}:15: accounts[1]: id 'DU1' is already accounts[0]'s; "
        "account ids must be unique",
        f"tickgate: {path}:16: accounts[1]: unknown key 'curency'; did you mean 'currency'?",
        f"tickgate: {path}:17: accounts[1]: unknown currency 'ZZZ' (not an ISO 4217 code)",
        f"tickgate: {path}:19: unknown setting 'server' (tickgate serve --help lists them)",
    ]


def write(tmp_path: Path, text: str, name: str = "tickgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKGATE_")}
    env["TICKGATE_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [TICKGATE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def test_check_config_reports_every_problem_of_a_file_in_one_run(tmp_path: Path) -> None:
    path = write(tmp_path, MANY_PROBLEMS)
    proc = run("check-config", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines == [*expected_lines(path), f"tickgate: {path}: 13 problems"]


def test_serve_refuses_a_bad_file_with_the_same_lines(tmp_path: Path) -> None:
    path = write(tmp_path, MANY_PROBLEMS)
    proc = run("serve", "--config", str(path), "--port", "0", "--no-tls", cwd=tmp_path)
    assert proc.returncode == 2 and "listening on" not in proc.stdout
    assert proc.stderr.splitlines() == expected_lines(path)
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_a_good_file_is_shown_with_its_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'port = 5001\ntls = false\nticks-per-second = 100\n\n[[accounts]]\nid = "DU7"\n'
        'currency = "EUR"\ncash = "2500.50"\n',
    )
    proc = run("check-config", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"{path}: OK"
    assert "  port = 5001" in proc.stdout and "  ticks_per_second = 100.0" in proc.stdout
    assert "  accounts = DU7 (2500.50 EUR)" in proc.stdout


def test_a_syntax_error_names_its_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "port = 5001\nseed = \n")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"tickgate: {path}:2: invalid TOML: Invalid value (column 8)")
    assert err[1] == f"tickgate: {path}: 1 problem"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("tls = 1\n", 1, "tls must be true or false, got 1"),
        ("rest_pacing = 'on'\n", 1, "rest_pacing must be true or false, got 'on'"),
        ("port = '5001'\n", 1, "port must be a whole number, got '5001'"),
        ("port = 5001.0\n", 1, "port must be a whole number, got 5001.0"),
        ("ticks_per_second = inf\n", 1, "ticks_per_second must be a number, got inf"),
        ("host = 127\n", 1, "host must be a string, got 127"),
        ("allow_ip = [1, 2]\n", 1, "allow_ip must be a list of strings"),
        ("max_frame_bytes = 10\n", 1, "max_frame_bytes must be at least 64, got 10"),
        ("outbox_limit_bytes = 1024\n", 1, "outbox_limit_bytes must be at least 65536"),
        ("commission_minimum = -1\n", 1, "commission_minimum must not be negative"),
        ("commission_minimum = nan\n", 1, "commission_minimum must be a number, got nan"),
        ("smd_expiry_seconds = -1\n", 1, "smd_expiry_seconds must be 0 (never) or positive"),
        ("[port]\nx = 1\n", 1, "port must be a whole number, got a table"),
        ("accounts = 3\n", 1, "accounts must be an array of tables: [[accounts]]"),
        ("accounts = []\n", 1, "accounts must list at least one account"),
        ('[[accounts]]\nid = "A"\ncurrency = 840\n', 3, "currency must be a string"),
        ('[[accounts]]\nid = "A"\ncash = -5\n', 3, "cash must not be negative, got -5"),
        ('[[accounts]]\nid = "A"\ncash = true\n', 3, "cash must be a number, got True"),
        ('[[accounts]]\nid = ""\n', 2, "non-empty string id, got ''"),
        ('[[accounts]]\nid = "A"\n[accounts.limits]\nx = 1\n', 3, "unknown key 'limits'"),
        ('auth_token = "short"\n', 1, "auth_token must be at least 16"),
        ('allow_origin = ["*"]\n', 1, "allow_origin: '*' is not an origin"),
        ('host = "0.0.0.0"\n', 1, "refusing to listen on '0.0.0.0' without access control"),
        ('source = "replay"\n', 1, "source 'replay' needs at least one file"),
        ("replay_speed = 0\n", 1, "replay_speed must be a positive number or 'max', got '0'"),
    ],
)
def test_each_kind_of_problem_names_the_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    path = write(tmp_path, "# tickgate\n\n" + text)
    with pytest.raises(config.ConfigProblems) as caught:
        config.load(config_file=path, environ={})
    (problem,) = caught.value.problems
    assert problem.where == f"{path}:{line + 2}"  # the two comment lines come first
    assert needle in problem.message


def test_the_token_is_never_shown_in_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "auth_token = 1234567890123456789\n")
    with pytest.raises(ConfigError) as caught:
        config.load(config_file=path, environ={})
    assert "1234567890123456789" not in str(caught.value)
    assert "auth_token must be a string, got (a value not shown)" in str(caught.value)


def test_toml_keys_may_use_dashes_and_a_close_name_is_suggested(tmp_path: Path) -> None:
    assert config.load(config_file=write(tmp_path, "md-lines = 7\n"), environ={}).md_lines == 7
    with pytest.raises(ConfigError, match="unknown setting 'md-line'; did you mean 'md_lines'"):
        config.load(config_file=write(tmp_path, "md-line = 7\n"), environ={})


def test_every_source_is_checked_in_the_same_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 70000\n")
    env = {"TICKGATE_TLS": "maybe", "TICKGATE_SESSION_CLOSE_UTC": "21:00"}
    with pytest.raises(config.ConfigProblems) as caught:
        config.load({"md_lines": 0}, config_file=path, environ=env)
    wheres = [problem.where for problem in caught.value.problems]
    assert wheres == [f"{path}:1", "TICKGATE_SESSION_CLOSE_UTC", "TICKGATE_TLS", "--md-lines"]


def test_a_conflict_names_where_the_setting_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, 'seed = 1\nhost = "0.0.0.0"\n')
    with pytest.raises(config.ConfigProblems) as caught:
        config.load(config_file=path, environ={})
    assert caught.value.problems[0].where == f"{path}:2"
    with pytest.raises(config.ConfigProblems) as caught:
        config.load({"host": "0.0.0.0"}, environ={})
    assert caught.value.problems[0].where == "--host"


def test_environment_booleans_keep_their_spellings() -> None:
    # A variable is text: "no"/"0" are how shells say false (a TOML file has real booleans).
    assert config.load(environ={"TICKGATE_TLS": "no"}).tls is False
    assert config.load(environ={"TICKGATE_TLS": "1"}).tls is True


def test_currencies_are_checked_against_iso_4217(tmp_path: Path) -> None:
    for code in ("USD", "EUR", "JPY", "CHF", "HKD"):
        text = f'[[accounts]]\nid = "A"\ncurrency = "{code}"\n'
        account = config.load(config_file=write(tmp_path, text), environ={}).accounts[0]
        assert account.base_currency == code
    with pytest.raises(ConfigError, match="unknown currency 'EURO'"):
        config.load(config_file=write(tmp_path, '[[accounts]]\nid = "A"\ncurrency = "EURO"\n'))


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"port = \xff\n")
    with pytest.raises(ConfigError, match=r"binary\.toml: not UTF-8 text"):
        config.load(config_file=binary, environ={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load(config_file=tmp_path, environ={})


def test_a_built_config_is_still_checked_whole() -> None:
    settings = config.load(environ={})
    with pytest.raises(config.ConfigProblems) as caught:
        config.replace(settings, port=-1, md_lines=0)
    assert [str(p) for p in caught.value.problems] == [
        "port must be between 0 and 65535, got -1",
        "md_lines must be positive, got 0",
    ]
