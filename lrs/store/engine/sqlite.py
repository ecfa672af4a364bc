"""The SQLite engine under every SQLite store: one writer thread with group commit, pooled readers.

Why a single writer thread: SQLite allows one writer at a time, and a durable commit costs an
fsync of the WAL. The writer takes every job waiting in its queue, runs each inside its own
SAVEPOINT of one transaction, commits once, and hands the group to the syncer thread, which
fsyncs the WAL and only then answers every job of it. A job that fails rolls back its own
savepoint and nothing else, so each request stays all or nothing while concurrent requests
share one fsync. Because jobs run in queue order and the event loop enqueues them in the order
it assigns `stored`, row ids follow stored time.

Why a syncer thread: with `synchronous=FULL` SQLite fsyncs inside COMMIT, and the writer, the
one stage every write passes through in turn, sat idle for that fsync (about 3 ms per group in
the ingest benchmark). The writer connection runs at `synchronous=NORMAL` instead (WAL frames
written at COMMIT, synced at checkpoints) and the syncer fsyncs the WAL file after each
COMMIT, while the writer goes on with the next group. A job is answered only once an fsync
that started after its COMMIT returned: the same guarantee as FULL, which is NORMAL plus an
fsync of the WAL after each commit. The WAL is one sequential log, so an fsync makes every
earlier commit durable too. What differs: other connections may see a commit a few
milliseconds before it is durable. So that nothing the LRS answers rests on a write a crash
could still undo, a read that may have seen such a commit waits for the fsync before it
returns (`read`). If an fsync fails, the writes it covered fail and so does every later
write and waiting read: whether the data reached the disk is unknown, so the process must be
restarted (as PostgreSQL does on a failed fsync).

Stores may keep caches of committed rows for the writer (`writer_cache`): entries are added only
through `after_commit`, which runs in the writer once the group holding the job has committed
(never for a job rolled back or a commit that failed), and every cache is emptied when another
connection (another process, a migration) has committed to the file since the writer last
looked (SQLite's `data_version`), so a cache never holds what the file does not.

Readers use their own connections from a small thread pool; WAL lets them read while the
writer writes. WAL checkpoints run on a checkpointer thread of their own rather than inside the
writer's COMMIT (SQLite's default), so copying pages back into the database never holds up the
acknowledgement of a write.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lrs.errors import LRSError, StoreUnavailable
from lrs.store.engine.sqlite_files import open_error, prepare_files

T = TypeVar("T")
log = logging.getLogger(__name__)

WriteJob = Callable[[sqlite3.Connection], Any]
_STOP = object()


def _kept(result: T) -> T:
    """A job's result as handed to the event loop: a cursor (what `lambda c: c.execute(...)`
    returns) is dropped here, in the connection's own thread. Freed in another thread, it
    resets its statement there, and the statement cache may meanwhile have handed that very
    statement to the connection's next job: SQLite answers "bad parameter or other API
    misuse" to whichever runs second."""
    return None if isinstance(result, sqlite3.Cursor) else result  # type: ignore[return-value]


CHECKPOINT_INTERVAL_S = 0.5
WAL_LIMIT_BYTES = 64 * 1024 * 1024
# the writer's page cache (SQLite's default: 2 MiB): index inserts touch pages all over the
# file, and a reader's cache is dropped whenever the writer commits. 256 MiB, not 64: at a
# million statements the projection's fact indexes no longer fit 64 (a drain took 0.283 ms of
# CPU per statement instead of 0.234-0.241); SQLite fills it only with pages it reads, so a
# small store costs little
CACHE_KIB = 256 * 1024
# the page size of a new file (SQLite's default: 4 KiB). A commit writes whole pages to the
# WAL, and inserts with random keys (statement ids, the projection's fact and record indexes)
# dirty a page each: at a million statements a projection drain wrote millions of 4 KiB
# frames. 16 KiB pages: the same drain 12% faster at 8% less CPU (32 KiB: no better). A file
# created before keeps its page size (SQLite changes it only by a VACUUM outside WAL mode).
PAGE_BYTES = 16 * 1024
BUSY_TIMEOUT_S = 30.0
# how long start-up waits for a lock another process holds before it gives up with one clear
# error (`sqlite_files.open_error`) instead of serving requests that would each wait and fail
OPEN_LOCK_WAIT_S = 5.0


