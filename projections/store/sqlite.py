"""SQLite implementations of the projection's FactStore, WorkStore and AggregateStore.

They live in the core's SQLite file (`SQLiteDatabase.ensure_schema`); every write is a job of
the single writer thread, so a compare-and-set reads and writes with nothing in between, and
an aggregate and its change event commit together (the event row goes in the same job).
Record update times are assigned in the writer, strictly increasing, so paging records by
(updated_us, member, activity) never misses one that commits later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.base import (
    Fact,
    OutboxEvent,
    Pair,
    ProjectionProgress,
    RecordPage,
    RecordSave,
    StoredRecord,
)
from projections.store.kept_json import kept_json

PROJECTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS projection_facts (
    statement_id TEXT PRIMARY KEY,
    actor_key TEXT NOT NULL,
    member_id TEXT,
    activity_id TEXT,
    stored_us INTEGER NOT NULL,
    voided INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS projection_facts_pair ON projection_facts(member_id, activity_id);
CREATE INDEX IF NOT EXISTS projection_facts_actor ON projection_facts(actor_key);
CREATE INDEX IF NOT EXISTS projection_facts_unmatched ON projection_facts(statement_id)
    WHERE member_id IS NULL AND activity_id IS NOT NULL AND voided = 0;
CREATE TABLE IF NOT EXISTS projection_lease_sets (
    lease_id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    until_us INTEGER NOT NULL,
    ids BLOB NOT NULL
);
DROP TABLE IF EXISTS projection_leases;
CREATE TABLE IF NOT EXISTS projection_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS marketplace_records (
    member_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    record BLOB,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (member_id, activity_id)
);
CREATE INDEX IF NOT EXISTS marketplace_records_updated
    ON marketplace_records(updated_us, member_id, activity_id);
CREATE TABLE IF NOT EXISTS webhook_events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    member_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    occurred_us INTEGER NOT NULL,
    body BLOB NOT NULL,
    fanned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_events_unfanned ON webhook_events(seq) WHERE fanned = 0;
"""

_CHUNK = 400


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """Slices small enough for SQLite's bound-parameter limit."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def marks(n: int) -> str:
    """`?,?,?` for n parameters."""
    return ",".join("?" * n)


def select_pairs(columns: str, table: str, pairs: Sequence[Pair]) -> tuple[str, list[str]]:
    """A SELECT of `columns` (named `t.<column>`) of the rows of `table` (as `t`) of a chunk of
    pairs, and its parameters: a join on the (member_id, activity_id) index.

    Not `(member_id, activity_id) IN (VALUES ...)`: SQLite 3.40 answers that by scanning the
    whole table.
    """
    params = [value for pair in pairs for value in pair]
    sql = (
        f"WITH wanted(m, a) AS (VALUES {','.join(['(?,?)'] * len(pairs))}) "
        f"SELECT {columns} FROM wanted CROSS JOIN {table} t "
        "ON t.member_id = wanted.m AND t.activity_id = wanted.a"
    )
    return sql, params


def _prefixed(columns: str) -> str:
    return ", ".join("t." + c.strip() for c in columns.split(","))


_LIVE_PAIR = "member_id IS NOT NULL AND activity_id IS NOT NULL AND voided = 0"


_FACT_COLUMNS = "statement_id, actor_key, member_id, activity_id, stored_us, voided, data"


def _fact(row: Sequence[Any]) -> Fact:
    sid, actor, member, activity, stored_us, voided, data = row
    return Fact(sid, actor, member, activity, stored_us, bool(voided), orjson.loads(data))


def _select_facts(
    conn: sqlite3.Connection, where: str, params: Sequence[Any], limit: int = -1
) -> list[Fact]:
    sql = f"SELECT {_FACT_COLUMNS} FROM projection_facts WHERE {where} ORDER BY statement_id"
    return [_fact(row) for row in conn.execute(sql + " LIMIT ?", (*params, limit))]


def _fact_rows(facts: Sequence[Fact]) -> list[tuple[Any, ...]]:
    return [
        (
            f.statement_id,
            f.actor_key,
            f.member_id,
            f.activity_id,
            f.stored_us,
            int(f.voided),
            kept_json(f.data),
        )
        for f in facts
    ]


def _upsert_facts(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert or replace; voided stays set."""
    conn.executemany(
        f"INSERT INTO projection_facts ({_FACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(statement_id) DO UPDATE SET actor_key = excluded.actor_key, "
        "member_id = excluded.member_id, activity_id = excluded.activity_id, "
        "stored_us = excluded.stored_us, data = excluded.data, "
        "voided = max(projection_facts.voided, excluded.voided)",
        rows,
    )


