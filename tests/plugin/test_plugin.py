"""The pytest plugin's fixtures: URLs that answer, the control API, options, a clean stop, and
registration through the `pytest11` entry point in a project of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websocket

from tickgate import pytest_plugin
from tickgate.clock import FakeClock
from tickgate.pytest_plugin import ControlError, StartGateway, TickgateServer

TOKEN = "plugin-test-token-0123456789"
AAPL = 265598


def test_the_default_gateway_is_plain_http_with_the_default_account(
    tickgate_server: TickgateServer,
) -> None:
    assert tickgate_server.base_url.startswith("http://127.0.0.1:") and tickgate_server.port > 0
    assert tickgate_server.certificate is None and tickgate_server.ssl_context() is None
    accounts = tickgate_server.request("GET", "/v1/api/iserver/accounts")
    assert accounts["accounts"] == ["DU1234567"]
    assert tickgate_server.status()["seed"] == 42


@pytest.mark.tickgate(seed=9, accounts=["DU1", "DU2"], ticks_per_second=50.0)
def test_the_marker_configures_the_gateway(tickgate_server: TickgateServer) -> None:
    status = tickgate_server.status()
    assert (status["seed"], status["ticksPerSecond"]) == (9, 50.0)
    assert tickgate_server.request("GET", "/v1/api/iserver/accounts")["accounts"] == ["DU1", "DU2"]


def test_halt_resume_and_the_session_through_the_control_api(
    tickgate_server: TickgateServer,
) -> None:
    assert tickgate_server.halt("AAPL") == {"conid": AAPL, "halted": True, "ticks": 1}
    assert tickgate_server.resume(AAPL)["halted"] is False
    assert tickgate_server.close_session() == {"session": "closed"}
    assert tickgate_server.status()["sessionOpen"] is False
    assert tickgate_server.open_session() == {"session": "open"}
    assert tickgate_server.status()["sessionOpen"] is True
    with pytest.raises(ControlError, match="Invalid conid 1") as refused:
        tickgate_server.halt(1)
    assert refused.value.status == 400
    with pytest.raises(LookupError, match="NOSUCH"):
        tickgate_server.halt("NOSUCH")
    with pytest.raises(ControlError, match="HTTP 409"):
        tickgate_server.replay("status")  # the simulator, not a replay


def test_faults_through_the_control_api(tickgate_server: TickgateServer) -> None:
    fault = tickgate_server.fault("rest", path="/iserver/accounts", status=503, calls=1)
    with pytest.raises(ControlError, match="HTTP 503") as refused:
        tickgate_server.request("GET", "/v1/api/iserver/accounts")
    assert refused.value.status == 503
    assert tickgate_server.request("GET", "/v1/api/iserver/accounts")["accounts"]
    tickgate_server.fault("heartbeat", seconds=60)
    assert [f["kind"] for f in tickgate_server.status()["faults"]] == ["heartbeat"]
    assert len(tickgate_server.clear_faults()["cleared"]) == 1
    assert fault["callsLeft"] == 1 and tickgate_server.status()["faults"] == []


def test_tls_token_and_both_websockets(tickgate_server_factory: StartGateway) -> None:
    server = tickgate_server_factory(tls=True, auth_token=TOKEN)
    assert server.base_url.startswith("https://") and server.certificate is not None
    assert server.certificate.is_file()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.rest_url + "/tickle", context=server.ssl_context())
    assert refused.value.code == 401
    refused.value.close()
    assert server.request("POST", "/v1/api/tickle")["session"]
    options = {"ca_certs": str(server.certificate)}
    for url in (server.ws_url, server.portal_ws_url):
        assert url.startswith("wss://127.0.0.1:")
        ws = websocket.create_connection(url, sslopt=options, header=server.headers, timeout=5)
        ws.close()


def test_stop_closes_the_port_and_factories_start_several(
    tickgate_server_factory: StartGateway,
) -> None:
    first, second = tickgate_server_factory(seed=1), tickgate_server_factory(seed=2)
    assert first.port != second.port
    first.stop()
    first.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(first.base_url + "/tickgate/status", timeout=5)
    assert second.status()["seed"] == 2


def test_pip_install_registers_the_plugin_for_another_project(tmp_path: Path) -> None:
    """A project with no conftest gets the fixtures from the entry point alone (a dist-info
    declaring the same entry point as pyproject.toml stands in for the installed one)."""
    dist = tmp_path / "site" / "tickgate_entry-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tickgate-entry\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        "[pytest11]\ntickgate.pytest_plugin = tickgate.pytest_plugin\n"
    )
    project = tmp_path / "bot"
    project.mkdir()
    (project / "test_bot.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.tickgate(seed=5)
            def test_gateway(tickgate_server):
                assert tickgate_server.status()["seed"] == 5
            """
        )
    )
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(tmp_path / "site")])}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers"]

    def run() -> str:
        done = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "1 passed" in run()
    # Listing the plugin in a conftest as well (as this repository does) loads it once.
    (project / "conftest.py").write_text('pytest_plugins = ("tickgate.pytest_plugin",)\n')
    assert "1 passed" in run()


