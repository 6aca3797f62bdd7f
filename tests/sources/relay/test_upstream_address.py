"""An upstream address with credentials (`http://USER:TOKEN@HOST:PORT`, how a relay reaches a
token-protected tickgate) connects with them and shows them nowhere: not in `/readyz` (which
needs no token), `/tickgate/status`, `/metrics`, error answers, log lines or config errors.
A real upstream tickgate and a relay on 127.0.0.1; caplog sees each record's own message
(before the log formatter's safety net), so every surface must leave the secret out itself."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from tests.conftest import StartServer, call
from tests.sources.relay.test_relay import relay_status, until

from tickgate import config as configuration
from tickgate.log_format import REDACTED, TextFormatter
from tickgate.server.app import RunningServer
from tickgate.sources.relay.address import UpstreamAddress

pytestmark = pytest.mark.timeout(60)

TOKEN = "upstream-token-0123456789"
UNKNOWN_CONID = 990_777  # in neither catalogue: a lookup of it goes upstream


def test_the_password_or_a_lone_user_is_what_is_redacted() -> None:
    address = UpstreamAddress.parse("http://any:s%40cret@10.0.0.5:5640")
    assert address.shown == "http://any:[redacted]@10.0.0.5:5640"
    assert address.url == "http://any:s%40cret@10.0.0.5:5640"  # still what connects
    assert address.secrets == ("s%40cret", "s@cret")
    quoted = f"cannot reach {address.url}/v1/api/tickle: refused"
    redacted = "cannot reach http://any:[redacted]@10.0.0.5:5640/v1/api/tickle: refused"
    assert address.scrub(quoted) == redacted
    assert UpstreamAddress.parse("https://tok3n@host:1").shown == "https://[redacted]@host:1"
    plain = UpstreamAddress.parse("https://127.0.0.1:5000")
    assert plain.shown == plain.url and plain.scrub("x https://127.0.0.1:5000") == (
        "x https://127.0.0.1:5000"
    )


def leaked(caplog: pytest.LogCaptureFixture, secret: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if secret in r.getMessage()]


async def shown_surfaces(relay: RunningServer, http: aiohttp.ClientSession) -> str:
    """Everything the relay answers about its upstream, as one text."""
    ready = await call(http, "GET", relay.base_url + "/readyz", status=503)
    status = await call(http, "GET", relay.base_url + "/tickgate/status")
    async with http.get(relay.base_url + "/metrics") as response:
        metrics = await response.text()
    info = f"{relay.base_url}/v1/api/iserver/contract/{UNKNOWN_CONID}/info"
    lookup = await call(http, "GET", info, status=503)
    return "\n".join(map(str, (ready, status, metrics, lookup)))


async def test_a_down_upstream_is_shown_without_its_password(
    start: StartServer,
    http: aiohttp.ClientSession,
    unused_tcp_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tickgate")
    # A short password: below the log formatter's secret length, so only the fix hides it.
    upstream = f"http://any:pw4@127.0.0.1:{unused_tcp_port}"
    relay = await start(source="relay", upstream=upstream)
    await until(lambda: relay_status(relay)["reconnects"] >= 1)
    shown = f"http://any:{REDACTED}@127.0.0.1:{unused_tcp_port}"
    text = await shown_surfaces(relay, http)
    assert "pw4@" not in text
    assert f"upstream {shown} down: cannot reach {shown}" in text  # /readyz's reason
    assert f"'upstream': '{shown}'" in text  # /tickgate/status
    assert f"cannot reach {shown}" in text.rpartition("\n")[2]  # the lookup's 503
    assert leaked(caplog, "pw4@") == []
    assert any(f"upstream {shown} down" in r.getMessage() for r in caplog.records)


async def test_a_token_in_the_address_reaches_a_protected_upstream_and_no_line(
    start: StartServer,
    http: aiohttp.ClientSession,
    unused_tcp_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tickgate")
    upstream = await start(auth_token=TOKEN, port=unused_tcp_port)
    relay = await start(source="relay", upstream=f"http://any:{TOKEN}@127.0.0.1:{unused_tcp_port}")
    await until(lambda: relay_status(relay)["authenticated"])
    shown = f"http://any:{REDACTED}@127.0.0.1:{unused_tcp_port}"
    assert relay_status(relay)["upstream"] == shown
    assert any(f"upstream {shown} connected" in r.getMessage() for r in caplog.records)

    # The upstream answers a lookup with an error: the relay's 503 names it, redacted.
    fault = {"path": "/trsrv/secdef", "status": 503, "seconds": 60}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    await call(http, "POST", upstream.base_url + "/tickgate/faults/rest", json=fault, headers=auth)
    info = f"{relay.base_url}/v1/api/iserver/contract/{UNKNOWN_CONID}/info"
    error = await call(http, "GET", info, status=503)
    assert error["error"].startswith(f"upstream {shown} answered 503"), error

    # Whatever logs the token raw while the relay runs, tickgate's formatter redacts it.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "raw %s", (TOKEN,), None)
    assert TextFormatter().format(record).endswith(f"raw {REDACTED}")

    await upstream.stop()
    await until(lambda: relay_status(relay)["state"] == "down")
    text = await shown_surfaces(relay, http)
    assert TOKEN not in text and f"upstream {shown} down" in text
    assert leaked(caplog, TOKEN) == []


def test_a_config_error_about_the_address_does_not_show_its_password() -> None:
    checked = configuration.check(
        environ={"TICKGATE_SOURCE": "relay", "TICKGATE_UPSTREAM": "ftp://any:pw4@host:1"}
    )
    problems = " ".join(map(str, checked.problems))
    assert "upstream must be an http(s)" in problems and "pw4" not in problems
    assert "ftp://any:[redacted]@host:1" in problems