def _facts_by_id(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Fact]:
    found: dict[str, Fact] = {}
    for part in chunks(list(dict.fromkeys(ids))):
        for fact in _select_facts(conn, f"statement_id IN ({marks(len(part))})", part):
            found[fact.statement_id] = fact
    return found


def _void(conn: sqlite3.Connection, voiding: Sequence[str]) -> list[Fact]:
    """`void_facts` in the writer's job: the facts after."""
    ids = list(dict.fromkeys(voiding))
    conn.executemany(
        f"INSERT INTO projection_facts ({_FACT_COLUMNS}) VALUES (?, '', NULL, NULL, 0, 1, "
        "'{}') ON CONFLICT(statement_id) DO UPDATE SET voided = 1",
        [(i,) for i in ids],
    )
    found: list[Fact] = []
    for part in chunks(ids):
        found += _select_facts(conn, f"statement_id IN ({marks(len(part))})", part)
    return found


def _facts_for_pairs(conn: sqlite3.Connection, pairs: Sequence[Pair]) -> dict[Pair, list[Fact]]:
    found: dict[Pair, list[Fact]] = {}
    for part in chunks(list(dict.fromkeys(pairs))):
        sql, params = select_pairs(_prefixed(_FACT_COLUMNS), "projection_facts", part)
        sql += " WHERE t.voided = 0 ORDER BY t.statement_id"
        for row in conn.execute(sql, params):
            found.setdefault((row[2], row[3]), []).append(_fact(row))
    return found


_READER_CACHE_KIB = 65536  # the page cache of a reader in another process (64 MiB)
_reader_conns: dict[str, sqlite3.Connection] = {}  # per process: path → its connection


@dataclass(frozen=True)
class SQLiteFactsReader:
    """`facts_for_pairs` from another process (`FactStore.reader`): a read-only connection of
    its own, opened on first use and kept for the process's life. Each query sees what had
    committed when it began, as the store's own readers do."""

    path: str

    def facts_for_pairs(self, pairs: Sequence[Pair]) -> dict[Pair, list[Fact]]:
        """Non-voided facts per pair."""
        conn = _reader_conns.get(self.path)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            conn.execute(f"PRAGMA cache_size=-{_READER_CACHE_KIB}")
            _reader_conns[self.path] = conn
        return _facts_for_pairs(conn, pairs) if pairs else {}


