"""The SQLite writer: concurrent jobs share commits, and a failing job undoes only itself."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from lrs.store.engine.sqlite import SQLiteDatabase

SCHEMA = "CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, v TEXT NOT NULL);"


class Refused(Exception):
    """A job's own failure."""


@pytest.fixture
async def db(tmp_path: Path):
    database = SQLiteDatabase(tmp_path / "t.sqlite3")
    database.open([SCHEMA])
    yield database
    await database.close()


def insert(n: int, *, fail: bool = False):
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?, ?)", (n, f"row {n}"))
        conn.execute("INSERT INTO t VALUES (?, ?)", (n + 10_000, "second row"))
        if fail:
            raise Refused(n)
        return n

    return job


async def test_a_failing_job_rolls_back_only_itself(db: SQLiteDatabase) -> None:
    jobs = [db.write(insert(n, fail=n % 7 == 0)) for n in range(1, 200)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    failed = {n for n, r in zip(range(1, 200), results, strict=True) if isinstance(r, Refused)}
    assert failed == {n for n in range(1, 200) if n % 7 == 0}
    rows = await db.read(
        lambda conn: {n for (n,) in conn.execute("SELECT n FROM t WHERE n < 10000")}
    )
    assert rows == set(range(1, 200)) - failed
    seconds = await db.read(
        lambda conn: conn.execute("SELECT count(*) FROM t WHERE n >= 10000").fetchone()[0]
    )
    assert seconds == len(rows)  # no half of a failed job survived


async def test_writes_are_on_disk_when_acknowledged(db: SQLiteDatabase, tmp_path: Path) -> None:
    await asyncio.gather(*(db.write(insert(n)) for n in range(1, 50)))
    # a separate connection (as another process would) sees every acknowledged write
    other = sqlite3.connect(tmp_path / "t.sqlite3")
    try:
        assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 98
    finally:
        other.close()


async def test_a_sqlite_error_in_a_job_is_store_unavailable(db: SQLiteDatabase) -> None:
    from lrs.errors import StoreUnavailable

    await db.write(insert(1))
    with pytest.raises(StoreUnavailable):
        await db.write(insert(1))  # primary key taken
    assert await db.write(insert(2)) == 2  # the writer goes on


def remembering(db: SQLiteDatabase, cache: dict, n: int, *, fail: bool = False):
    """A job that inserts rows and caches n once committed (as the stores' caches do)."""

    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?, ?)", (n, f"row {n}"))
        db.after_commit(lambda: cache.__setitem__(n, f"row {n}"))
        if fail:
            raise Refused(n)
        return n

    return job


async def test_after_commit_runs_only_for_jobs_that_were_kept(db: SQLiteDatabase) -> None:
    cache = db.writer_cache()
    jobs = [db.write(remembering(db, cache, n, fail=n % 5 == 0)) for n in range(1, 60)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    kept = {n for n, r in zip(range(1, 60), results, strict=True) if not isinstance(r, Refused)}
    assert kept == {n for n in range(1, 60) if n % 5}
    assert set(cache) == kept  # never an entry of a rolled-back job
    stored = await db.read(lambda conn: {n for (n,) in conn.execute("SELECT n FROM t")})
    assert stored == kept


async def test_after_commit_does_not_run_when_the_commit_fails(
    db: SQLiteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    cache = db.writer_cache()

    def job(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1, 'one')")
        db.after_commit(lambda: cache.__setitem__(1, "one"))
        # a deferred foreign-key violation makes the COMMIT itself fail
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO child VALUES (1, 999)")

    await db.write(
        lambda conn: conn.execute(
            "CREATE TABLE child (n INTEGER PRIMARY KEY, parent INTEGER REFERENCES t(n))"
        )
    )
    from lrs.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable):
        await db.write(job)
    assert "sqlite commit failed" in caplog.text  # the job ran; its COMMIT failed
    assert cache == {}
    assert await db.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0]) == 0


