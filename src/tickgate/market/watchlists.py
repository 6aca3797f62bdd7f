"""Watchlists: named lists of instruments (and header rows) that a user keeps between sessions.

The `Watchlists` service validates and edits them; a `WatchlistStore` keeps them. They are not
trading events, so they do not go to the EventStore (whose log is replayed to rebuild orders
and the ledger): a store holds the whole, small set of lists and replaces it atomically on
every change. `MemoryWatchlistStore` is for `--store memory`; `watchlist_file.JsonWatchlistFile`
keeps them in the data directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tickgate.errors import NotFoundError, RequestError
from tickgate.model.instruments import Instrument, invalid_conid

MAX_WATCHLISTS = 100
MAX_ROWS = 500
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a watchlist: an instrument (`conid`) or, when `conid` is None, a header
    with `header` as its text (possibly empty: a blank separator row)."""

    conid: int | None = None
    header: str = ""


@dataclass(frozen=True, slots=True)
class Watchlist:
    """A watchlist as stored: `id` is the user's numeric identifier (as text, like IBKR's),
    `modified_ms` the epoch milliseconds of its last change."""

    id: str
    name: str
    rows: tuple[Row, ...]
    modified_ms: int


class WatchlistStore(Protocol):
    """Where watchlists are kept between runs."""

    def load(self) -> list[Watchlist]:
        """Every kept watchlist, in the order they were saved (empty when none)."""
        ...

    def save(self, watchlists: Sequence[Watchlist]) -> None:
        """Replace what is kept by `watchlists`, atomically: a crash leaves the old set or
        the new one. Raises OSError when the store cannot be written."""
        ...


class MemoryWatchlistStore:
    """Keeps watchlists for the life of the process only."""

    def __init__(self) -> None:
        self._kept: list[Watchlist] = []

    def load(self) -> list[Watchlist]:
        return list(self._kept)

    def save(self, watchlists: Sequence[Watchlist]) -> None:
        self._kept = list(watchlists)


class Watchlists:
    """The user's watchlists, checked against the instruments of the catalogue.

    `find(conid)` says whether a conid is an instrument; `now_ms()` dates changes. Every change
    is saved before it is answered: a change the store refuses (OSError) is not applied.
    """

    def __init__(
        self,
        store: WatchlistStore,
        *,
        find: Callable[[int], Instrument | None],
        now_ms: Callable[[], int],
    ) -> None:
        self._store = store
        self._find = find
        self._now_ms = now_ms
        self._lists: dict[str, Watchlist] = {w.id: w for w in store.load()}

    def all(self) -> list[Watchlist]:
        """Every watchlist, in creation order."""
        return list(self._lists.values())

    def get(self, watchlist_id: str) -> Watchlist:
        """The watchlist `watchlist_id`. Raises NotFoundError when there is none."""
        found = self._lists.get(watchlist_id)
        if found is None:
            raise NotFoundError(f"watchlist {watchlist_id} not found")
        return found

    def instrument(self, conid: int) -> Instrument | None:
        """The catalogue's instrument for a row's conid."""
        return self._find(conid)

    def put(self, watchlist_id: str, name: str, rows: Iterable[Row]) -> Watchlist:
        """Create the watchlist `watchlist_id`, or replace the one of that id, and save.

        Raises RequestError (400) for an id that is not a number, an empty or too long name,
        a conid that is no instrument, too many rows or too many watchlists.
        """
        if not watchlist_id.isascii() or not watchlist_id.isdigit():
            raise RequestError(f"watchlist id must be a number, got {watchlist_id!r}")
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise RequestError(f"watchlist name must have 1 to {MAX_NAME} characters")
        kept = tuple(rows)
        if len(kept) > MAX_ROWS:
            raise RequestError(f"a watchlist has at most {MAX_ROWS} rows, got {len(kept)}")
        unknown = [r.conid for r in kept if r.conid is not None and self._find(r.conid) is None]
        if unknown:
            raise RequestError(invalid_conid(*unknown))
        if watchlist_id not in self._lists and len(self._lists) >= MAX_WATCHLISTS:
            raise RequestError(f"at most {MAX_WATCHLISTS} watchlists")
        watchlist = Watchlist(watchlist_id, name, kept, self._now_ms())
        changed = dict(self._lists)
        changed[watchlist_id] = watchlist
        self._store.save(list(changed.values()))
        self._lists = changed
        return watchlist

    def delete(self, watchlist_id: str) -> None:
        """Delete the watchlist `watchlist_id` and save. Raises NotFoundError when there is
        none."""
        self.get(watchlist_id)
        changed = {k: v for k, v in self._lists.items() if k != watchlist_id}
        self._store.save(list(changed.values()))
        self._lists = changed
