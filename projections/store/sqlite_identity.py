"""SQLite IdentityStore: members (their emails as JSON) and an email → member index.

A load is one writer job, so it commits whole."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.base import Member
from projections.store.sqlite import add_meta, chunks, marks, read_meta

IDENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_members (
    member_id TEXT PRIMARY KEY,
    emails TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identity_emails (
    email TEXT PRIMARY KEY,
    member_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_emails_member ON identity_emails(member_id);
"""


class SQLiteIdentityStore:
    """The identity map: members and an email index."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(IDENTITY_SCHEMA)

    async def put_members(self, members: Sequence[Member]) -> set[str]:
        """Upsert members; the emails whose member changed."""
        return await self._db.write(lambda conn: _put_members(conn, members))

    async def member_for_emails(self, emails: Sequence[str]) -> dict[str, str]:
        """Member per known email."""

        def job(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for part in chunks(list(dict.fromkeys(emails))):
                rows = conn.execute(
                    f"SELECT email, member_id FROM identity_emails "
                    f"WHERE email IN ({marks(len(part))})",
                    part,
                )
                found.update(dict(rows.fetchall()))
            return found

        return await self._db.read(job) if emails else {}

    async def get_member(self, member_id: str) -> Member | None:
        """One member."""

        def job(conn: sqlite3.Connection) -> Member | None:
            row = conn.execute(
                "SELECT emails FROM identity_members WHERE member_id = ?", (member_id,)
            ).fetchone()
            return Member(member_id, tuple(orjson.loads(row[0]))) if row else None

        return await self._db.read(job)

    async def get_members(self, member_ids: Sequence[str]) -> dict[str, Member]:
        """Known members among the ids."""

        def job(conn: sqlite3.Connection) -> dict[str, Member]:
            found: dict[str, Member] = {}
            for part in chunks(list(dict.fromkeys(member_ids))):
                rows = conn.execute(
                    "SELECT member_id, emails FROM identity_members "
                    f"WHERE member_id IN ({marks(len(part))})",
                    part,
                )
                found.update((m, Member(m, tuple(orjson.loads(e)))) for m, e in rows)
            return found

        return await self._db.read(job) if member_ids else {}

    async def identity_version(self) -> int:
        """Grows with every change."""
        return await self._db.read(lambda conn: read_meta(conn, "identity_version") or 0)


def _put_members(conn: sqlite3.Connection, members: Sequence[Member]) -> set[str]:
    changed: set[str] = set()
    for member in members:
        old = {
            r[0]
            for r in conn.execute(
                "SELECT email FROM identity_emails WHERE member_id = ?", (member.member_id,)
            )
        }
        for email in old - set(member.emails):
            conn.execute("DELETE FROM identity_emails WHERE email = ?", (email,))
            changed.add(email)
        for email in member.emails:
            row = conn.execute(
                "SELECT member_id FROM identity_emails WHERE email = ?", (email,)
            ).fetchone()
            if row is not None and row[0] == member.member_id:
                continue
            if row is not None:  # the address moves: the other member no longer lists it
                _drop_email(conn, row[0], email)
            conn.execute(
                "INSERT OR REPLACE INTO identity_emails VALUES (?, ?)", (email, member.member_id)
            )
            changed.add(email)
        conn.execute(
            "INSERT OR REPLACE INTO identity_members VALUES (?, ?)",
            (member.member_id, orjson.dumps(list(member.emails)).decode()),
        )
    if changed:
        add_meta(conn, "identity_version", 1, "value + 1")
    return changed


def _drop_email(conn: sqlite3.Connection, member_id: str, email: str) -> None:
    row = conn.execute(
        "SELECT emails FROM identity_members WHERE member_id = ?", (member_id,)
    ).fetchone()
    if row is not None:
        emails = [e for e in orjson.loads(row[0]) if e != email]
        conn.execute(
            "UPDATE identity_members SET emails = ? WHERE member_id = ?",
            (orjson.dumps(emails).decode(), member_id),
        )