class SQLiteFactStore:
    """Facts, one row per statement id."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(PROJECTION_SCHEMA)

    async def put_facts(self, facts: Sequence[Fact], voiding: Sequence[str] = ()) -> list[Fact]:
        """Upsert; voided stays set. Then `voiding` voided, in the same writer job."""
        rows = _fact_rows(facts)

        def job(conn: sqlite3.Connection) -> list[Fact]:
            _upsert_facts(conn, rows)
            return _void(conn, voiding)

        return await self._db.write(job) if rows or voiding else []

    async def replace_facts(
        self, facts: Sequence[Fact], voiding: Sequence[str] = ()
    ) -> tuple[dict[str, Fact], list[Fact]]:
        """`put_facts`, the facts as they were read first in the same writer job. Alternate
        drains of a 1,000,000 backlog (docs/performance.md): the slices 48.0 / 48.6 s against
        49.2 / 51.8 s reading them beforehand on a reader."""
        rows = _fact_rows(facts)
        ids = [f.statement_id for f in facts]

        def job(conn: sqlite3.Connection) -> tuple[dict[str, Fact], list[Fact]]:
            before = _facts_by_id(conn, ids)
            _upsert_facts(conn, rows)
            return before, _void(conn, voiding)

        return await self._db.write(job) if rows or voiding else ({}, [])

    async def get_facts(self, ids: Sequence[str]) -> dict[str, Fact]:
        """The facts among ids."""
        return await self._db.read(lambda conn: _facts_by_id(conn, ids)) if ids else {}

    async def void_facts(self, ids: Sequence[str]) -> list[Fact]:
        """Mark voided, tombstones for the unknown; the facts after."""
        return await self._db.write(lambda conn: _void(conn, ids)) if ids else []

    async def facts_for_pairs(self, pairs: Sequence[Pair]) -> dict[Pair, list[Fact]]:
        """Non-voided facts per pair, a chunk of pairs per indexed query."""
        return await self._db.read(lambda conn: _facts_for_pairs(conn, pairs)) if pairs else {}

    def reader(self) -> SQLiteFactsReader:
        """The file's path: another process opens it read-only (WAL: beside this one's writer)."""
        return SQLiteFactsReader(str(self._db.path))

    async def facts_for_actors(self, actor_keys: Sequence[str]) -> list[Fact]:
        """Non-voided facts of these actor keys."""

        def job(conn: sqlite3.Connection) -> list[Fact]:
            found: list[Fact] = []
            for part in chunks(list(dict.fromkeys(actor_keys))):
                where = f"actor_key IN ({marks(len(part))}) AND voided = 0"
                found += _select_facts(conn, where, part)
            return found

        return await self._db.read(job) if actor_keys else []

    async def unmatched_facts(self, limit: int, after: str | None = None) -> list[Fact]:
        """Unmatched facts by statement id."""
        where = "member_id IS NULL AND activity_id IS NOT NULL AND voided = 0 AND statement_id > ?"
        return await self._db.read(lambda c: _select_facts(c, where, (after or "",), limit))

    async def count_unmatched(self) -> int:
        """How many facts wait for an identity."""
        sql = (
            "SELECT count(*) FROM projection_facts "
            "WHERE member_id IS NULL AND activity_id IS NOT NULL AND voided = 0"
        )
        return await self._db.read(lambda c: c.execute(sql).fetchone()[0])

    async def unmatched_counts(self) -> dict[str, int]:
        """Unmatched facts per actor key."""
        sql = (
            "SELECT actor_key, count(*) FROM projection_facts "
            "WHERE member_id IS NULL AND activity_id IS NOT NULL AND voided = 0 GROUP BY actor_key"
        )
        return await self._db.read(lambda c: dict(c.execute(sql).fetchall()))

    async def counted_facts(self, limit: int, after: str | None = None) -> list[Fact]:
        """Facts that count towards a record, by statement id."""
        where = f"{_LIVE_PAIR} AND statement_id > ?"
        return await self._db.read(lambda c: _select_facts(c, where, (after or "",), limit))

    async def counted_pairs(self, limit: int, after: Pair | None = None) -> list[Pair]:
        """Distinct pairs of counted facts, walking the pair index."""
        sql = (
            "SELECT DISTINCT member_id, activity_id FROM projection_facts "
            f"WHERE {_LIVE_PAIR} AND (member_id, activity_id) > (?, ?) "
            "ORDER BY member_id, activity_id LIMIT ?"
        )
        start = after or ("", "")
        return await self._db.read(lambda c: [(m, a) for m, a in c.execute(sql, (*start, limit))])

    async def delete_facts(self, ids: Sequence[str]) -> None:
        """Forget facts."""

        def job(conn: sqlite3.Connection) -> None:
            for part in chunks(list(ids)):
                conn.execute(
                    f"DELETE FROM projection_facts WHERE statement_id IN ({marks(len(part))})", part
                )

        if ids:
            await self._db.write(job)


def add_meta(conn: sqlite3.Connection, name: str, value: int, combine: str) -> None:
    conn.execute(
        "INSERT INTO projection_meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
        f"value = {combine}",
        (name, value),
    )


def read_meta(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT value FROM projection_meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


class SQLiteWorkStore:
    """Leases and progress.

    A claim is one row: the ids it leased, as a JSON array, with their owner and expiry. Why
    not a row per statement: a worker claims every statement it projects, and a row each (a
    random statement id inserted into an index, then deleted at the release) cost the single
    writer a sixth of a drain's time; the claims a store holds at once are a few per worker,
    so reading the others' to check a claim is cheap. Each claim is one job of the single
    writer, so the check and the write have nothing between them: two owners never both get
    an id. An expired lease is as good as none, so a claim deletes the expired ones first.
    """

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(PROJECTION_SCHEMA)

    async def claim(self, ids: Sequence[str], owner: str, now_us: int, lease_us: int) -> set[str]:
        """Lease the free or expired ids."""
        unique = list(dict.fromkeys(ids))

        def job(conn: sqlite3.Connection) -> set[str]:
            conn.execute("DELETE FROM projection_lease_sets WHERE until_us <= ?", (now_us,))
            held: set[str] = set()
            for (leased,) in conn.execute(
                "SELECT ids FROM projection_lease_sets WHERE owner != ?", (owner,)
            ):
                held.update(orjson.loads(leased))
            mine = [i for i in unique if i not in held]
            if mine:
                conn.execute(
                    "INSERT INTO projection_lease_sets (owner, until_us, ids) VALUES (?, ?, ?)",
                    (owner, now_us + lease_us, orjson.dumps(mine)),
                )
            return set(mine)

        return await self._db.write(job) if unique else set()

    async def release(self, ids: Sequence[str], owner: str) -> None:
        """Drop the owner's leases on these ids: its claims left with none are deleted."""
        released = set(ids)

        def job(conn: sqlite3.Connection) -> None:
            rows = conn.execute(
                "SELECT lease_id, ids FROM projection_lease_sets WHERE owner = ?", (owner,)
            ).fetchall()
            for lease_id, leased in rows:
                kept = [i for i in orjson.loads(leased) if i not in released]
                if kept:
                    conn.execute(
                        "UPDATE projection_lease_sets SET ids = ? WHERE lease_id = ?",
                        (orjson.dumps(kept), lease_id),
                    )
                else:
                    conn.execute(
                        "DELETE FROM projection_lease_sets WHERE lease_id = ?", (lease_id,)
                    )

        if released:
            await self._db.write(job)

    async def note_applied(self, stored_us: int, count: int) -> None:
        """Advance the progress counters."""

        def job(conn: sqlite3.Connection) -> None:
            add_meta(conn, "last_applied_stored_us", stored_us, "max(value, excluded.value)")
            add_meta(conn, "applied", count, "value + excluded.value")

        await self._db.write(job)

    async def progress(self) -> ProjectionProgress:
        """Progress so far."""

        def job(conn: sqlite3.Connection) -> ProjectionProgress:
            return ProjectionProgress(
                last_applied_stored_us=read_meta(conn, "last_applied_stored_us"),
                applied=read_meta(conn, "applied") or 0,
            )

        return await self._db.read(job)


