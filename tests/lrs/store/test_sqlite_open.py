"""Opening a SQLite file that another process is opening at the same moment."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lrs.store.engine.sqlite import PAGE_BYTES, SQLiteDatabase, enter_wal


class LockedConnection:
    """Answers "database is locked" to the first `locked` statements, as SQLite does to a
    second process switching a fresh file to WAL (without calling its busy handler)."""

    def __init__(self, locked: int, message: str = "database is locked") -> None:
        self.locked = locked
        self.message = message
        self.statements: list[str] = []

    def execute(self, sql: str) -> Any:
        self.statements.append(sql)
        if len(self.statements) <= self.locked:
            raise sqlite3.OperationalError(self.message)
        return None


def test_switch_to_wal_is_retried_while_the_file_is_locked() -> None:
    conn = LockedConnection(locked=3)
    enter_wal(conn, wait_s=5.0)  # type: ignore[arg-type]
    assert conn.statements == ["PRAGMA journal_mode=WAL"] * 4


def test_a_lock_that_outlasts_the_wait_is_raised() -> None:
    conn = LockedConnection(locked=10**6)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enter_wal(conn, wait_s=0.05)  # type: ignore[arg-type]
    assert 1 < len(conn.statements) < 10**6


def test_other_errors_are_not_retried() -> None:
    conn = LockedConnection(locked=5, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        enter_wal(conn, wait_s=5.0)  # type: ignore[arg-type]
    assert len(conn.statements) == 1


def _open_and_write(path: str) -> None:
    from lrs.store.engine.sqlite import _connect

    conn = _connect(Path(path), readonly=False, busy_s=5.0)
    conn.executescript("CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1);")
    conn.close()


def test_processes_opening_one_fresh_file_together_all_succeed(tmp_path: Path) -> None:
    """Four processes at once on each of several fresh files: before the retry about one
    round in thirty failed with "database is locked"."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        for round_ in range(10):
            path = str(tmp_path / f"fresh{round_}.db")
            pool.map(_open_and_write, [path] * 4)
            count = sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0]
            assert count == 4
            mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
            assert mode == "wal"


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


async def test_a_new_file_gets_the_engines_page_size(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "new.sqlite3")
    database.open(["CREATE TABLE IF NOT EXISTS t (x)"])
    try:
        await database.write(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
    finally:
        await database.close()
    assert PAGE_BYTES != 4096 and _page_size(tmp_path / "new.sqlite3") == PAGE_BYTES


async def test_a_file_made_before_keeps_its_page_size_and_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    old.execute("INSERT INTO t VALUES (1)")
    old.close()
    database = SQLiteDatabase(path)
    database.open(["CREATE TABLE IF NOT EXISTS t (x)"])
    try:
        await database.write(lambda conn: conn.execute("INSERT INTO t VALUES (2)"))
        rows = await database.read(lambda conn: conn.execute("SELECT x FROM t").fetchall())
    finally:
        await database.close()
    assert sorted(rows) == [(1,), (2,)] and _page_size(path) == 4096
