"""A pytest plugin for testing bots against a real gateway: `pip install tickgate` registers it.

Fixtures:

- `tickgate_server`: a gateway on 127.0.0.1 (a free port) for one test, configured by the
  `@pytest.mark.tickgate(seed=..., tls=..., catalogue=..., accounts=...)` marker when present;
- `tickgate_server_factory`: call it with those options to start as many gateways as a test
  needs; all are stopped at the end of the test.

The gateway runs in a thread of its own with its own event loop, so the test may be plain
synchronous code (ibind, requests, websocket-client) or async on any loop: nothing the bot does
can block the server, and nothing needs pytest-asyncio. The control API (halt, resume, session
close/open, replay) goes through the gateway's own HTTP routes, like any client's would.

Importing this module imports only the standard library and pytest: pytest loads it for every
test session of every project where tickgate is installed, so the gateway itself is imported
when a fixture first starts one.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tickgate.clock import Clock
    from tickgate.config import Config
    from tickgate.model.accounts import AccountConfig
    from tickgate.server.app import RunningServer

MARKER = "tickgate"
#: Seconds to wait for a gateway to start or stop before the fixture fails the test.
START_TIMEOUT = 30.0
CONTROL_TIMEOUT = 10.0


class ControlError(RuntimeError):
    """A control call was refused; the message is the gateway's own error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass
