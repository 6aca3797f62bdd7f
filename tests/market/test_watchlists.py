"""The watchlist service and its JSON file store, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.instruments import AAPL

from tickgate.errors import ConfigError, NotFoundError, RequestError
from tickgate.market.watchlist_file import JsonWatchlistFile
from tickgate.market.watchlists import MAX_ROWS, Row, Watchlists


def service(path: Path, *, now: list[int] | None = None) -> Watchlists:
    clock = now if now is not None else [1_000]
    return Watchlists(
        JsonWatchlistFile(path),
        find=lambda conid: AAPL if conid == AAPL.conid else None,
        now_ms=lambda: clock[0],
    )


def test_a_change_is_in_the_file_before_it_is_answered(tmp_path: Path) -> None:
    path = tmp_path / "watchlists.json"
    now = [1_000]
    lists = service(path, now=now)
    lists.put("7", "Mine", [Row(conid=AAPL.conid), Row(header="")])
    now[0] = 2_000
    lists.put("8", "Other", [])
    reread = service(path).all()
    assert [(w.id, w.name, w.modified_ms) for w in reread] == [
        ("7", "Mine", 1_000),
        ("8", "Other", 2_000),
    ]
    assert reread[0].rows == (Row(conid=AAPL.conid), Row(header=""))
    lists.delete("7")
    assert [w.id for w in service(path).all()] == ["8"]
    with pytest.raises(NotFoundError):
        lists.delete("7")


def test_a_failed_save_changes_nothing(tmp_path: Path) -> None:
    lists = service(tmp_path / "no-such-dir" / "watchlists.json")
    with pytest.raises(OSError):
        lists.put("1", "Lost", [])
    assert lists.all() == []


def test_limits_and_validation(tmp_path: Path) -> None:
    lists = service(tmp_path / "w.json")
    with pytest.raises(RequestError, match="Invalid conid 99"):
        lists.put("1", "x", [Row(conid=99)])
    with pytest.raises(RequestError, match="at most"):
        lists.put("1", "x", [Row(header="h")] * (MAX_ROWS + 1))
    with pytest.raises(RequestError, match="must be a number"):
        lists.put("١", "x", [])
    assert lists.all() == []


def test_a_file_that_is_not_a_watchlist_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "watchlists.json"
    path.write_bytes(b'{"watchlists": [{"id": 1}]}')
    with pytest.raises(ConfigError, match=r"watchlists\.json is not a tickgate watchlist file"):
        service(path)
