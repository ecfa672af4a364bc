"""Erasing a person's statements in SQLite, one bounded page per write job.

The statements that answer to the person are found through the postings of their keys (every
kind: `agent`, `related_agents`...), never by a scan. Each page, in one job of the single writer
(so ingest interleaves between pages, never waits for the whole erasure):
- statements that name the person in an agent place are rewritten (`rewrite`) and their
  postings and packed keys moved from the person's keys to the pseudonym's, or, when deleting,
  removed with all their postings, awaiting and ordering rows;
- statements that only inherit the person's keys (a StatementRef to one of theirs) keep their
  JSON and have those keys moved (or dropped when deleting).
Each page leaves fewer postings under the person's keys, so an interrupted erasure finishes
when run again. The page that finds none left deletes the keys from the key dictionary and
empties the writer's caches (which may hold their ids). Every job runs with secure_delete, so
what it deletes or replaces is overwritten in the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from lrs.model.erasure import ErasedPage, StatementRewrite
from lrs.store.engine.sqlite import SQLiteDatabase
from lrs.store.engine.sqlite_bulk import chunks, marks, secure_delete
from lrs.store.sqlite_keys import key_ids, known_key_ids, pack, unpack
from lrs.store.sqlite_query import POSTING_TABLES


async def erase_agent_page(
    db: SQLiteDatabase,
    keys: Sequence[str],
    rewrite: StatementRewrite,
    *,
    replacement: str | None,
    delete: bool,
    limit: int,
) -> ErasedPage:
    """One page of erasure (see the module docstring); `done` once nothing is left."""

    def job(conn: sqlite3.Connection) -> ErasedPage:
        with secure_delete(conn):
            return _erase_page(conn, db, keys, rewrite, replacement, delete, limit)

    return await db.write(job)


def _erase_page(
    conn: sqlite3.Connection,
    db: SQLiteDatabase,
    keys: Sequence[str],
    rewrite: StatementRewrite,
    replacement: str | None,
    delete: bool,
    limit: int,
) -> ErasedPage:
    old = sorted(set(known_key_ids(conn, list(dict.fromkeys(keys))).values()))
    seqs = _posted_seqs(conn, old, limit) if old else []
    if not seqs:
        for chunk in chunks(old):
            conn.execute(f"DELETE FROM filter_keys WHERE id IN ({marks(len(chunk))})", chunk)
        if old:
            db.clear_writer_caches()
        return ErasedPage(done=True)
    new_id = key_ids(conn, [replacement])[replacement] if replacement and not delete else None
    rows = _statement_rows(conn, seqs)
    doomed: list[tuple[int, bytes]] = []
    kept: list[tuple[bytes, bytes, int]] = []
    rewritten = 0
    for seq, raw, packed in rows:
        new_raw = rewrite(bytes(raw))
        if new_raw is not None and delete:
            doomed.append((seq, bytes(packed)))
            continue
        rewritten += new_raw is not None
        kept.append((new_raw or bytes(raw), _remapped(bytes(packed), old, new_id), seq))
    _delete_statements(conn, doomed)
    conn.executemany("UPDATE statements SET raw = ?, keys = ? WHERE seq = ?", kept)
    # postings under the old keys of every seq of the page: kept statements' move to the new
    # key; postings whose statement is gone (none expected) are dropped all the same
    _move_postings(conn, old, [seq for seq in seqs if seq not in {s for s, _p in doomed}], new_id)
    return ErasedPage(
        pseudonymised=rewritten,
        deleted=len(doomed),
        unlinked=len(kept) - rewritten,
        done=False,
    )


def _posted_seqs(conn: sqlite3.Connection, key_ids_: Sequence[int], limit: int) -> list[int]:
    """The first `limit` seqs posted under any of the key ids, in either posting table."""
    where = f"key_id IN ({marks(len(key_ids_))})"
    union = " UNION ".join(f"SELECT seq FROM {table} WHERE {where}" for table in POSTING_TABLES)
    params = [*key_ids_] * len(POSTING_TABLES)
    rows = conn.execute(f"SELECT seq FROM ({union}) ORDER BY seq LIMIT ?", [*params, limit])
    return [seq for (seq,) in rows]


Row = tuple[int, bytes, bytes]  # seq, raw, packed keys


def _statement_rows(conn: sqlite3.Connection, seqs: Sequence[int]) -> list[Row]:
    rows: list[Row] = []
    for chunk in chunks(seqs):
        rows += conn.execute(
            f"SELECT seq, raw, keys FROM statements WHERE seq IN ({marks(len(chunk))})", chunk
        ).fetchall()
    return rows


def _remapped(packed: bytes, old: Sequence[int], new_id: int | None) -> bytes:
    """Packed keys with the old key ids replaced by `new_id` (or dropped when None)."""
    merged: dict[int, int] = {}
    for key_id, kinds in unpack(packed):
        if key_id in old:
            if new_id is None:
                continue
            key_id = new_id
        merged[key_id] = merged.get(key_id, 0) | kinds
    return pack(merged.items())


def _delete_statements(conn: sqlite3.Connection, doomed: Sequence[tuple[int, bytes]]) -> None:
    """Delete statements with every posting (found through their packed keys) and mark."""
    postings = [(key_id, seq) for seq, packed in doomed for key_id, _kinds in unpack(packed)]
    for table in POSTING_TABLES:
        for pairs in chunks(postings):
            conn.execute(
                f"DELETE FROM {table} WHERE (key_id, seq) IN (VALUES {marks_pairs(len(pairs))})",
                [value for pair in pairs for value in pair],
            )
    seqs = [seq for seq, _packed in doomed]
    for table in ("statements_awaiting", "statements_unordered", "statements"):
        for chunk in chunks(seqs):
            conn.execute(f"DELETE FROM {table} WHERE seq IN ({marks(len(chunk))})", chunk)


def marks_pairs(n: int) -> str:
    """n `(?, ?)` rows for a VALUES list."""
    return ",".join(["(?, ?)"] * n)


def _move_postings(
    conn: sqlite3.Connection, old: Sequence[int], seqs: Sequence[int], new_id: int | None
) -> None:
    """Postings of `seqs` under the `old` key ids go under `new_id` (dropped when None), in the
    table they are in; kinds merge with a posting the statement has under `new_id` already."""
    where = f"key_id IN ({marks(len(old))}) AND seq IN ({{seqs}})"
    for table in POSTING_TABLES:
        for chunk in chunks(seqs):
            params = [*old, *chunk]
            sql_where = where.format(seqs=marks(len(chunk)))
            if new_id is not None:
                conn.execute(
                    f"INSERT INTO {table} (key_id, seq, kinds) "
                    f"SELECT ?, seq, kinds FROM {table} WHERE {sql_where} "
                    "ORDER BY seq ON CONFLICT (key_id, seq) "
                    "DO UPDATE SET kinds = kinds | excluded.kinds",
                    [new_id, *params],
                )
            conn.execute(f"DELETE FROM {table} WHERE {sql_where}", params)