def remember_bounded(cache: dict[Any, Any], new: Mapping[Any, Any], limit: int) -> None:
    """Add `new` to a writer cache (see `SQLiteDatabase.writer_cache`), emptying it first when
    it would hold more than `limit` entries: bounded, and what it held is rebuilt as used."""
    if len(cache) + len(new) > limit:
        cache.clear()
    cache.update(new)


def enter_wal(conn: sqlite3.Connection, wait_s: float) -> None:
    """Switch the file to WAL, retrying "database is locked" for up to `wait_s` seconds.

    On a fresh file the switch needs an exclusive lock, and SQLite answers a second process
    switching at the same moment SQLITE_BUSY at once, without its busy handler: two `lrs`
    processes started together on a new data directory would otherwise fail at random.
    """
    deadline = time.monotonic() + wait_s
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)  # a start-up lock: back off, no event loop waits on this thread
        pause = min(pause * 2, 0.1)


def _connect(path: Path, *, readonly: bool, busy_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_s)
    conn.execute(f"PRAGMA page_size={PAGE_BYTES}")  # before the file is made; else a no-op
    enter_wal(conn, busy_s)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
    conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    else:
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return conn


class SQLiteDatabase:
    """One SQLite file, its schema migrations, a group-committing writer and pooled readers."""

    def __init__(self, path: Path, *, max_group: int = 256, readers: int = 4) -> None:
        self.path = path
        self._wal_path = path.with_name(path.name + "-wal")
        self._max_group = max_group
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._writer_conn: sqlite3.Connection | None = None
        self._writer: threading.Thread | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-read")
        self._committed = threading.Event()
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._caches: list[dict[Any, Any]] = []
        # bumped whenever the caches are emptied: what was read from them before may be stale
        self.cache_epoch = 0
        self._data_version: int | None = None
        self._job_callbacks: list[Callable[[], None]] = []
        # Groups are numbered as they commit. `_commits`: the number of the newest group the
        # writer has committed or is committing (set just before its COMMIT); `_durable`: every
        # group up to it is durable (set by the syncer). A read that ended while `_commits` >
        # `_durable` waits for the syncer to catch up (it may have seen such a group).
        self._commits = 0
        self._durable = 0
        self._durable_lock = threading.Lock()
        self._durable_waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[Any]]] = []
        self._sync_error: OSError | None = None  # a failed fsync: see `_durability_lost`
        self._syncs: queue.Queue[Any] = queue.Queue()
        self._syncer: threading.Thread | None = None

    def open(
        self, schema: Sequence[str], migrations: Sequence[Callable[[sqlite3.Connection], None]] = ()
    ) -> None:
        """Create the file, apply every schema statement (each must be idempotent), then run
        each migration (each a no-op on a database it has already moved) before any job."""
        prepare_files(self.path)
        conn = self._open_writer(schema, migrations)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        conn.execute("PRAGMA synchronous=NORMAL")  # the syncer fsyncs after each commit
        self._writer_conn = conn
        self._syncer = threading.Thread(target=self._sync_loop, name="sqlite-sync", daemon=True)
        self._syncer.start()
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _open_writer(
        self, schema: Sequence[str], migrations: Sequence[Callable[[sqlite3.Connection], None]]
    ) -> sqlite3.Connection:
        """The writer connection, schema and migrations applied; `StoreFileError` when the
        file is damaged, not a database, or locked by another process."""
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(self.path, readonly=False, busy_s=OPEN_LOCK_WAIT_S)
            conn.execute("BEGIN IMMEDIATE")  # fails now, not on the first write, when locked
            conn.execute("ROLLBACK")
            for ddl in schema:
                conn.executescript(ddl)
            for migrate in migrations:
                migrate(conn)
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise open_error(self.path, exc) from exc
        return conn

    def ensure_schema(self, ddl: str) -> None:
        """Apply idempotent DDL for a store added by another package, on its own connection.

        SQLite serialises it with the writer through the file lock, so it is safe while the
        writer thread runs; call it when the store is built, before it is used.
        """
        conn = _connect(self.path, readonly=False)
        try:
            conn.executescript(ddl)
        finally:
            conn.close()

    def writer_cache(self) -> dict[Any, Any]:
        """A dict for committed rows, emptied when another connection writes to the file.

        Only writer jobs and `after_commit` callbacks add to it; other threads may read it, and
        a job built from what they read checks `cache_epoch` is unchanged when it runs.
        """
        cache: dict[Any, Any] = {}
        self._caches.append(cache)
        return cache

    def after_commit(self, callback: Callable[[], None]) -> None:
        """From inside a write job: run `callback` in the writer once the job is durable."""
        self._job_callbacks.append(callback)

    async def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in the writer thread inside its own savepoint; return after the commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, loop, future))
        return await future

    async def read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` on a reader connection in the pool; return once what it saw is durable."""
        loop = asyncio.get_running_loop()
        result, seen = await loop.run_in_executor(self._pool, self._run_read, job)
        if seen > self._durable:
            await self._until_durable(seen)
        return result

    def _run_read(self, job: Callable[[sqlite3.Connection], T]) -> tuple[T, int]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._reader_conns.append(conn)
        try:
            result = _kept(job(conn))
        except sqlite3.Error as exc:
            log.exception("sqlite read failed")
            raise StoreUnavailable("the store could not answer") from exc
        # read after the job: any commit it saw had its number before its COMMIT ran
        return result, self._commits

    async def _until_durable(self, number: int) -> None:
        """Wait until every group up to `number` is durable (see the module docstring)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._durable_lock:
            if self._sync_error is not None:
                raise self._durability_lost()
            if number <= self._durable:
                return
            self._durable_waiters.append((number, loop, future))
        await future

    def _write_loop(self) -> None:
        conn = self._writer_conn
        assert conn is not None
        while True:
            first = self._jobs.get()
            if first is _STOP:
                self._syncs.put(_STOP)  # after every group the writer handed over
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._jobs.put(_STOP)
                    break
                group.append(nxt)
            self._run_group(conn, group)
            self._keep_wal_short(conn)

    def _checkpoint_loop(self) -> None:
        conn = _connect(self.path, readonly=False)
        try:
            while not self._stopping.is_set():
                if not self._committed.wait(timeout=CHECKPOINT_INTERVAL_S):
                    continue
                self._committed.clear()
                try:
                    # PASSIVE never blocks the writer or readers; pages it cannot copy yet
                    # are copied by a later round.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.warning("sqlite checkpoint failed; will retry", exc_info=True)
                self._stopping.wait(timeout=CHECKPOINT_INTERVAL_S)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def _run_group(self, conn: sqlite3.Connection, group: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        callbacks: list[Callable[[], None]] = []
        committed = False
        try:
            if self._sync_error is not None:
                raise self._durability_lost()
            conn.execute("BEGIN IMMEDIATE")
            self._check_caches(conn)
            for index, (job, *_rest) in enumerate(group):
                self._job_callbacks = []
                outcomes.append(self._run_in_savepoint(conn, job, index))
                if outcomes[-1][0]:
                    callbacks.extend(self._job_callbacks)
            # numbered before COMMIT: a reader that can see this group reads its number
            self._commits += 1
            conn.execute("COMMIT")
            committed = True
            self._committed.set()
        except Exception as exc:  # the commit itself failed: nothing in the group is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, StoreUnavailable):  # a failed fsync before: refused, not tried
                failure = exc
            else:
                log.exception("sqlite commit failed")
                failure = StoreUnavailable("the store could not commit the write")
                failure.__cause__ = exc
            outcomes = [(False, failure)] * len(group)
            callbacks = []
        self._run_callbacks(callbacks)
        self._syncs.put((self._commits, committed, group, outcomes))

    def _sync_loop(self) -> None:
        """Make committed groups durable with one fsync of the WAL, then answer their jobs."""
        stopping = False
        while not stopping:
            handed = [self._syncs.get()]
            while True:  # every group committed meanwhile shares the fsync
                try:
                    handed.append(self._syncs.get_nowait())
                except queue.Empty:
                    break
            if _STOP in handed:
                handed.remove(_STOP)
                stopping = True
            if not handed:
                continue
            if self._sync_error is None and any(committed for _n, committed, *_ in handed):
                try:
                    self._sync_wal()
                except OSError as exc:
                    log.critical("fsync of the SQLite WAL failed: no further writes; restart")
                    self._sync_error = exc
            for _number, committed, group, outcomes in handed:
                if committed and self._sync_error is not None:
                    outcomes = [(False, self._durability_lost())] * len(group)
                for (_job, loop, future), (ok, value) in zip(group, outcomes, strict=True):
                    loop.call_soon_threadsafe(_settle, future, ok, value)
            self._release_readers(handed[-1][0])

    def _sync_wal(self) -> None:
        """fsync the WAL file: every frame written before this call is then on disk."""
        fd = os.open(self._wal_path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _durability_lost(self) -> StoreUnavailable:
        failure = StoreUnavailable("the store could not make writes durable")
        failure.__cause__ = self._sync_error
        return failure

    def _release_readers(self, durable: int) -> None:
        """Answer the reads waiting for groups up to `durable` (or all, if an fsync failed)."""
        with self._durable_lock:
            failed = self._sync_error is not None
            if not failed:
                self._durable = durable
            waiting, self._durable_waiters = self._durable_waiters, []
            for waiter in waiting:
                if failed or waiter[0] <= durable:
                    _number, loop, future = waiter
                    value = self._durability_lost() if failed else None
                    loop.call_soon_threadsafe(_settle, future, not failed, value)
                else:
                    self._durable_waiters.append(waiter)

    def _keep_wal_short(self, conn: sqlite3.Connection) -> None:
        """Let the WAL start over once it has grown past its limit.

        The checkpointer copies frames back in the background, but under sustained writes it
        never catches up with the writer, and SQLite only rewinds the WAL when a write begins
        with every frame copied. So the WAL grew without end (past 1 GB in the ingest
        benchmark), and each page read that misses the cache searches every 4,096-frame
        segment of the WAL index: writes slowed down as the WAL grew. Here the writer, which
        no other write can overtake, finishes the copy (PASSIVE: never waits for readers);
        its next transaction then rewinds the WAL (truncated to `journal_size_limit`).
        """
        try:
            if self._wal_path.stat().st_size <= WAL_LIMIT_BYTES:
                return
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (OSError, sqlite3.Error):
            log.warning("sqlite checkpoint by the writer failed; will retry", exc_info=True)

    def _run_callbacks(self, callbacks: list[Callable[[], None]]) -> None:
        # before the jobs' futures are settled, so a caller resumes with the caches updated
        try:
            for callback in callbacks:
                callback()
        except Exception:
            log.exception("an after-commit callback failed; emptying the writer caches")
            self._clear_caches()

    def clear_writer_caches(self) -> None:
        """From inside a write job: empty every writer cache now, for a job that removes rows
        they may hold (a job built from them before sees the epoch change and rebuilds)."""
        self._clear_caches()

    async def checkpoint_truncate(self) -> None:
        """Copy the whole WAL into the database and empty the WAL file (a TRUNCATE checkpoint
        on a connection of its own), so pages rewritten since leave no older copy behind."""

        def job() -> None:
            conn = _connect(self.path, readonly=False)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

        await asyncio.get_running_loop().run_in_executor(None, job)

    async def vacuum(self) -> None:
        """Rebuild the database file from its live rows (VACUUM), then empty the WAL: no
        deleted or overwritten row stays in a free page or cell (an erasure's last step; it
        costs a rewrite of the whole file, so nothing routine calls it)."""

        def job() -> None:
            conn = _connect(self.path, readonly=False)
            try:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

        await asyncio.get_running_loop().run_in_executor(None, job)

    def _clear_caches(self) -> None:
        for cache in self._caches:
            cache.clear()
        # after emptying: a reader that sees the new epoch sees the emptied caches
        self.cache_epoch += 1

    def _check_caches(self, conn: sqlite3.Connection) -> None:
        # data_version changes when a connection other than this one commits to the file
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:
            self._data_version = version
            self._clear_caches()

    @staticmethod
    def _run_in_savepoint(conn: sqlite3.Connection, job: WriteJob, index: int) -> tuple[bool, Any]:
        name = f"job{index}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            result = _kept(job(conn))
        except BaseException as exc:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            if isinstance(exc, sqlite3.Error):
                log.exception("sqlite write failed")
                failure: BaseException = StoreUnavailable("the store could not write")
                failure.__cause__ = exc
                return False, failure
            return False, exc
        conn.execute(f"RELEASE {name}")
        return True, result

    async def close(self) -> None:
        """Finish queued writes, stop the writer, close every connection."""
        if self._writer is not None:
            self._jobs.put(_STOP)
            await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
            self._writer = None
        if self._syncer is not None:  # the writer told it to stop after its last group
            await asyncio.get_running_loop().run_in_executor(None, self._syncer.join)
            self._syncer = None
        if self._checkpointer is not None:
            self._stopping.set()
            await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.join)
            self._checkpointer = None
        self._pool.shutdown(wait=True)
        if self._writer_conn is not None:
            self._writer_conn.close()
            self._writer_conn = None
        with self._readers_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    elif isinstance(value, LRSError | Exception):
        future.set_exception(value)
    else:  # pragma: no cover - BaseException such as KeyboardInterrupt in a job
        future.set_exception(RuntimeError(repr(value)))
