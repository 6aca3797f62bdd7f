"""One `serve --workers` cluster per port: the claim a supervisor holds on its port.

The edges of a cluster share their port with SO_REUSEPORT, and the kernel lets any process of
the same user bind such a port too, so a second cluster started on the same port would bind
beside the first and the kernel would spread clients over two different gateways. The bind
itself cannot refuse it; an exclusive `flock` on a file named after the port, in a private
per-user directory (`/tmp/tickgate-UID`), does. The kernel drops a flock when the last
process holding the open file ends, however it ends (`kill -9` included), so a stale claim
never blocks a restart. The supervisor hands the open file to its children, so a
supervisor killed with -9 keeps its claim until its last child (which still listens on the
port) has gone.

The claim is per port, whatever the address: `0.0.0.0:P` and `127.0.0.1:P` overlap, and
SO_REUSEPORT would let two clusters bind those two side by side.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from tickgate.errors import TickgateError
from tickgate.file_claims import ClaimHeld, claim_exclusively


class PortClaimedError(TickgateError):
    """Another `serve --workers` cluster serves the port; the message names it."""


class PortClaim:
    """The claim on a port, held while its file descriptor `fd` stays open (in this process
    or in the children it was passed to)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def release(self) -> None:
        """Close this process's handle (the claim ends once no child holds it either)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def runtime_dir() -> Path:
    """This user's private directory for claims, `<tmp>/tickgate-<uid>` (made 0700). Raises
    OSError when it exists but another user owns it (a claim there could be forged)."""
    path = Path(tempfile.gettempdir()) / f"tickgate-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid():
        raise OSError(f"{path} belongs to another user")
    return path


def claim_port(port: int, data_dir: Path, *, directory: Path | None = None) -> PortClaim:
    """Claim `port` for the cluster of `data_dir`. Raises `PortClaimedError` naming the cluster
    that holds it, or OSError when the runtime directory cannot be used."""
    path = (directory or runtime_dir()) / f"workers-port-{port}.lock"
    try:
        fd = claim_exclusively(path, {"pid": os.getpid(), "data_dir": str(data_dir.resolve())})
    except ClaimHeld as held:
        raise PortClaimedError(
            f"port {port} is already served by another tickgate serve --workers "
            f"({_describe(held.holder)}); stop that one or choose another --port"
        ) from None
    return PortClaim(path, fd)


def _describe(holder: dict[str, Any] | None) -> str:
    if holder is not None:
        try:
            return f"supervisor pid {int(holder['pid'])}, data directory {holder['data_dir']}"
        except (ValueError, KeyError, TypeError):
            pass
    return "a supervisor that has not written its pid yet"
