"""`tickgate serve --workers N`: one machine, one port, a cluster of processes.

The supervisor (this process) holds the data directory's lock, reserves the port, runs an
embedded nats-server (JetStream on, its store under the data directory, a free loopback
port), then starts one core (loopback, a private port: it owns the source, trading and the
brokerage session) and N edge workers that all listen on the one port with SO_REUSEPORT, so
the kernel spreads connections over them. Each child is `python -m tickgate serve` with the
supervisor's own arguments plus its role, so every member has the same settings.

Supervision: a child that exits is logged and started again after a back-off that doubles
(from `RESTART_MIN_S` to `RESTART_MAX_S`) and resets once a child stayed up for
`STABLE_S`; a dead core's lease is deleted first (its supervisor knows it is gone), so the
new core need not wait for the lease to lapse. SIGTERM or SIGINT stops every child (SIGTERM,
then SIGKILL after `STOP_TIMEOUT_S`) and the nats-server. Children get SIGTERM if the
supervisor itself dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import nats.js.errors

from tickgate.bus.base import BusError
from tickgate.bus.nats_server import NatsServerProcess, stop_with_parent_process
from tickgate.config import Config
from tickgate.datadir import lock_data_dir, prepare_data_dir
from tickgate.errors import TickgateError
from tickgate.server.cluster.lease import bucket_name

log = logging.getLogger("tickgate.workers")

CLUSTER_NAME = "workers"
RESTART_MIN_S = 0.5
RESTART_MAX_S = 10.0
STABLE_S = 30.0
STOP_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0


@dataclass(eq=False)
class Child:
    """One supervised process: its role, its argv, the running process, its restarts."""

    name: str
    role: str
    command: list[str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    url: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to `host:port` with SO_REUSEPORT: it keeps the port for
    the workers (port 0: a free one is chosen) and fails now if another program holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def child_argv(argv: Sequence[str], *extra: str) -> list[str]:
    """`python -m tickgate serve` with the supervisor's arguments, then `extra` (later flags
    win in argparse, so `--workers 0` and the role override what the user gave)."""
    words = list(argv)
    if words and words[0] == "serve":
        words = words[1:]
    return [
        sys.executable,
        "-m",
        "tickgate",
        "serve",
        *words,
        "--workers",
        "0",
        "--supervised",
        *extra,
    ]


class Supervisor:
    """Runs the members of `serve --workers` (see the module) until `stop` is set."""

    def __init__(self, settings: Config, argv: Sequence[str], port: int) -> None:
        self.settings = settings
        self.words = list(argv)
        self.port = port
        self.nats = NatsServerProcess(
            extra_args=["-js", "-sd", str(self.nats_dir)], stop_with_parent=True
        )
        self.children: list[Child] = []
        self.stop = asyncio.Event()
        self._announced = False

    @property
    def nats_dir(self) -> Path:
        return self.settings.data_dir / "nats"

    async def run(self) -> int:
        # The store holds only the core lease: a lease left by a supervisor killed with -9
        # would make the new core wait for it to lapse.
        shutil.rmtree(self.nats_dir, ignore_errors=True)
        await self.nats.start()
        cluster = ("--nats", self.nats.url, "--cluster", CLUSTER_NAME)
        core = Child(
            "core",
            "core",
            child_argv(
                self.words, *cluster, "--cluster-role", "core", "--host", "127.0.0.1", "--port", "0"
            ),
        )
        edges = [
            Child(
                f"worker {n}",
                "edge",
                child_argv(
                    self.words, *cluster, "--cluster-role", "edge", "--port", str(self.port)
                ),
            )
            for n in range(1, self.settings.workers + 1)
        ]
        self.children = [core, *edges]
        tasks = [asyncio.create_task(self._keep(core))]
        try:
            await self._wait_ready(core)
            tasks += [asyncio.create_task(self._keep(edge)) for edge in edges]
            for edge in edges:
                await self._wait_ready(edge)
            print(
                f"  workers:   {len(edges)} edge workers on port {self.port}, a core at "
                f"{core.url}, nats-server at {self.nats.url} (pid {self.nats.pid})",
                flush=True,
            )
            await self.stop.wait()
        finally:
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(self._end(child) for child in reversed(self.children)))
            await self.nats.stop()
        return 0

    async def _wait_ready(self, child: Child) -> None:
        stopping = asyncio.ensure_future(self.stop.wait())
        ready = asyncio.ensure_future(child.ready.wait())
        try:
            done, _ = await asyncio.wait(
                {stopping, ready}, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
            ready.cancel()
        if not done:
            raise TickgateError(f"{child.name} did not start within {START_TIMEOUT_S:g} s")

    async def _keep(self, child: Child) -> None:
        """Run `child`, and again whenever it exits, until the supervisor stops."""
        backoff = RESTART_MIN_S
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            started = loop.time()
            child.ready.clear()
            child.process = await asyncio.create_subprocess_exec(
                *child.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                preexec_fn=stop_with_parent_process,
            )
            await self._read_banner(child, child.process)
            status = await child.process.wait()
            if self.stop.is_set():
                return
            up = loop.time() - started
            if up >= STABLE_S:
                backoff = RESTART_MIN_S
            log.warning(
                "%s (pid %d) exited with status %d after %.1f s; restarting in %g s",
                child.name,
                child.process.pid,
                status,
                up,
                backoff,
            )
            if child.role == "core":
                await self._forget_core_lease()
            child.restarts += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), backoff)
            backoff = min(backoff * 2, RESTART_MAX_S)

    async def _read_banner(self, child: Child, process: asyncio.subprocess.Process) -> None:
        """Read the child's banner (its first worker's is shown once), then keep draining."""
        assert process.stdout is not None
        stdout = process.stdout
        show = child.role == "edge" and not self._announced
        self._announced = self._announced or show
        while line := await stdout.readline():
            text = line.decode(errors="replace")
            if show:
                sys.stdout.write(text)
            if "listening on " in text:
                child.url = text.split("listening on ", 1)[1].split()[0]
            if text.startswith("  try:") or (child.url and not show):
                break
        if show:
            sys.stdout.flush()
        child.ready.set()
        asyncio.get_running_loop().create_task(_drain(stdout))

    async def _forget_core_lease(self) -> None:
        """Delete the dead core's lease (nobody else can be core: the supervisor starts it)."""
        with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
            client = await nats.connect(self.nats.url, connect_timeout=2, max_reconnect_attempts=0)
            try:
                kv = await client.jetstream(timeout=2).key_value(bucket_name(CLUSTER_NAME))
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    await kv.delete("core")
            finally:
                await client.close()

    async def _end(self, child: Child) -> None:
        process = child.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("%s (pid %d) did not stop; killing it", child.name, process.pid)
            process.kill()
            await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


def run_workers(settings: Config, argv: Sequence[str]) -> int:
    """Run `serve --workers N` until SIGTERM or SIGINT; returns the exit code."""
    from tickgate import log_format

    log_format.configure(settings.log_level, settings.log_format)
    try:
        prepare_data_dir(settings.data_dir)
        lock = lock_data_dir(settings.data_dir)  # the children are supervised: they don't lock
        if settings.tls:
            from tickgate.server.tls import certificate_names, ensure_certificate

            # Made once here, not raced by N children on first start.
            ensure_certificate(
                settings.data_dir, names=certificate_names(settings.host, *settings.allow_host)
            )
        reserved = reserve_port(settings.host, settings.port)
    except TickgateError as exc:
        print(f"tickgate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"tickgate: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    port = int(reserved.getsockname()[1])

    async def main() -> int:
        supervisor = Supervisor(settings, argv, port)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, supervisor.stop.set)
        return await supervisor.run()

    try:
        return asyncio.run(main())
    except (TickgateError, BusError) as exc:
        print(f"tickgate: {exc}", file=sys.stderr)
        return 2
    finally:
        reserved.close()
        lock.release()
