"""The command line as a user runs it: a real process, its output, Ctrl-C."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests.sources.replay_files import START_NS, STEP_NS, quotes, write_recording

from tickgate.cli import main
from tickgate.config import OPTIONS, Config


def test_serve_help_documents_every_flag(capsys: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickgate", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in (
        "--host",
        "--port",
        "--no-tls",
        "--data-dir",
        "--seed",
        "--ticks-per-second",
        "--config",
    ):
        assert flag in proc.stdout


def test_serve_help_shows_each_default_beside_its_variable() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickgate", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = " ".join(proc.stdout.split())  # argparse wraps lines anywhere
    for expected in (
        "[default 127.0.0.1; env TICKGATE_HOST]",
        "[default 5000; env TICKGATE_PORT]",
        "[default on; env TICKGATE_TLS]",
        "[default ./tickgate-data; env TICKGATE_DATA_DIR]",
        "[default 2000; env TICKGATE_TICKS_PER_SECOND]",
        "[default always; env TICKGATE_MARKET_HOURS]",
        "[default off; env TICKGATE_REST_PACING]",
        "[default 0.005; env TICKGATE_COMMISSION_PER_SHARE]",
        "[default 1; env TICKGATE_REPLAY_SPEED]",
        "[env TICKGATE_AUTH_TOKEN]",  # no token unless one is chosen
        "[env TICKGATE_ALLOW_IP, comma-separated]",
    ):
        assert expected in text
    for name, default in _defaults().items():
        if default is not None and default != ():
            assert f"default {_show(default)}; env TICKGATE_{name.upper()}" in text, name


def _defaults() -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(Config) if f.name in OPTIONS}


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return f"./{value}"
    return str(value)


def test_check_config(tmp_path: Path, capsys: object) -> None:
    good = tmp_path / "good.toml"
    good.write_text("port = 5050\n")
    assert main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("port = 'x'\n")
    assert main(["check-config", str(bad)]) == 2


def test_serve_announces_and_shuts_down_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "TICKGATE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(9)]
        text = "".join(banner)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert match, text
        assert "simulator" in text and "DU1234567" in text and "try:" in text
        # Which fan-out core runs (tickgate.streaming.fanout): the banner's last line.
        assert re.search(r"fan-out: +(compiled C|pure-Python) core", banner[-1]), text
        # Which market-hours mode runs, and each market's phase now (whatever it is).
        assert re.search(r"market hours: always .*US equities (closed|extended|regular)", text)
        with urllib.request.urlopen(match.group(1) + "/v1/api/tickle") as response:
            assert response.status == 200
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_banner_with_a_token_says_so_and_its_try_line_works_once_the_token_is_filled_in(
    tmp_path: Path,
) -> None:
    token = "banner-test-token-0123456789"
    env = {
        **os.environ,
        "TICKGATE_DATA_DIR": str(tmp_path / "data"),
        "TICKGATE_AUTH_TOKEN": token,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(9)]
        text = "".join(banner)
        assert token not in text
        assert "access:    token required (Authorization: Bearer TOKEN" in text, text
        try_line = next(line for line in banner if "try:" in line)
        match = re.search(r"curl -s -H 'Authorization: Bearer TOKEN' (http://\S+)", try_line)
        assert match, try_line
        request = urllib.request.Request(
            match.group(1), headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(match.group(1))
        refused.value.close()
        assert refused.value.code == 401
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def test_bad_catalogue_file_is_refused_at_startup_with_line_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "extra.csv"
    bad.write_text(
        "conid,symbol,name,sec_type,exchange,currency,min_tick,reference_price,volatility\n"
        "90000001,ACME,ACME CORP,STK,NYSE,USD,abc,42.00,0.30\n"
    )
    env = {**os.environ, "TICKGATE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--catalogue", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "extra.csv:2:" in proc.stderr and "min_tick" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_flag_value_is_a_usage_error_not_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickgate", "--commission-minimum", "cheap"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "invalid" in proc.stderr and "Traceback" not in proc.stderr


def test_check_config_validates_the_catalogue_it_names(tmp_path: Path) -> None:
    catalogue = tmp_path / "extra.csv"
    catalogue.write_text(
        "conid,symbol,name,sec_type,exchange,currency,min_tick,reference_price,volatility\n"
        "90000001,ACME,ACME CORP,STK,NYSE,USD,abc,42.00,0.30\n"
    )
    config_file = tmp_path / "tickgate.toml"
    config_file.write_text(f'catalogue = "{catalogue}"\n')
    assert main(["check-config", str(config_file)]) == 2


def test_an_unusable_data_directory_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # serve() points the root logger at this test's captured stderr, closed once it ends:
    # later tests' records would land there as "--- Logging error ---" on their stderr.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["--no-tls", "--port", "0", "--data-dir", str(blocker)]) == 2
    assert f"data directory {blocker}" in capsys.readouterr().err


def test_a_network_bind_without_access_control_is_refused_and_says_how(tmp_path: Path) -> None:
    env = {**os.environ, "TICKGATE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "tickgate", "--host", "0.0.0.0", "--port", "0", "--no-tls"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 2 and "listening on" not in proc.stdout
    assert "refusing to listen on '0.0.0.0' without access control" in proc.stderr
    assert "--allow-ip" in proc.stderr and "TICKGATE_AUTH_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_config_does_not_print_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "tickgate.toml"
    config_file.write_text('host = "0.0.0.0"\nauth_token = "s3cret-s3cret-s3cret"\n')
    assert main(["check-config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "auth_token = (set, not shown)" in out and "s3cret" not in out


def test_check_config_does_not_print_a_token_in_the_upstream_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "tickgate.toml"
    config_file.write_text('source = "relay"\nupstream = "http://any:s3cret-up@127.0.0.1:5640"\n')
    assert main(["check-config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "upstream = http://any:[redacted]@127.0.0.1:5640" in out and "s3cret" not in out


def test_serve_replays_a_window_of_a_recording_with_the_short_flags(tmp_path: Path) -> None:
    recording = write_recording(tmp_path / "q.tgr", quotes(40))
    env = {**os.environ, "TICKGATE_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--source", "replay"]
    command += ["--replay", str(recording), "--speed", "max", "--from", "+1", "--to", "+2.5"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        text = "".join(proc.stdout.readline() for _ in range(7))
        assert f"source:    replay of {recording}, as fast as possible" in text
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert match, text
        deadline = time.monotonic() + 15
        while True:
            with urllib.request.urlopen(match.group(1) + "/tickgate/replay") as response:
                state = json.loads(response.read())
            if state["state"] == "finished" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        # The ten ticks before +1 s folded into one, then the 16 recorded from +1 s to +2.5 s.
        assert state["state"] == "finished"
        assert state["positionNs"] == START_NS + 25 * STEP_NS
        assert state["ticks"] == 1 + 16
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err


def test_serve_as_a_relay_says_in_its_banner_that_orders_stay_paper(tmp_path: Path) -> None:
    env = {**os.environ, "TICKGATE_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--source", "relay"]
    # A token in the address (a protected tickgate upstream) is never printed.
    command += ["--upstream", "http://any:banner-s3cret@127.0.0.1:9", "--upstream-md-lines", "30"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        text = "".join(proc.stdout.readline() for _ in range(7))
        assert "relay of http://any:[redacted]@127.0.0.1:9 (at most 30 upstream market" in text
        assert "s3cret" not in text
        assert "orders stay paper" in text and "never reach upstream" in text
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (["--from", "+10", "--to", "+5"], "--from 2026-01-02T15:00:10.000000Z is after --to "),
        (["--from", "+99999h"], "is after the last tick (2026-01-02T15:00:03.900000Z)"),
        (["--from", "1970-01-01T00:00:00Z"], "is before the first tick (2026-01-02T15:00:00"),
        (["--to", "2026-01-01T00:00:00Z"], "--to 2026-01-01T00:00:00.000000Z is before the first"),
    ],
)
def test_a_replay_window_that_plays_nothing_is_refused_at_start(
    tmp_path: Path, window: list[str], message: str
) -> None:
    recording = write_recording(tmp_path / "q.tgr", quotes(40))
    env = {**os.environ, "TICKGATE_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--source", "replay"]
    proc = subprocess.run(
        [*command, "--replay", str(recording), *window],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "listening on" not in proc.stdout
    assert proc.stderr.startswith("tickgate: ") and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