class TickgateServer:
    """A running gateway: where to reach it and how to drive its simulated market.

    URLs: `base_url` (scheme://127.0.0.1:port), `rest_url` (`/v1/api`, what ibind's `url`
    wants with a trailing slash), `ws_url` (`/v1/api/ws`, the api dialect) and
    `portal_ws_url` (`/v1/portal/ws`, the portal dialect). With TLS, `certificate` is the
    self-signed certificate to trust (`ssl_context()` builds a client context from it).
    """

    running: RunningServer = field(repr=False)
    config: Config = field(repr=False)
    _thread: _ServerThread = field(repr=False)

    @property
    def base_url(self) -> str:
        return self.running.base_url

    @property
    def rest_url(self) -> str:
        return self.base_url + "/v1/api"

    @property
    def ws_url(self) -> str:
        return self._ws_base + "/v1/api/ws"

    @property
    def portal_ws_url(self) -> str:
        return self._ws_base + "/v1/portal/ws"

    @property
    def _ws_base(self) -> str:
        return self.base_url.replace("http", "ws", 1)

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def tls(self) -> bool:
        return self.config.tls

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def certificate(self) -> Path | None:
        from tickgate.datadir import CERT_NAME

        return self.config.data_dir / CERT_NAME if self.config.tls else None

    @property
    def auth_token(self) -> str | None:
        return self.config.auth_token

    @property
    def headers(self) -> dict[str, str]:
        """What a client must send besides its request: the bearer token when one is set."""
        token = self.config.auth_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting only this gateway's certificate (None without TLS)."""
        if self.certificate is None:
            return None
        return ssl.create_default_context(cafile=str(self.certificate))

    # -- control API (tickgate's own /tickgate/ routes) ------------------------------------

    def conid(self, instrument: int | str) -> int:
        """The conid of `instrument`: a conid as is, or a symbol looked up in the catalogue.
        Raises LookupError for an unknown symbol."""
        if isinstance(instrument, int):
            return instrument
        found = self.running.gateway.catalogue.stocks_by_symbol(instrument)
        if not found:
            raise LookupError(f"no stock {instrument!r} in the catalogue")
        return found[0].conid

    def halt(self, instrument: int | str) -> dict[str, Any]:
        """Stop trading `instrument` (conid or symbol): its last price reads `H...`."""
        return self._control("POST", f"/tickgate/market/{self.conid(instrument)}/halt")

    def resume(self, instrument: int | str) -> dict[str, Any]:
        """Resume trading a halted instrument."""
        return self._control("POST", f"/tickgate/market/{self.conid(instrument)}/resume")

    def close_session(self) -> dict[str, Any]:
        """Close the session: last prices read `C...`, DAY orders expire, MOC/LOC fill."""
        return self._control("POST", "/tickgate/session/close")

    def open_session(self) -> dict[str, Any]:
        """Open a new trading day."""
        return self._control("POST", "/tickgate/session/open")

    def status(self) -> dict[str, Any]:
        """`GET /tickgate/status`: source, seed, session, connections, lines, health."""
        return self._control("GET", "/tickgate/status")

    def replay(self, action: str, value: str | None = None) -> dict[str, Any]:
        """Drive a replaying gateway: `status`, `pause`, `resume`, `seek` (a time or
        `+SECONDS`) or `speed` (a multiple or `max`)."""
        if action == "status":
            return self._control("GET", "/tickgate/replay")
        body = {"seek": {"time": value}, "speed": {"speed": value}}.get(action)
        return self._control("POST", f"/tickgate/replay/{action}", body)

    def fault(self, kind: str, **body: Any) -> dict[str, Any]:
        """Inject a fault of `kind` (docs/control.md "Faults" has the kinds), the keyword
        arguments its JSON body, e.g. `fault("rest", path="/iserver/accounts", status=503,
        calls=2)`. An unknown kind raises ControlError 404, its message naming the kinds."""
        return self._control("POST", f"/tickgate/faults/{kind}", body)

    def clear_faults(self) -> dict[str, Any]:
        """End every lasting fault."""
        return self._control("DELETE", "/tickgate/faults")

    def _control(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        answer = self.request(method, path, body)
        if not isinstance(answer, dict):
            raise ControlError(200, f"{path} answered {answer!r}, not a JSON object")
        return answer

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON call to the gateway (path from the root, e.g. `/v1/api/iserver/accounts`).
        Raises ControlError with the gateway's error text for an HTTP error status."""
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        call = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(
                call, timeout=CONTROL_TIMEOUT, context=self.ssl_context()
            ) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            exc.close()
            try:
                message = str(json.loads(text).get("error", text))
            except (ValueError, AttributeError):
                message = text
            raise ControlError(exc.code, message) from None

    def advance(self, seconds: float) -> int:
        """Move a gateway started with `clock=FakeClock(...)` forward by `seconds` of
        simulated time; the simulator then produces the ticks due by the new time at its next
        step. Returns the new time (epoch ns). Raises TypeError for any other clock."""
        from tickgate.clock import FakeClock

        clock = self._thread.clock
        if not isinstance(clock, FakeClock):
            raise TypeError("advance() needs a gateway started with clock=FakeClock(...)")
        # On the server's loop, so no handler sees time move in the middle of its work.
        return self._thread.call(lambda: clock.advance(seconds=seconds))

    def stop(self) -> None:
        """Stop the gateway (idempotent): connections close, the order store is closed."""
        self._thread.stop()


class _ServerThread:
    """One gateway on an event loop of its own thread."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock
        self._loop = asyncio.new_event_loop()
        self._started: Future[RunningServer] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="tickgate-server", daemon=True)

    def start(self) -> RunningServer:
        """Start the gateway; raises TimeoutError when it is not serving after START_TIMEOUT
        (the gateway then stops as soon as its start completes), or what its start raised."""
        self._thread.start()
        try:
            return self._started.result(timeout=START_TIMEOUT)
        except TimeoutError:
            # Abandoned, it must not go on serving (and simulating) beside the rest of the
            # session, making every later start slower still: `_serve` stops it once started.
            self._started.cancel()
            raise TimeoutError(
                f"the tickgate gateway did not start within {START_TIMEOUT:g} s"
            ) from None

    def call(self, action: Callable[[], int]) -> int:
        """Run `action` on the server's loop and return its result."""

        async def run() -> int:
            return action()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(CONTROL_TIMEOUT)

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("the tickgate gateway did not stop in time")

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self) -> None:
        from tickgate.server.app import build_app, start_server

        self._stop = asyncio.Event()
        try:
            server = await start_server(build_app(self.config, clock=self.clock))
        except BaseException as exc:
            with contextlib.suppress(InvalidStateError):  # nobody waits any more
                self._started.set_exception(exc)
            return
        try:
            self._started.set_result(server)
        except InvalidStateError:  # the fixture gave up waiting (`start` timed out)
            await server.stop()
            return
        try:
            await self._stop.wait()
        finally:
            await server.stop()


