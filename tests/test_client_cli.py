"""`tickgate tail/order/positions/status/market/session/fault` against a real running gateway (the
pytest plugin's), in-process through `tickgate.cli.main` and, for the interactive question flow
and the certificate trust, as the real `tickgate` process a user runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from tickgate.cli import main
from tickgate.client_cli import market_line
from tickgate.pytest_plugin import StartGateway, TickgateServer

AAPL, MSFT = 265598, 272093
TOKEN = "client-cli-test-token-0123"


def run(server: TickgateServer, capsys: pytest.CaptureFixture[str], *argv: str) -> list[Any]:
    """Run one command against `server`; asserts it succeeded and returns its JSON lines."""
    code = main([*argv, "--url", server.base_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return [json.loads(line) for line in captured.out.splitlines() if line.startswith(("{", "["))]


def fails(server: TickgateServer, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that must fail; returns its error message."""
    assert main([*argv, "--url", server.base_url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def process(
    *argv: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickgate", *argv],
        input=stdin,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def place_resting_sell(server: TickgateServer) -> None:
    """A sell limit far above the market, its price question confirmed: it rests."""
    order = {"conid": AAPL, "side": "SELL", "quantity": 1, "orderType": "LMT", "price": 100000}
    answer = server.request("POST", "/v1/api/iserver/account/DU1234567/orders", {"orders": [order]})
    while "id" in answer[0]:
        answer = server.request(
            "POST", f"/v1/api/iserver/reply/{answer[0]['id']}", {"confirmed": True}
        )
    assert answer[0]["order_status"] == "Submitted"


def test_tail_md_resolves_symbols_and_stops_after_count(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run(tickgate_server, capsys, "tail", "md", "AAPL", "msft", "--count", "6")
    assert len(lines) == 6
    # Each subscription starts with a full frame of the fields asked for.
    first = {line["symbol"]: line for line in lines[:2]}
    assert {s: (line["conid"], sorted(line)) for s, line in first.items()} == {
        "AAPL": (AAPL, ["31", "84", "86", "conid", "symbol", "time"]),
        "MSFT": (MSFT, ["31", "84", "86", "conid", "symbol", "time"]),
    }
    assert all(set(line) - {"symbol", "conid", "time"} <= {"31", "84", "86"} for line in lines)


def test_tail_md_with_a_tempo_streams_the_seed_dialect(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time_ns() // 1_000_000
    lines = run(
        tickgate_server,
        capsys,
        "tail",
        "md",
        str(AAPL),
        "--tempo",
        "50",
        "--fields",
        "84,86",
        "--count",
        "3",
    )
    after = time.time_ns() // 1_000_000
    assert len(lines) == 3 and all(line["conid"] == AAPL for line in lines)
    assert set(lines[0]) == {"symbol", "conid", "time", "84", "86"}
    # The seed dialect stamps nothing: the time is when tail received each frame.
    times = [line["time"] for line in lines]
    assert before <= times[0] and times == sorted(times) and times[-1] <= after


def test_a_market_line_takes_the_gateways_time_where_the_frame_has_one() -> None:
    fields = ["31"]
    stamped = {"topic": "smd+265598", "31": "189.50", "_updated": 1768402800123}
    line = json.loads(market_line(stamped, {AAPL: "AAPL"}, fields, received_ms=5) or "")
    assert line == {"symbol": "AAPL", "conid": AAPL, "time": 1768402800123, "31": "189.50"}
    seed = {"topic": "md+265598", "31": 189.5}
    line = json.loads(market_line(seed, {AAPL: "AAPL"}, fields, received_ms=5) or "")
    assert line == {"symbol": "AAPL", "conid": AAPL, "time": 5, "31": 189.5}
    assert market_line({"topic": "md+265598", "84": 1}, {}, fields, received_ms=5) is None


def test_tail_md_table_redraws_a_terminal_table(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["tail", "md", "AAPL", "--table", "--count", "2", "--url", tickgate_server.base_url])
        == 0
    )
    screens = capsys.readouterr().out.split("\x1b[H\x1b[2J")[1:]
    assert len(screens) == 2
    title, row = screens[-1].splitlines()[:2]
    assert title.split() == ["symbol", "last", "bid", "ask"]
    assert row.split()[0] == "AAPL" and len(row.split()) == 4


def test_bad_input_is_a_clear_error(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no instrument named 'NOSUCHTHING'" in fails(
        tickgate_server, capsys, "tail", "md", "NOSUCHTHING", "--count", "1"
    )
    assert "--fields must be" in fails(
        tickgate_server, capsys, "tail", "md", "AAPL", "--fields", "x"
    )
    assert "takes no symbols" in fails(tickgate_server, capsys, "tail", "orders", "AAPL")
    assert "Invalid conid 1" in fails(tickgate_server, capsys, "market", "halt", "1")
    refused = main(["status", "--url", "http://127.0.0.1:9"])  # nothing listens on port 9
    assert refused == 1 and "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_order_with_yes_answers_the_questions_and_positions_show_the_fill(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tickgate_server, capsys, "positions") == []
    code = main(["order", "buy", "10", "AAPL", "--yes", "--url", tickgate_server.base_url])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0 and captured.err.startswith("? A Market Order is an instruction")
    placed = json.loads(out.splitlines()[-1])
    assert placed["order_status"] == "Filled"
    [position] = run(tickgate_server, capsys, "positions")
    assert (position["conid"], position["position"]) == (AAPL, 10.0)
    [resting] = run(
        tickgate_server, capsys, "order", "sell", "4", "AAPL", "--limit", "100000", "--yes"
    )
    assert resting["order_status"] == "Submitted"  # far above the market: it rests
    order = tickgate_server.request(
        "GET", f"/v1/api/iserver/account/order/status/{resting['order_id']}"
    )
    assert (order["side"], float(order["size"]), order["order_type"]) == ("S", 4.0, "Limit")


def test_a_refused_order_says_why_on_stderr_and_exits_1(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Far beyond the account's buying power: the gateway answers HTTP 200 {"error": reason}.
    error = fails(tickgate_server, capsys, "order", "buy", "1000000", "AAPL", "--yes")
    refusal = "tickgate: order refused: Order rejected: insufficient buying power"
    assert refusal in error.splitlines()[-1]
    assert not tickgate_server.request("GET", "/v1/api/iserver/account/orders")["orders"]
    assert run(tickgate_server, capsys, "positions") == []


# The tail's own REST calls may fall between a question and its reply: keep replies valid.
@pytest.mark.tickgate(strict_replies=False)
def test_tail_orders_trades_and_pnl_follow_the_account(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tickgate_server, capsys, "order", "buy", "3", "AAPL", "--yes")
    [trade] = run(tickgate_server, capsys, "tail", "trades", "--count", "1")
    assert (trade["symbol"], trade["size"], trade["side"]) == ("AAPL", 3, "B")
    [pnl] = run(tickgate_server, capsys, "tail", "pnl", "--count", "1")
    assert pnl["key"] == "DU1234567.Core" and "upl" in pnl

    # `sor` sends nothing until an order changes: place resting orders until the tail has one.
    code: list[int] = []
    tail = threading.Thread(
        target=lambda: code.append(
            main(["tail", "orders", "--count", "1", "--url", tickgate_server.base_url])
        ),
        daemon=True,  # a tail that never ends must not keep the test process alive
    )
    tail.start()
    for _ in range(100):
        place_resting_sell(tickgate_server)
        tail.join(0.5)
        if not tail.is_alive():
            break
    assert code == [0]
    order_lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    assert order_lines and order_lines[0]["conid"] == AAPL


def test_market_and_session_control(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tickgate_server, capsys, "market", "halt", "AAPL") == [
        {"conid": AAPL, "halted": True, "ticks": 1}
    ]
    assert run(tickgate_server, capsys, "market", "resume", "AAPL")[0]["halted"] is False
    assert run(tickgate_server, capsys, "session", "close") == [{"session": "closed"}]
    assert run(tickgate_server, capsys, "status")[0]["sessionOpen"] is False
    assert run(tickgate_server, capsys, "session", "open") == [{"session": "open"}]
    assert tickgate_server.status()["sessionOpen"] is True


def test_fault_injects_lists_and_clears(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    (rest,) = run(
        tickgate_server, capsys, "fault", "rest", "/iserver/accounts", "503", "--calls", "2"
    )
    assert (rest["kind"], rest["status"], rest["callsLeft"]) == ("rest", 503, 2)
    assert "HTTP 503: Service Unavailable" in fails(tickgate_server, capsys, "positions")
    (latency,) = run(tickgate_server, capsys, "fault", "latency", "ws", "--ms", "0")
    assert latency["kind"] == "ws-latency" and latency["ms"] == 0
    (listed,) = run(tickgate_server, capsys, "fault", "list")
    assert [f["id"] for f in listed["faults"]] == [rest["id"], latency["id"]]
    assert [f["id"] for f in tickgate_server.status()["faults"]] == [rest["id"], latency["id"]]
    assert run(tickgate_server, capsys, "fault", "clear", str(rest["id"])) == [
        {"cleared": [rest["id"]]}
    ]
    assert run(tickgate_server, capsys, "fault", "clear") == [{"cleared": [latency["id"]]}]
    assert run(tickgate_server, capsys, "fault", "drop", "--abort") == [
        {"dropped": 0, "code": None}
    ]
    assert run(tickgate_server, capsys, "fault", "expire") == [{"expired": 0}]
    assert run(tickgate_server, capsys, "fault", "logout", "--seconds", "60")[0]["kind"] == (
        "logout"
    )
    assert tickgate_server.request("GET", "/v1/api/iserver/auth/status")["authenticated"] is False
    run(tickgate_server, capsys, "fault", "clear")  # ending the logout logs in again
    assert tickgate_server.request("GET", "/v1/api/iserver/auth/status")["authenticated"] is True


def test_fault_errors_are_clear(
    tickgate_server: TickgateServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "status must be one of 429, 500, 503" in fails(
        tickgate_server, capsys, "fault", "rest", "/tickle", "404"
    )
    assert "needs PATH STATUS" in fails(tickgate_server, capsys, "fault", "rest", "/tickle")
    assert "no active fault 7" in fails(tickgate_server, capsys, "fault", "clear", "7")
    assert "takes no value" in fails(tickgate_server, capsys, "fault", "expire", "now")
    assert 'needs {"seconds": T}' in fails(tickgate_server, capsys, "fault", "heartbeat")


def test_the_question_flow_is_answered_at_the_prompt(
    tickgate_server: TickgateServer,
) -> None:
    url = ("--url", tickgate_server.base_url)
    declined = process("order", "buy", "2", "AAPL", *url, stdin="n\n")
    assert declined.returncode == 1, declined.stderr
    assert "A Market Order" in declined.stderr and "confirm? [y/N]" in declined.stderr
    assert "the question was declined" in declined.stderr
    assert not tickgate_server.request("GET", "/v1/api/iserver/account/orders")["orders"]
    confirmed = process("order", "buy", "2", "AAPL", *url, stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout.splitlines()[-1])["order_status"] == "Filled"


def test_tls_trusts_the_data_directorys_certificate_and_sends_the_token(
    tickgate_server_factory: StartGateway,
) -> None:
    server = tickgate_server_factory(tls=True, auth_token=TOKEN)
    url = ("--url", server.base_url)
    trusted = process("status", *url, "--data-dir", str(server.data_dir), "--token", TOKEN)
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["source"] == "simulator"
    missing = process("status", *url, "--data-dir", str(server.data_dir / "nope"))
    assert missing.returncode == 1 and "--insecure" in missing.stderr
    no_token = process("status", *url, "--insecure")
    assert no_token.returncode == 1 and "HTTP 401" in no_token.stderr
    from_env = process(
        "market", "halt", "AAPL", *url, "--insecure", env={"TICKGATE_AUTH_TOKEN": TOKEN}
    )
    assert from_env.returncode == 0, from_env.stderr
    assert json.loads(from_env.stdout)["halted"] is True


def test_the_client_commands_import_nothing_of_the_gateway() -> None:
    # Every `tickgate status/order/tail ...` pays its imports: the calendar (holidays), the
    # catalogue and cryptography cost a third of such a command's CPU on top of aiohttp.
    probe = "import sys, tickgate.cli; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    for heavy in ("'holidays'", "'cryptography'", "'tickgate.market'", "'tickgate.server.app'"):
        assert heavy not in loaded, heavy
