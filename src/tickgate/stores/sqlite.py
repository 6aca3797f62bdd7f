"""The default EventStore: one SQLite file in WAL mode (stdlib `sqlite3`).

Durability: `synchronous=FULL` makes every committed batch reach the disk before `append`
returns, so neither a process kill nor a power loss loses an acknowledged order. (NORMAL would
already survive `kill -9` in WAL mode but may lose the last commits on power loss; trading events
are few and small, so the extra fsync is cheap.) Each `append` is one transaction: a batch is
stored whole or not at all; `commits` counts them.

Schema versions (`PRAGMA user_version`), each reached from the one before by one function of
`MIGRATIONS`, in order:

1. the log: `events (seq, kind, payload)`. The first tickgate wrote it without setting
   `user_version`, so a file at 0 that has an `events` table is a version-1 file.
2. each row also carries the order id it names and its time (the fill's time for executions),
   indexed, so one order's latest snapshot and the executions since a time are found without
   reading the log; a one-row `checkpoint` table holds the engine's hot state with the last
   event it covers.
3. a `daily_values` table: each account's net liquidation at the start and the close of each
   trading day (`DailyValue`), keyed by account and day, for Portfolio Analyst's returns.
4. a `documents (kind, key, seq, payload)` table: the user-edited documents of the
   `DocumentStore` port (alerts, FYI notifications and settings), one row per key, `seq`
   keeping the order keys were first put.

Opening a file brings it to `SCHEMA_VERSION` in place, all steps in ONE transaction: a step that
fails leaves the file exactly as it was (`StoreMigrationError`). A file of a newer version is
refused untouched (`SchemaVersionError`). A new schema is a new function appended to
`MIGRATIONS`; the existing ones never change, since users' files went through them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson

from tickgate.errors import TickgateError
from tickgate.model.orders import Fill, Order
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.documents import Document
from tickgate.trading.events import OrderFilled, SessionClosed, StoredEvent, decode, encode
from tickgate.trading.store import Checkpoint, Documents, StoreClosedError


def _to_1_the_log(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        )"""
    )


def _to_2_lookups_and_checkpoint(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE events ADD COLUMN order_id INTEGER")
    db.execute("ALTER TABLE events ADD COLUMN ts_ns INTEGER")
    # Rows written before get their order id and time from the JSON payload they already hold.
    db.execute(
        """UPDATE events SET
            order_id = json_extract(payload, '$.order.order_id'),
            ts_ns = CASE kind
                WHEN 'OrderFilled' THEN json_extract(payload, '$.fill.ts_ns')
                WHEN 'SessionClosed' THEN json_extract(payload, '$.ts_ns')
                ELSE json_extract(payload, '$.order.updated_ns') END"""
    )
    db.execute("CREATE INDEX events_by_order ON events (order_id, seq)")
    db.execute("CREATE INDEX fills_by_time ON events (ts_ns) WHERE kind = 'OrderFilled'")
    db.execute(
        """CREATE TABLE checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            payload TEXT NOT NULL
        )"""
    )


def _to_3_daily_values(db: sqlite3.Connection) -> None:
    # Amounts as exact decimal text, the day as ISO text: both sort and compare as written.
    db.execute(
        """CREATE TABLE daily_values (
            account TEXT NOT NULL,
            day TEXT NOT NULL,
            start_value TEXT NOT NULL,
            end_value TEXT NOT NULL,
            ts_ns INTEGER NOT NULL,
            PRIMARY KEY (account, day)
        ) WITHOUT ROWID"""
    )


def _to_4_documents(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE documents (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            payload TEXT NOT NULL,
            UNIQUE (kind, key)
        )"""
    )


#: `MIGRATIONS[v]` takes a file of schema version `v` to `v + 1`.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _to_1_the_log,
    _to_2_lookups_and_checkpoint,
    _to_3_daily_values,
    _to_4_documents,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionError(TickgateError):
    """The file was written by a newer tickgate, whose schema this one does not know."""


class StoreMigrationError(TickgateError):
    """Upgrading an older file failed; the file was left as it was."""


def schema_version(db: sqlite3.Connection) -> int:
    """The schema version of the open file (0 for a new, empty one)."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if (
        version == 0
        and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        ).fetchone()
    ):
        return 1  # written by the first tickgate, which set no user_version
    return int(version)


