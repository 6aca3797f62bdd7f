"""The default EventStore: one SQLite file in WAL mode (stdlib `sqlite3`).

Durability: `synchronous=FULL` makes every committed batch reach the disk before `append`
returns, so neither a process kill nor a power loss loses an acknowledged order. (NORMAL would
already survive `kill -9` in WAL mode but may lose the last commits on power loss; trading events
are few and small, so the extra fsync is cheap.) Each `append` is one transaction: a batch is
stored whole or not at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from tickgate.trading.events import StoredEvent, decode, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
)
"""


#: Orders and fills are private: the file is owner-only from its creation (SQLite gives its WAL
#: and shared-memory files the database file's mode).
FILE_MODE = 0o600


class SqliteEventStore:
    """Trading events in a SQLite file; create the parent directory first."""

    def __init__(self, path: str | Path) -> None:
        _make_private(Path(path))
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store `events` in one durable transaction, in order."""
        rows = [(kind, json.dumps(payload)) for kind, payload in map(encode, events)]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT INTO events (kind, payload) VALUES (?, ?)", rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def replay(self) -> Iterator[StoredEvent]:
        """Every stored event, oldest first."""
        cursor = self._db.execute("SELECT kind, payload FROM events ORDER BY seq")
        for kind, payload in cursor.fetchall():
            yield decode(kind, json.loads(payload))

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()


def _make_private(path: Path) -> None:
    """Create the database file owner-only before SQLite would create it with the default mode;
    tighten files a former version left readable by others. Raises OSError."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(FILE_MODE)
