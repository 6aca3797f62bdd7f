"""`tickgate serve --workers N`: one machine, one port, a cluster of processes.

The supervisor (this process) holds the data directory's lock, reserves the port, runs an
embedded nats-server (JetStream on, its store under the data directory, a free loopback
port), then starts one core (loopback, a private port: it owns the source, trading and the
brokerage session) and N edge workers that all listen on the one port with SO_REUSEPORT, so
the kernel spreads connections over them. Each child is `python -m tickgate serve` with the
supervisor's own arguments plus its role, so every member has the same settings.

Start-up: the core and the edges start at once (an edge waits for the core's session by
itself before it listens), so start-up takes as long as the slowest child, not the sum. A
child is given as long as it makes progress: it fails the start only when it used no CPU
time for `START_IDLE_S` (an edge waiting for a core that is still starting counts the
core's progress), when it exits before it is ready (its own error is on stderr), or after
`START_LIMIT_S` in all; the message names the child and what it was waiting for.

Supervision: a child that exits after it was ready is logged and started again after a
back-off that doubles (from `RESTART_MIN_S` to `RESTART_MAX_S`) and resets once a child
stayed up for `STABLE_S`; a dead core's lease is deleted first (its supervisor knows it is
gone), so the new core need not wait for the lease to lapse.

Stop (SIGTERM or SIGINT): the edges first, together (each closes its clients' sockets),
then the core (so no edge sees its core go silent while it stops), then the nats-server. A
child gets SIGTERM and `STOP_TIMEOUT_S` to exit, then SIGKILL with a log line naming it.
Children get SIGTERM if the supervisor itself dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
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
from tickgate.server.cluster.port_claim import PortClaim, claim_port

log = logging.getLogger("tickgate.workers")

CLUSTER_NAME = "workers"
RESTART_MIN_S = 0.5
RESTART_MAX_S = 10.0
STABLE_S = 30.0
#: How long a child may take to exit after SIGTERM. An edge closes its sockets first and
#: waits up to `server.ws.CLOSE_TIMEOUT_SECONDS` (10 s) for clients that never answer the
#: close, then the HTTP runner's 5 s; the rest is room for a loaded machine.
STOP_TIMEOUT_S = 30.0
#: A starting child that used no CPU time for this long (nor the core it waits for) is stuck.
START_IDLE_S = 60.0
#: A hang guard on the whole start, however busy the children are.
START_LIMIT_S = 600.0
#: How often a start in progress is checked (the children's readiness wakes it at once).
START_POLL_S = 1.0


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
    #: The exit status of a process that ended before it was ever ready.
    failed_start: int | None = None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ticks(pid: int) -> int | None:
    """The CPU time (user + system, in clock ticks) process `pid` used so far; None when it
    cannot be read (gone, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) in parentheses: utime is the
    # 14th field of the line, stime the 15th.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