_RECORD_COLUMNS = "member_id, activity_id, rev, version, record, updated_us"


def _record(row: Sequence[Any]) -> StoredRecord:
    member, activity, rev, version, record, updated_us = row
    body = orjson.loads(record) if record is not None else None
    return StoredRecord(member, activity, rev, version, body, updated_us)


def record_position(record: StoredRecord) -> str:
    """The paging position just after this record."""
    return orjson.dumps([record.updated_us, record.member_id, record.activity_id]).decode()


def parse_record_position(position: str) -> tuple[int, str, str]:
    """(updated_us, member, activity) of a position; ValueError when it is not one."""
    try:
        updated_us, member, activity = orjson.loads(position)
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError("not a record position") from exc
    if not (isinstance(updated_us, int) and isinstance(member, str) and isinstance(activity, str)):
        raise ValueError("not a record position")
    return updated_us, member, activity


def _save_many(conn: sqlite3.Connection, saves: Sequence[RecordSave]) -> set[Pair]:
    """Compare-and-set saves in the writer's transaction (a single one too: `save_record`):
    the revs read a chunk of pairs per query, then the rows written with one `executemany` per
    kind (rev moves, records, events) instead of three statements per save: the same rows as
    saving one at a time, in order (a pair saved twice is compared with the rev its first
    save gave; update times and event order follow the saves), with a fraction of the
    writer's work per record."""
    revs = _revs(conn, [save.pair for save in saves])
    saved: set[Pair] = set()
    moved: list[tuple[int, str, str]] = []
    records: dict[Pair, tuple[Any, ...]] = {}
    events: list[tuple[Any, ...]] = []
    top: list[int] = []
    for save in saves:
        if revs.get(save.pair, 0) != save.expected_rev:
            continue
        exists = save.pair in revs
        revs[save.pair] = save.expected_rev + 1
        saved.add(save.pair)
        if exists and save.event is None and not save.quiet:  # unchanged: only the rev moves
            if save.pair in records:  # saved earlier in this job: its row takes the rev
                member, activity, _rev, *rest = records[save.pair]
                records[save.pair] = (member, activity, save.expected_rev + 1, *rest)
            else:
                moved.append((save.expected_rev + 1, *save.pair))
            continue
        if not top:
            (newest,) = conn.execute("SELECT max(updated_us) FROM marketplace_records").fetchone()
            top.append(newest or 0)
        top[0] = updated_us = max(save.now_us, top[0] + 1)
        body = kept_json(save.record) if save.record is not None else None
        records[save.pair] = (*save.pair, save.expected_rev + 1, save.version, body, updated_us)
        if save.event is not None:
            e = save.event
            events.append((e.id, e.type, e.member_id, e.activity_id, e.occurred_us, e.body))
    _write_saved(conn, moved, list(records.values()), events)
    return saved