def gateway_config(
    data_dir: Path,
    *,
    seed: int = 42,
    tls: bool = False,
    catalogue: Path | str | None = None,
    accounts: Sequence[AccountConfig | str] | None = None,
    **changes: Any,
) -> Config:
    """The configuration of a test gateway: 127.0.0.1 on a free port, state in `data_dir`.

    `accounts` are AccountConfig values or bare account ids; `changes` are any other Config
    fields (e.g. `ticks_per_second`, `auth_token`, `market_hours`). Raises ConfigError when
    the result is not a valid gateway configuration, TypeError for an unknown field (the
    fixtures name it first with `check_options`).
    """
    import dataclasses

    from tickgate.config import Config
    from tickgate.model.accounts import AccountConfig

    # The seed also fixes the reply ids: a test's run is the same every time.
    fields: dict[str, Any] = {
        "host": "127.0.0.1", "port": 0, "seed": seed, "reply_seed": seed, "tls": tls,
    }  # fmt: skip
    if catalogue is not None:
        fields["catalogue"] = Path(catalogue)
    if accounts is not None:
        fields["accounts"] = tuple(
            AccountConfig(account_id=a) if isinstance(a, str) else a for a in accounts
        )
    # A `reply_seed` of the test's own wins over the one the seed implies.
    return dataclasses.replace(Config(data_dir=data_dir), **{**fields, **changes})


#: The options `gateway_config` takes besides Config fields, and the factory's clock.
OWN_OPTIONS = ("seed", "tls", "catalogue", "accounts", "clock")
#: Config fields the fixture sets itself: every gateway has its own port and data directory.
FIXED_FIELDS = frozenset({"host", "port", "data_dir"})


def check_options(options: Iterable[str], where: str) -> None:
    """Raise TypeError naming the first of `options` a test gateway does not take, `where` it
    was given (the marker or the factory call), close matches and what the options are."""
    import dataclasses

    from tickgate.config import Config

    config_fields = sorted(
        f.name for f in dataclasses.fields(Config) if f.name not in FIXED_FIELDS | set(OWN_OPTIONS)
    )
    valid = set(OWN_OPTIONS) | set(config_fields)
    for name in options:
        if name in valid:
            continue
        if name in FIXED_FIELDS:
            reason = "the fixture sets it (each gateway has its own free port and data directory)"
        else:
            close = difflib.get_close_matches(name, sorted(valid), n=3)
            reason = "unknown option" + (f" (did you mean {', '.join(close)}?)" if close else "")
        raise TypeError(
            f"{where}: {name!r}: {reason}; the options are {', '.join(OWN_OPTIONS)} and "
            f"the tickgate Config fields ({', '.join(config_fields)})"
        )


StartGateway = Callable[..., TickgateServer]


@pytest.fixture
def tickgate_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartGateway]:
    """Start gateways: `tickgate_server_factory(seed=7, tls=True, accounts=["DU1", "DU2"])`
    (options as `gateway_config`, plus `clock=FakeClock(...)` for simulated time that moves
    only with `advance`). Each gets its own data directory; all stop after the test."""
    started: list[TickgateServer] = []

    def start(*, clock: Clock | None = None, **options: Any) -> TickgateServer:
        check_options(options, "tickgate_server_factory(...)")
        config = gateway_config(tmp_path_factory.mktemp("tickgate"), **options)
        thread = _ServerThread(config, clock)
        server = TickgateServer(running=thread.start(), config=config, _thread=thread)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def tickgate_server(
    request: pytest.FixtureRequest, tickgate_server_factory: StartGateway
) -> TickgateServer:
    """A gateway for this test, with the options of its `@pytest.mark.tickgate(...)` marker
    (plain HTTP, seed 42, the built-in catalogue and one account when there is none)."""
    marker = request.node.get_closest_marker(MARKER)
    options = dict(marker.kwargs) if marker is not None else {}
    check_options(options, f"@pytest.mark.{MARKER}(...)")
    return tickgate_server_factory(**options)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the tickgate_server fixture's gateway "
        "(seed, tls, catalogue, accounts, and any other tickgate Config field)",
    )
