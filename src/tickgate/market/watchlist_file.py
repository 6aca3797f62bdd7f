"""Watchlists kept in a JSON file of the data directory, replaced atomically on each change."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from tickgate import datadir
from tickgate.errors import ConfigError
from tickgate.market.watchlists import Row, Watchlist

FORMAT_VERSION = 1


class JsonWatchlistFile:
    """A `WatchlistStore` in one small JSON file (0600), written through a sibling file that
    replaces it, so a crash mid-write leaves the previous content."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[Watchlist]:
        """The kept watchlists; none when the file does not exist yet.

        Raises ConfigError naming the file when it is not a watchlist file.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            document = orjson.loads(raw)
            return [_decode(item) for item in document["watchlists"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{self.path} is not a tickgate watchlist file: {exc}") from None

    def save(self, watchlists: Sequence[Watchlist]) -> None:
        document = {"version": FORMAT_VERSION, "watchlists": [_encode(w) for w in watchlists]}
        datadir.write_private(self.path, orjson.dumps(document))


def _encode(watchlist: Watchlist) -> dict[str, Any]:
    return {
        "id": watchlist.id,
        "name": watchlist.name,
        "modified": watchlist.modified_ms,
        "rows": [
            {"C": r.conid} if r.conid is not None else {"H": r.header} for r in watchlist.rows
        ],
    }


def _decode(item: dict[str, Any]) -> Watchlist:
    rows = tuple(
        Row(conid=int(r["C"])) if "C" in r else Row(header=str(r["H"])) for r in item["rows"]
    )
    return Watchlist(str(item["id"]), str(item["name"]), rows, int(item["modified"]))