async def test_writer_caches_are_emptied_when_another_connection_writes(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    cache = db.writer_cache()
    await db.write(remembering(db, cache, 1))
    assert cache == {1: "row 1"}
    await db.write(insert(100))  # the writer's own commits keep the cache
    assert cache == {1: "row 1"}
    other = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    try:
        other.execute("UPDATE t SET v = 'changed elsewhere' WHERE n = 1")
    finally:
        other.close()
    await db.write(insert(200))  # the next group notices the other commit
    assert cache == {}


async def test_the_writer_keeps_the_wal_from_growing_without_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrs.store.engine.sqlite as sqlite_db

    limit = 256 * 1024
    monkeypatch.setattr(sqlite_db, "WAL_LIMIT_BYTES", limit)
    # the background checkpointer never runs: only the writer can rewind the WAL
    monkeypatch.setattr(sqlite_db, "CHECKPOINT_INTERVAL_S", 3600)
    database = SQLiteDatabase(tmp_path / "w.sqlite3")
    database.open([SCHEMA])
    wal = tmp_path / "w.sqlite3-wal"
    try:
        largest = 0
        for n in range(1, 301):  # about 6 MB written in all, 20 kB a commit
            await database.write(
                lambda conn, n=n: conn.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 20_000))
            )
            largest = max(largest, wal.stat().st_size)
        assert largest < 2 * limit, largest
        count = await database.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone())
        assert count == (300,)
    finally:
        await database.close()


class HeldSync:
    """Stands in for the syncer's fsync of the WAL: blocks until released, or fails."""

    def __init__(self, db: SQLiteDatabase, *, fail: bool = False) -> None:
        self.real = db._sync_wal
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = fail
        db._sync_wal = self  # type: ignore[method-assign]

    def __call__(self) -> None:
        self.entered.set()
        self.release.wait(timeout=30)
        if self.fail:
            raise OSError(errno.EIO, "Input/output error")
        self.real()


async def poll(condition, what: str, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


def rows_on_disk(path: Path) -> int:
    other = sqlite3.connect(path)
    try:
        return other.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        other.close()


async def test_a_write_is_answered_only_after_the_fsync_that_follows_its_commit(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    held = HeldSync(db)
    try:
        write = asyncio.ensure_future(db.write(insert(1)))
        await poll(held.entered.is_set, "the fsync after the commit")
        # committed (another connection sees it), fsync under way: not answered yet
        assert rows_on_disk(tmp_path / "t.sqlite3") == 2
        for _ in range(20):
            await asyncio.sleep(0)
        assert not write.done()
    finally:
        held.release.set()
    assert await write == 1


async def test_a_read_that_may_have_seen_a_commit_waits_until_it_is_durable(
    db: SQLiteDatabase,
) -> None:
    held = HeldSync(db)
    try:
        write = asyncio.ensure_future(db.write(insert(1)))
        await poll(held.entered.is_set, "the fsync after the commit")
        read = asyncio.ensure_future(
            db.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0])
        )
        await poll(lambda: bool(db._durable_waiters), "the read to wait for the fsync")
        assert not read.done() and not write.done()
    finally:
        held.release.set()
    assert await read == 2  # it saw the commit, and answered once that was durable
    assert await write == 1
    # with nothing left to sync, a read does not wait
    assert await db.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0]) == 2


async def test_a_failed_fsync_fails_its_writes_and_every_later_write_and_read(
    db: SQLiteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    from lrs.errors import StoreUnavailable

    held = HeldSync(db, fail=True)
    held.release.set()
    with pytest.raises(StoreUnavailable):
        await db.write(insert(1))
    assert "fsync of the SQLite WAL failed" in caplog.text
    with pytest.raises(StoreUnavailable):  # whether the disk holds it is unknown
        await db.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0])
    with pytest.raises(StoreUnavailable):
        await db.write(insert(2))


async def test_a_job_returning_its_cursor_gets_none_back(db: SQLiteDatabase) -> None:
    # A cursor freed in the event loop's thread resets its statement there, while the
    # writer (or the reader) may be running that same cached statement for its next job.
    written = await db.write(lambda c: c.execute("INSERT INTO t VALUES (1, 'one')"))
    read = await db.read(lambda c: c.execute("SELECT v FROM t"))
    assert written is None and read is None
    assert await db.read(lambda c: c.execute("SELECT v FROM t").fetchall()) == [("one",)]