class StartWatch:
    """When each starting child last made progress (its CPU time grew), to tell a slow start
    on a loaded machine from a stuck one."""

    def __init__(self, now: float) -> None:
        self.began = now
        self._ticks: dict[Child, int | None] = {}
        self._progress: dict[Child, float] = {}

    def observe(self, child: Child, now: float) -> None:
        ticks = cpu_ticks(child.process.pid) if child.process is not None else None
        # Unreadable (no /proc on this system): no way to tell stuck from slow, so never call
        # it stuck; a child that exits still fails the start at once.
        if ticks is None or child not in self._progress or ticks != self._ticks.get(child):
            self._ticks[child] = ticks
            self._progress[child] = now

    def idle_s(self, child: Child, now: float, waits_for: Child | None = None) -> float:
        """Seconds since `child` (or `waits_for`, what it waits on) last made progress."""
        last = self._progress.get(child, self.began)
        if waits_for is not None:
            last = max(last, self._progress.get(waits_for, self.began))
        return now - last


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

    def __init__(
        self, settings: Config, argv: Sequence[str], port: int, claim: PortClaim | None = None
    ) -> None:
        self.settings = settings
        self.words = list(argv)
        self.port = port
        #: Passed to every child, so the port stays claimed while any of them lives.
        self.claim = claim
        self.nats = NatsServerProcess(
            extra_args=["-js", "-sd", str(self.nats_dir)], stop_with_parent=True
        )
        self.children: list[Child] = []
        self.stop = asyncio.Event()
        #: Set when a starting child became ready or failed (wakes `_started`).
        self._news = asyncio.Event()
        self._announced = False
        self._drains: set[asyncio.Task[None]] = set()

    @property
    def nats_dir(self) -> Path:
        return self.settings.data_dir / "nats"

    async def run(self) -> int:
        # The store holds only the core lease: a lease left by a supervisor killed with -9
        # would make the new core wait for it to lapse.
        shutil.rmtree(self.nats_dir, ignore_errors=True)
        loop = asyncio.get_running_loop()
        began = loop.time()
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
        tasks = [asyncio.create_task(self._keep(child)) for child in self.children]
        try:
            if await self._started():
                print(
                    f"  workers:   {len(edges)} edge workers on port {self.port}, a core at "
                    f"{core.url}, nats-server at {self.nats.url} (pid {self.nats.pid}); "
                    f"started in {loop.time() - began:.1f} s",
                    flush=True,
                )
                await self.stop.wait()
        finally:
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._stop_children()
            await self.nats.stop()
        return 0

    async def _started(self) -> bool:
        """Wait until every child is ready (True) or the supervisor is told to stop (False).
        Raises TickgateError, naming the child, when one exits before it is ready or is
        stuck (see the module)."""
        loop = asyncio.get_running_loop()
        watch = StartWatch(loop.time())
        core = self.children[0]
        while not self.stop.is_set():
            starting = [child for child in self.children if not child.ready.is_set()]
            if not starting:
                return True
            now = loop.time()
            for child in starting:
                if child.failed_start is not None:
                    raise TickgateError(
                        f"{child.name} exited with status {child.failed_start} before it was "
                        "ready (its error is above)"
                    )
                watch.observe(child, now)
            for child in starting:
                waits_for = core if child is not core and not core.ready.is_set() else None
                if watch.idle_s(child, now, waits_for) > START_IDLE_S:
                    raise TickgateError(_stuck(child, waits_for, START_IDLE_S))
            if now - watch.began > START_LIMIT_S:
                names = ", ".join(child.name for child in starting)
                raise TickgateError(f"{names} not ready after {START_LIMIT_S:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), START_POLL_S)
            self._news.clear()
        return False

    async def _keep(self, child: Child) -> None:
        """Run `child`, and again whenever it exits, until the supervisor stops. A child that
        exits before it was ever ready is not restarted: the start has failed."""
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
                pass_fds=() if self.claim is None else (self.claim.fd,),
            )
            await self._read_banner(child, child.process)
            status = await child.process.wait()
            if self.stop.is_set():
                return
            if not child.ready.is_set() and child.restarts == 0:
                child.failed_start = status
                self._news.set()
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
        """Read the child's banner (its first worker's is shown once), mark it ready once it
        is read, then keep draining. A child that exits before its banner is not ready."""
        assert process.stdout is not None
        stdout = process.stdout
        show = child.role == "edge" and not self._announced
        child.url = None
        complete = False
        while not complete and (line := await stdout.readline()):
            text = line.decode(errors="replace")
            if show:
                sys.stdout.write(text)
            if "listening on " in text:
                child.url = text.split("listening on ", 1)[1].split()[0]
            complete = text.startswith("  try:") or (child.url is not None and not show)
        if show:
            sys.stdout.flush()
        if complete:
            self._announced = self._announced or show
            ticks = cpu_ticks(process.pid)
            log.info(
                "%s (pid %d) ready%s",
                child.name,
                process.pid,
                "" if ticks is None else f" after {ticks / CLOCK_TICKS:.2f} s of CPU time",
            )
            child.ready.set()
            self._news.set()
            drain = asyncio.get_running_loop().create_task(_drain(stdout))
            self._drains.add(drain)  # held: the loop keeps only weak references to tasks
            drain.add_done_callback(self._drains.discard)

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

    async def _stop_children(self) -> None:
        """The edges together, then the core (see the module)."""
        edges = [child for child in self.children if child.role == "edge"]
        await asyncio.gather(*(self._end(edge) for edge in edges))
        await asyncio.gather(*(self._end(c) for c in self.children if c.role == "core"))

    async def _end(self, child: Child) -> None:
        process = child.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "%s (pid %d) did not stop within %g s of SIGTERM; killing it",
                child.name,
                process.pid,
                STOP_TIMEOUT_S,
            )
            process.kill()
            await process.wait()


def _stuck(child: Child, waits_for: Child | None, idle_s: float) -> str:
    pid = child.process.pid if child.process is not None else "none"
    if waits_for is None:
        return (
            f"{child.name} (pid {pid}) is not ready and used no CPU time for {idle_s:g} s: "
            "it is stuck starting (its log is above)"
        )
    return (
        f"{child.name} (pid {pid}) is waiting for the {waits_for.name}, and neither used CPU "
        f"time for {idle_s:g} s: the {waits_for.name} is stuck starting (its log is above)"
    )


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
    try:
        # After the reservation: with --port 0 only now is the port known.
        claim = claim_port(port, settings.data_dir)
    except TickgateError as exc:
        reserved.close()
        print(f"tickgate: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        reserved.close()
        print(f"tickgate: cannot claim port {port}: {exc}", file=sys.stderr)
        return 1

    async def main() -> int:
        supervisor = Supervisor(settings, argv, port, claim)
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
        claim.release()
        lock.release()
