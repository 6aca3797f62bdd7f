"""The data directory lock within one process: flock conflicts between open file descriptions,
so a second lock in the same process is refused as another process's would be."""

from __future__ import annotations

import datetime
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from tickgate import datadir
from tickgate.datadir import LOCK_NAME, DataDirInUseError, lock_data_dir

START = datetime.datetime(2026, 3, 8, 6, 59, 58, tzinfo=datetime.UTC)


def test_lock_names_its_holder_and_refuses_a_second_taker(tmp_path: Path) -> None:
    lock = lock_data_dir(tmp_path, now=START)
    try:
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid() and holder["started"] == "2026-03-08 06:59:58 UTC"
        with pytest.raises(DataDirInUseError, match=rf"pid {os.getpid()} on .*06:59:58 UTC"):
            lock_data_dir(tmp_path)
    finally:
        lock.release()
    lock_data_dir(tmp_path).release()  # released: free again


def test_stale_or_garbled_lock_text_does_not_block(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text('{"pid": 999999999, "host": "gone"}')
    lock = lock_data_dir(tmp_path)
    try:
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_a_holder_that_has_not_written_itself_yet_is_still_refused(tmp_path: Path) -> None:
    lock = lock_data_dir(tmp_path)
    try:
        (tmp_path / LOCK_NAME).write_text("")
        with pytest.raises(DataDirInUseError, match="not written its pid yet"):
            lock_data_dir(tmp_path)
    finally:
        lock.release()


def test_write_private_replaces_whole_files_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"old")
    target.chmod(0o644)
    datadir.write_private(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_prepare_tightens_an_open_directory_but_not_a_shared_sticky_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    opened = tmp_path / "open"
    opened.mkdir(mode=0o755)
    opened.chmod(0o755)
    datadir.prepare_data_dir(opened)
    assert mode(opened) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with caplog.at_level(logging.WARNING, "tickgate.datadir"):
        datadir.prepare_data_dir(shared)
    assert mode(shared) == 0o1777
    assert any("readable by other users" in r.getMessage() for r in caplog.records)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