def last_price(server: TickgateServer, conid: int) -> str:
    """AAPL's last price from a snapshot, pre-flighting until the field is there (bounded)."""
    for _ in range(50):
        row = server.request("GET", f"/v1/api/iserver/marketdata/snapshot?conids={conid}&fields=31")
        if row[0].get("31"):
            return str(row[0]["31"])
    raise AssertionError("no last price")


def test_a_fake_clock_moves_the_simulated_market_only_when_advanced(
    tickgate_server_factory: StartGateway,
) -> None:
    clock = FakeClock()
    server = tickgate_server_factory(clock=clock, ticks_per_second=2000.0)
    server.request("GET", "/v1/api/iserver/accounts")
    before = last_price(server, AAPL)
    assert server.advance(60) == clock.now_ns() == FakeClock().now_ns() + 60 * 1_000_000_000
    for _ in range(500):  # bounded: the simulator's next step (tens of ms) makes the ticks due
        if last_price(server, AAPL) != before:
            break
    else:
        raise AssertionError("the price did not move after advance()")
    with pytest.raises(TypeError, match="FakeClock"):
        tickgate_server_factory().advance(1)


def test_this_suites_gateways_run_on_the_shifted_test_clock(
    tickgate_server: TickgateServer,
) -> None:
    from tests.conftest import SERVER_EPOCH_NS

    # The suite's override of the factory (tests/conftest.py): a fixed Wednesday morning.
    [market] = [m for m in tickgate_server.status()["markets"] if m["name"] == "US equities"]
    assert market["phase"] == "regular"
    assert market["nextChange"] > SERVER_EPOCH_NS // 1_000_000


def test_the_factorys_gateways_share_no_ids_and_no_session_state(
    tickgate_server_factory: StartGateway,
) -> None:
    first, second = tickgate_server_factory(store="memory"), tickgate_server_factory(store="memory")
    history = f"/v1/api/iserver/marketdata/history?conid={AAPL}&period=1d&bar=1h"
    a1, a2 = first.request("GET", history)["serverId"], first.request("GET", history)["serverId"]
    assert a1 != a2 and second.request("GET", history)["serverId"] == a1
    first.close_session()  # closes the first gateway's simulated market only
    assert first.status()["sessionOpen"] is False and second.status()["sessionOpen"] is True


def test_a_gateway_whose_start_times_out_stops_instead_of_serving_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytest_plugin, "START_TIMEOUT", 0.0)  # no start is this fast
    abandoned = pytest_plugin._ServerThread(pytest_plugin.gateway_config(tmp_path))
    with pytest.raises(TimeoutError, match="did not start within 0 s"):
        abandoned.start()
    abandoned._thread.join(60)  # it starts, sees nobody waits for it, and stops
    assert not abandoned._thread.is_alive()
    monkeypatch.undo()
    # Stopped for good: its data directory (locked while a gateway serves it) is free again.
    again = pytest_plugin._ServerThread(pytest_plugin.gateway_config(tmp_path))
    running = again.start()
    assert urllib.request.urlopen(running.base_url + "/tickgate/status", timeout=10).status == 200
    again.stop()