def _columns(event: StoredEvent) -> tuple[int | None, int]:
    if isinstance(event, SessionClosed):
        return None, event.ts_ns
    if isinstance(event, OrderFilled):
        return event.order.order_id, event.fill.ts_ns
    return event.order.order_id, event.order.updated_ns


#: Orders and fills are private: the file is owner-only from its creation (SQLite gives its WAL
#: and shared-memory files the database file's mode).
FILE_MODE = 0o600


class SqliteEventStore:
    """Trading events, and the `DocumentStore` port's documents, in a SQLite file; create the
    parent directory first.

    Opening upgrades an older file in place (see the module docstring). Raises
    SchemaVersionError for a file of a newer schema version, StoreMigrationError when an
    upgrade fails; both leave the file as it was.
    """

    def __init__(self, path: str | Path) -> None:
        _make_private(Path(path))
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._closed = False
        self._db.execute("PRAGMA synchronous=FULL")
        self.commits = 0
        # Before WAL mode: a file this tickgate refuses must not be changed, not even its header.
        self._migrate(Path(path))
        self._db.execute("PRAGMA journal_mode=WAL")

    def _migrate(self, path: Path) -> None:
        self._db.execute("BEGIN IMMEDIATE")  # no other writer between reading and upgrading
        try:
            version = schema_version(self._db)
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{path}: trading store schema version {version} is newer than this "
                    f"tickgate's ({SCHEMA_VERSION}); upgrade tickgate to open it (the file is "
                    "left untouched)"
                )
            for step in range(version, SCHEMA_VERSION):
                try:
                    MIGRATIONS[step](self._db)
                except sqlite3.Error as exc:
                    raise StoreMigrationError(
                        f"{path}: could not upgrade the trading store from schema version "
                        f"{version} to {SCHEMA_VERSION} (step to {step + 1}: {exc}); the file "
                        "is unchanged"
                    ) from exc
            if version < SCHEMA_VERSION:
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._db.close()
            raise
        self._db.execute("COMMIT")

    def append(
        self,
        events: Sequence[StoredEvent],
        *,
        daily_values: Sequence[DailyValue] = (),
        documents: Documents | None = None,
    ) -> None:
        """Store `events` in one durable transaction, in order, with `daily_values` and
        `documents` in the same transaction."""
        self._check_open()
        rows = []
        for event in events:
            kind, payload = encode(event)
            rows.append((kind, orjson.dumps(payload).decode(), *_columns(event)))
        days = _day_rows(daily_values)
        docs = [
            (kind, key, orjson.dumps(doc).decode())
            for kind, batch in (documents or {}).items()
            for key, doc in batch.items()
        ]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO events (kind, payload, order_id, ts_ns) VALUES (?, ?, ?, ?)", rows
            )
            if days:
                self._db.executemany(_PUT_DAY, days)
            if docs:
                self._db.executemany(_PUT_DOCUMENT, docs)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self.commits += 1

    def replay(self) -> Iterator[StoredEvent]:
        """Every stored event, oldest first."""
        self._check_open()
        return self._events_after(0)

    def restore(self) -> tuple[Checkpoint | None, Iterator[StoredEvent]]:
        """The checkpoint and the events stored after it (all of them without a checkpoint)."""
        self._check_open()
        row = self._db.execute("SELECT seq, payload FROM checkpoint WHERE id = 1").fetchone()
        if row is None:
            return None, self._events_after(0)
        seq, payload = row
        return orjson.loads(payload), self._events_after(seq)

    def save_checkpoint(self, document: Checkpoint) -> None:
        """Keep `document` as the checkpoint of every event stored so far (one transaction)."""
        self._check_open()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO checkpoint (id, seq, payload) "
                "VALUES (1, (SELECT COALESCE(MAX(seq), 0) FROM events), ?)",
                (orjson.dumps(document).decode(),),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def order(self, order_id: int) -> Order | None:
        """The latest stored snapshot of `order_id` (one index lookup)."""
        self._check_open()
        row = self._db.execute(
            "SELECT kind, payload FROM events WHERE order_id = ? ORDER BY seq DESC LIMIT 1",
            (order_id,),
        ).fetchone()
        if row is None:
            return None
        event = decode(row[0], orjson.loads(row[1]))
        return None if isinstance(event, SessionClosed) else event.order

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """Stored executions at or after `ts_ns`, in append order (an index range scan)."""
        self._check_open()
        rows = self._db.execute(
            "SELECT payload FROM events WHERE kind = 'OrderFilled' AND ts_ns >= ? ORDER BY seq",
            (ts_ns,),
        ).fetchall()
        fills = [decode("OrderFilled", orjson.loads(payload)) for (payload,) in rows]
        return [e.fill for e in fills if isinstance(e, OrderFilled)]

    def save_daily_values(self, values: Sequence[DailyValue]) -> None:
        """Keep `values` in one durable transaction; a kept day keeps its `start`."""
        self._check_open()
        self._transaction(_PUT_DAY, _day_rows(values))

    def documents(self, kind: str) -> list[tuple[str, Document]]:
        """Every `(key, document)` of `kind`, in the order the keys were first put."""
        self._check_open()
        rows = self._db.execute(
            "SELECT key, payload FROM documents WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
        return [(key, orjson.loads(payload)) for key, payload in rows]

    def put_documents(self, kind: str, documents: Mapping[str, Document]) -> None:
        """Create or replace documents of `kind` in one durable transaction; a replaced
        document keeps its place."""
        self._check_open()
        rows = [(kind, key, orjson.dumps(doc).decode()) for key, doc in documents.items()]
        self._transaction(_PUT_DOCUMENT, rows)

    def delete_documents(self, kind: str, keys: Iterable[str]) -> None:
        """Delete documents of `kind` by key in one durable transaction."""
        self._check_open()
        rows = [(kind, key) for key in keys]
        self._transaction("DELETE FROM documents WHERE kind = ? AND key = ?", rows)

    def _transaction(self, statement: str, rows: Sequence[tuple[str | int, ...]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(statement, rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def daily_values(self, account: str, *, since: date | None = None) -> list[DailyValue]:
        """The kept days of `account`, oldest first (a primary-key range scan)."""
        self._check_open()
        rows = self._db.execute(
            "SELECT day, start_value, end_value, ts_ns FROM daily_values "
            "WHERE account = ? AND day >= ? ORDER BY day",
            (account, since.isoformat() if since is not None else ""),
        ).fetchall()
        return [
            DailyValue(account, date.fromisoformat(day), Decimal(start), Decimal(end), ts_ns)
            for day, start, end, ts_ns in rows
        ]

    def close(self) -> None:
        """Close the database connection; any later call raises StoreClosedError."""
        self._closed = True
        self._db.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the trading store is closed")

    def _events_after(self, seq: int) -> Iterator[StoredEvent]:
        cursor = self._db.execute(
            "SELECT kind, payload FROM events WHERE seq > ? ORDER BY seq", (seq,)
        )
        for kind, payload in cursor:
            yield decode(kind, orjson.loads(payload))


#: A day of the daily series; a kept day keeps its start and takes the later end.
_PUT_DAY = (
    "INSERT INTO daily_values (account, day, start_value, end_value, ts_ns) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, day) "
    "DO UPDATE SET end_value = excluded.end_value, ts_ns = excluded.ts_ns"
)
#: A document, created or replaced (a replaced one keeps its place).
_PUT_DOCUMENT = (
    "INSERT INTO documents (kind, key, payload) VALUES (?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET payload = excluded.payload"
)


def _day_rows(values: Sequence[DailyValue]) -> list[tuple[str | int, ...]]:
    return [(v.account, v.day.isoformat(), str(v.start), str(v.end), v.ts_ns) for v in values]


def _make_private(path: Path) -> None:
    """Create the database file owner-only before SQLite would create it with the default mode;
    tighten files a former version left readable by others. Raises OSError."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(FILE_MODE)
