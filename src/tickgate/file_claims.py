"""Exclusive claims held with `flock` on a small file that names its holder.

A flock belongs to the open file, and the kernel drops it when the last process holding that
file ends, however it ends (`kill -9` included): the lock is the truth, and the file's text
(JSON written by the holder) only names the holder in a refusal, so a stale text left behind
never blocks a new claim. Used for a data directory (one gateway per directory) and for a
`serve --workers` port (one cluster per port).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

#: A claim file is private from its first byte (it names a pid and a directory).
CLAIM_FILE_MODE = 0o600


class ClaimHeld(Exception):
    """Another process holds the claim; `holder` is what it wrote down (None when it has not
    written itself down yet, or wrote something unreadable)."""

    def __init__(self, path: Path, holder: dict[str, Any] | None) -> None:
        super().__init__(f"{path} is claimed by another process")
        self.holder = holder


def claim_exclusively(path: Path, holder: dict[str, Any]) -> int:
    """Take the exclusive claim of `path` (created 0600 if need be) for this process and write
    `holder` into it as JSON. Returns the open descriptor: the claim lasts while it stays open,
    here or in a child it is passed to. Raises ClaimHeld when another process holds it, and
    OSError when the file cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, CLAIM_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        written = os.pread(fd, 4096, 0)
        os.close(fd)
        raise ClaimHeld(path, _read_holder(written)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    return fd


def _read_holder(text: bytes) -> dict[str, Any] | None:
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None
