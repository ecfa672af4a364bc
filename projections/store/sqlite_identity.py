"""SQLite IdentityStore: members (one JSON document each), their claims (address and account
history, one row per (key, member)) and resolved conflicts.

A key claimed by two members is a conflict: `member_for_keys` gives it to neither. Each write
is one writer job, so it commits whole. The rows of the earlier identity map's tables
(`identity_members`, `identity_emails`) are moved in when the store is opened (copied, then
deleted: a copy cut short is finished at the next opening, and a claim dropped later is not
copied back).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.base import Claim, Conflict, Member
from projections.store.identity_docs import (
    conflicts_of,
    doc_member,
    group_claims,
    member_doc,
    sole_claimants,
)
from projections.store.sqlite import add_meta, chunks, marks, read_meta

IDENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_members (member_id TEXT PRIMARY KEY, emails TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identity_emails (email TEXT PRIMARY KEY, member_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identity_people (member_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identity_claims (
    key TEXT NOT NULL,
    member_id TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    PRIMARY KEY (key, member_id)
);
CREATE INDEX IF NOT EXISTS identity_claims_member ON identity_claims(member_id);
CREATE TABLE IF NOT EXISTS identity_resolutions (
    key TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    resolved_at TEXT NOT NULL
);
INSERT OR IGNORE INTO identity_people (member_id, doc)
    SELECT member_id, json_object('emails', json(emails)) FROM identity_members;
INSERT OR IGNORE INTO identity_claims (key, member_id)
    SELECT 'email:' || email, member_id FROM identity_emails;
DELETE FROM identity_members;
DELETE FROM identity_emails;
"""

_CLAIM_COLUMNS = "key, member_id, valid_from, valid_to"


class SQLiteIdentityStore:
    """The identity map: members, claims, resolutions."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(IDENTITY_SCHEMA)

    async def put_members(self, members: Sequence[Member]) -> None:
        """Insert or replace members."""
        rows = [(m.member_id, orjson.dumps(member_doc(m)).decode()) for m in members]
        if rows:
            await self._db.write(
                lambda c: _changed(c, "INSERT OR REPLACE INTO identity_people VALUES (?, ?)", rows)
            )

    async def delete_members(self, member_ids: Sequence[str]) -> None:
        """Remove members and every claim of theirs."""
        rows = [(m,) for m in member_ids]
        if rows:

            def job(conn: sqlite3.Connection) -> None:
                conn.executemany("DELETE FROM identity_claims WHERE member_id = ?", rows)
                _changed(conn, "DELETE FROM identity_people WHERE member_id = ?", rows)

            await self._db.write(job)

    async def put_claims(self, claims: Sequence[Claim]) -> None:
        """Insert or replace claims."""
        rows = [(c.key, c.member_id, c.valid_from, c.valid_to) for c in claims]
        sql = f"INSERT OR REPLACE INTO identity_claims ({_CLAIM_COLUMNS}) VALUES (?, ?, ?, ?)"
        if rows:
            await self._db.write(lambda c: _changed(c, sql, rows))

    async def delete_claims(self, claims: Sequence[tuple[str, str]]) -> None:
        """Forget claims by (key, member_id)."""
        rows = [tuple(c) for c in claims]
        sql = "DELETE FROM identity_claims WHERE key = ? AND member_id = ?"
        if rows:
            await self._db.write(lambda c: _changed(c, sql, rows))

    async def claims_for(self, keys: Sequence[str]) -> dict[str, list[Claim]]:
        """Claims on each key."""
        return group_claims(await self._claims("key", keys), "key")

    async def member_claims(self, member_ids: Sequence[str]) -> dict[str, list[Claim]]:
        """Claims of each member."""
        return group_claims(await self._claims("member_id", member_ids), "member_id")

    async def member_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The sole claimant of each key."""
        return sole_claimants(await self._claims("key", keys))

    async def conflicts(self, limit: int = 1000) -> list[Conflict]:
        """Keys with several claimants."""
        sql = (
            "SELECT key FROM identity_claims GROUP BY key HAVING count(*) > 1 ORDER BY key LIMIT ?"
        )
        keys = await self._db.read(lambda c: [r[0] for r in c.execute(sql, (limit,))])
        return conflicts_of(await self._claims("key", keys))

    async def resolve(self, key: str, member_id: str, at: str) -> list[str]:
        """Drop the other claims on `key`; remember who it was given to."""

        def job(conn: sqlite3.Connection) -> list[str]:
            dropped = [
                r[0]
                for r in conn.execute(
                    "SELECT member_id FROM identity_claims WHERE key = ? AND member_id != ? "
                    "ORDER BY member_id",
                    (key, member_id),
                )
            ]
            conn.execute(
                "DELETE FROM identity_claims WHERE key = ? AND member_id != ?", (key, member_id)
            )
            conn.execute(
                "INSERT OR REPLACE INTO identity_resolutions VALUES (?, ?, ?)", (key, member_id, at)
            )
            add_meta(conn, "identity_version", 1, "value + 1")
            return dropped

        return await self._db.write(job)

    async def resolutions(self, keys: Sequence[str]) -> dict[str, str]:
        """Resolved keys → member."""
        rows = await self._select("identity_resolutions", "key", "key, member_id", keys)
        return dict(rows)

    async def get_member(self, member_id: str) -> Member | None:
        """One member."""
        return (await self.get_members([member_id])).get(member_id)

    async def get_members(self, member_ids: Sequence[str]) -> dict[str, Member]:
        """Known members among the ids."""
        rows = await self._select("identity_people", "member_id", "member_id, doc", member_ids)
        return {m: doc_member(m, orjson.loads(d)) for m, d in rows}

    async def member_statuses(self) -> dict[str, str]:
        """Every member's employment status."""
        sql = (
            "SELECT member_id, coalesce(json_extract(doc, '$.employment_status'), 'active') "
            "FROM identity_people"
        )
        return await self._db.read(lambda c: dict(c.execute(sql).fetchall()))

    async def identity_version(self) -> int:
        """Grows with every change."""
        return await self._db.read(lambda conn: read_meta(conn, "identity_version") or 0)

    async def _claims(self, column: str, values: Sequence[str]) -> list[Claim]:
        rows = await self._select("identity_claims", column, _CLAIM_COLUMNS, values)
        return [Claim(*row) for row in rows]

    async def _select(
        self, table: str, column: str, columns: str, values: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """Rows of `table` whose `column` is among `values`, a chunk of values per query."""

        def job(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            found: list[tuple[Any, ...]] = []
            for part in chunks(list(dict.fromkeys(values))):
                sql = f"SELECT {columns} FROM {table} WHERE {column} IN ({marks(len(part))})"
                found += conn.execute(sql, part).fetchall()
            return found

        return await self._db.read(job) if values else []


def _changed(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    conn.executemany(sql, rows)
    add_meta(conn, "identity_version", 1, "value + 1")
