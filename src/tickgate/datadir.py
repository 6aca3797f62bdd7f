"""The data directory: made usable and private, and owned by one gateway process at a time.

Everything kept there is secret or private (the TLS key, every order and fill), so the directory
is made 0700 and files are created 0600 from their first byte: a file opened with the default
mode and chmod-ed afterwards is readable by anyone during the gap.

Two gateways on one directory would share the order store and hand out the same order ids, so a
gateway takes an exclusive `flock` on `tickgate.lock` in the directory and keeps it until the
process ends. The kernel releases the lock when the process dies, however it dies (`kill -9`
included), so the lock is the truth; the file's text (the holder's pid, host and start time) is
only there to name the holder in the refusal, and a stale text left behind never blocks a start.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import stat
from pathlib import Path
from typing import Any

from tickgate.errors import ConfigError, TickgateError
from tickgate.file_claims import ClaimHeld, claim_exclusively

LOCK_NAME = "tickgate.lock"
#: The self-signed TLS pair a gateway makes on first start (`server.tls`); clients trust the
#: certificate by this name in the data directory.
CERT_NAME = "tickgate-cert.pem"
KEY_NAME = "tickgate-key.pem"
DIR_MODE = 0o700
FILE_MODE = 0o600

log = logging.getLogger("tickgate.datadir")


class DataDirInUseError(TickgateError):
    """Another live process holds the data directory's lock; the message names it."""


class DataDirLock:
    """An exclusive lock on a data directory, held while this object's file stays open.

    Not meant to be released early: a gateway holds it for its whole life and the kernel drops
    it at exit. `release` exists for tests and embedders that run several gateways in turn.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Drop the lock (closing the file releases it); idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def prepare_data_dir(path: Path) -> None:
    """Create the data directory (0700) or tighten an existing one; check it can be written.

    An existing directory that others can read is tightened when this user owns it and it is
    not a shared sticky directory such as /tmp; otherwise a warning says what to change.
    Raises ConfigError naming the directory and why it cannot be used.
    """
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        _tighten(path)
        probe = path / ".tickgate-write-test"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE))
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data directory {path}: {exc.strerror or exc}") from None


def _tighten(path: Path) -> None:
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode) or not info.st_mode & 0o077:
        return
    if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
        path.chmod(DIR_MODE)
        log.info("data directory %s was readable by others; made it owner-only (0700)", path)
    else:
        log.warning(
            "data directory %s is readable by other users (mode %o); use a private directory",
            path,
            stat.S_IMODE(info.st_mode),
        )


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, the file being 0600 from its creation on.

    The bytes go to a new sibling file which then replaces `path`, so a reader sees the old
    content or the new, never a half-written file. Raises OSError.
    """
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def lock_data_dir(path: Path, *, now: datetime.datetime | None = None) -> DataDirLock:
    """Take the exclusive lock of data directory `path` (which must exist) for this process.

    On success the lock file says who holds it (pid, host, start time `now`, default the current
    time). Raises DataDirInUseError, naming the holder, when another process holds it.
    """
    lock_path = path / LOCK_NAME
    started = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        fd = claim_exclusively(
            lock_path, {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
        )
    except ClaimHeld as held:
        raise DataDirInUseError(
            f"data directory {path.resolve()} is in use by another gateway "
            f"({_describe(held.holder)}); stop that one or start this one with another --data-dir"
        ) from None
    return DataDirLock(lock_path, fd)


def _describe(holder: dict[str, Any] | None) -> str:
    """The holder as the lock file names it; it may not have written itself down yet."""
    if holder is not None:
        try:
            return f"pid {int(holder['pid'])} on {holder['host']}, started {holder['started']}"
        except (ValueError, KeyError, TypeError):
            pass
    return "a process that has not written its pid yet"