def _revs(conn: sqlite3.Connection, pairs: Sequence[Pair]) -> dict[Pair, int]:
    """The stored rev of each pair that has a row."""
    found: dict[Pair, int] = {}
    for part in chunks(list(dict.fromkeys(pairs))):
        sql, params = select_pairs("t.member_id, t.activity_id, t.rev", "marketplace_records", part)
        found.update(((m, a), rev) for m, a, rev in conn.execute(sql, params))
    return found


def _write_saved(
    conn: sqlite3.Connection,
    moved: list[tuple[int, str, str]],
    records: list[tuple[Any, ...]],
    events: list[tuple[Any, ...]],
) -> None:
    """The rows of `_save_many`: rev moves, record upserts (in place), events (in order)."""
    conn.executemany(
        "UPDATE marketplace_records SET rev = ? WHERE member_id = ? AND activity_id = ?", moved
    )
    conn.executemany(
        f"INSERT INTO marketplace_records ({_RECORD_COLUMNS}) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT(member_id, activity_id) DO UPDATE SET rev = excluded.rev, "
        "version = excluded.version, record = excluded.record, updated_us = excluded.updated_us",
        records,
    )
    conn.executemany(
        "INSERT INTO webhook_events (id, type, member_id, activity_id, occurred_us, body) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        events,
    )


def _insert_event(conn: sqlite3.Connection, event: OutboxEvent) -> None:
    conn.execute(
        "INSERT INTO webhook_events (id, type, member_id, activity_id, occurred_us, body) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (event.id, event.type, event.member_id, event.activity_id, event.occurred_us, event.body),
    )


class SQLiteAggregateStore:
    """Records, compare-and-set in the writer, events in the same job."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(PROJECTION_SCHEMA)

    async def get_record(self, member_id: str, activity_id: str) -> StoredRecord | None:
        """One record or tombstone."""

        def job(conn: sqlite3.Connection) -> StoredRecord | None:
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM marketplace_records "
                "WHERE member_id = ? AND activity_id = ?",
                (member_id, activity_id),
            ).fetchone()
            return _record(row) if row else None

        return await self._db.read(job)

    async def save_record(
        self,
        member_id: str,
        activity_id: str,
        *,
        expected_rev: int,
        record: dict[str, Any] | None,
        version: int,
        now_us: int,
        event: OutboxEvent | None,
        quiet: bool = False,
    ) -> bool:
        """Compare-and-set on rev, event in the same commit."""
        save = RecordSave(
            member_id, activity_id, expected_rev, record, version, now_us, event, quiet=quiet
        )
        return await self._db.write(lambda conn: bool(_save_many(conn, [save])))

    async def save_records(self, saves: Sequence[RecordSave]) -> set[Pair]:
        """Every compare-and-set in one writer job: one commit (and one fsync) per batch,
        the rows written a kind at a time (`_save_many`)."""
        return await self._db.write(lambda conn: _save_many(conn, saves)) if saves else set()

    async def get_records(self, pairs: Sequence[Pair]) -> dict[Pair, StoredRecord]:
        """Records or tombstones among the pairs, a chunk of pairs per indexed query."""

        def job(conn: sqlite3.Connection) -> dict[Pair, StoredRecord]:
            found: dict[Pair, StoredRecord] = {}
            for part in chunks(list(dict.fromkeys(pairs))):
                sql, params = select_pairs(_prefixed(_RECORD_COLUMNS), "marketplace_records", part)
                for row in conn.execute(sql, params):
                    found[(row[0], row[1])] = _record(row)
            return found

        return await self._db.read(job) if pairs else {}

    async def member_records(self, member_id: str) -> list[StoredRecord]:
        """A member's live records."""

        def job(conn: sqlite3.Connection) -> list[StoredRecord]:
            rows = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM marketplace_records "
                "WHERE member_id = ? AND record IS NOT NULL ORDER BY activity_id",
                (member_id,),
            )
            return [_record(r) for r in rows]

        return await self._db.read(job)

    async def page_records(
        self,
        *,
        after: str | None = None,
        since_us: int | None = None,
        limit: int = 100,
        include_removed: bool = False,
    ) -> RecordPage:
        """Records by (updated_us, member, activity)."""
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        if not include_removed:
            where.append("record IS NOT NULL")
        if since_us is not None:
            where.append("updated_us > ?")
            params.append(since_us)
        if after is not None:
            where.append("(updated_us, member_id, activity_id) > (?, ?, ?)")
            params.extend(parse_record_position(after))

        def job(conn: sqlite3.Connection) -> RecordPage:
            rows = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM marketplace_records WHERE {' AND '.join(where)} "
                "ORDER BY updated_us, member_id, activity_id LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
            records = [_record(r) for r in rows[:limit]]
            more = len(rows) > limit and records
            return RecordPage(records, record_position(records[-1]) if more else None)

        return await self._db.read(job)

    async def count_records(self, since_us: int | None = None) -> int:
        """Live records updated after since_us."""
        sql = "SELECT count(*) FROM marketplace_records WHERE record IS NOT NULL AND updated_us > ?"
        return await self._db.read(lambda c: c.execute(sql, (since_us or -1,)).fetchone()[0])

    async def add_events(self, events: Sequence[OutboxEvent]) -> int:
        """Member events into the outbox, those already there skipped."""

        def job(conn: sqlite3.Connection) -> int:
            added = 0
            for e in events:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO webhook_events "
                    "(id, type, member_id, activity_id, occurred_us, body) VALUES (?,?,?,?,?,?)",
                    (e.id, e.type, e.member_id, e.activity_id, e.occurred_us, e.body),
                )
                added += cursor.rowcount
            return added

        return await self._db.write(job) if events else 0

    async def erase_member(self, member_id: str) -> tuple[int, int]:
        """Records, events and their deliveries of the member, gone (one write)."""

        def job(conn: sqlite3.Connection) -> tuple[int, int]:
            records = conn.execute(
                "DELETE FROM marketplace_records WHERE member_id = ?", (member_id,)
            ).rowcount
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE event_id IN "
                "(SELECT id FROM webhook_events WHERE member_id = ?)",
                (member_id,),
            )
            events = conn.execute(
                "DELETE FROM webhook_events WHERE member_id = ?", (member_id,)
            ).rowcount
            return records, events

        return await self._db.write(job)

    async def settle_erasure(self) -> None:
        """VACUUM, then truncate the WAL (`SQLiteDatabase.vacuum`)."""
        await self._db.vacuum()

    async def publish_events(self, limit: int = 500) -> int:
        """Events are written to the outbox directly here."""
        return 0
