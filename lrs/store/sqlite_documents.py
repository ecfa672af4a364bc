"""SQLite implementation of the DocumentStore (see `lrs.store.documents`).

One row per document, unique on its key. Listing a scope is a range of that unique index:
(kind, activity_id, agent) is a prefix of it, with registration next. Conditional writes run
as one job in the database's single writer thread, which compares the current etag and writes
inside the job's own savepoint, so no other write can come between the check and the write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from lrs.model.documents import Document, DocumentIds, DocumentKey, DocumentScope
from lrs.store.engine.sqlite import SQLiteDatabase
from lrs.store.engine.sqlite_bulk import chunks, marks, secure_delete

DOCUMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    registration TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    content BLOB NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    UNIQUE (kind, activity_id, agent, registration, doc_id)
);
"""

_KEY = "kind = ? AND activity_id = ? AND agent = ? AND registration = ? AND doc_id = ?"


def _key_params(key: DocumentKey) -> tuple[str, str, str, str, str]:
    return (key.kind, key.activity_id, key.agent, key.registration, key.doc_id)


def _current_etag(conn: sqlite3.Connection, key: DocumentKey) -> str | None:
    row = conn.execute(f"SELECT etag FROM documents WHERE {_KEY}", _key_params(key)).fetchone()
    return row[0] if row else None


def _scope_where(scope: DocumentScope) -> tuple[str, list[object]]:
    where = "kind = ? AND activity_id = ? AND agent = ?"
    params: list[object] = [scope.kind, scope.activity_id, scope.agent]
    if scope.registration is not None:
        where += " AND registration = ?"
        params.append(scope.registration)
    return where, params


class SQLiteDocumentStore:
    """State, Activity Profile and Agent Profile documents in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def get_document(self, key: DocumentKey) -> Document | None:
        """The document with this key, or None."""

        def job(conn: sqlite3.Connection) -> Document | None:
            row = conn.execute(
                f"SELECT content, content_type, etag, updated_us FROM documents WHERE {_KEY}",
                _key_params(key),
            ).fetchone()
            if row is None:
                return None
            content, content_type, etag, updated_us = row
            return Document(key, bytes(content), content_type, etag, updated_us)

        return await self._db.read(job)

    async def list_documents(self, scope: DocumentScope, since_us: int | None) -> DocumentIds:
        """Ids of the documents in `scope` changed after `since_us`, sorted."""
        where, params = _scope_where(scope)
        if since_us is not None:
            where += " AND updated_us > ?"
            params.append(since_us)

        def job(conn: sqlite3.Connection) -> DocumentIds:
            rows = conn.execute(
                f"SELECT doc_id, updated_us FROM documents WHERE {where} ORDER BY doc_id", params
            ).fetchall()
            # a State id may repeat across registrations when none is named: list it once
            ids = list(dict.fromkeys(doc_id for doc_id, _ in rows))
            return DocumentIds(ids=ids, last_updated_us=max((u for _, u in rows), default=None))

        return await self._db.read(job)

    async def write_document(self, document: Document, *, replacing: str | None) -> bool:
        """Store the document only if the current etag is `replacing` (None: only if absent)."""
        key = document.key

        def job(conn: sqlite3.Connection) -> bool:
            if _current_etag(conn, key) != replacing:
                return False
            values = (document.content, document.content_type, document.etag, document.updated_us)
            if replacing is None:
                conn.execute(
                    "INSERT INTO documents (kind, activity_id, agent, registration, doc_id, "
                    "content, content_type, etag, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*_key_params(key), *values),
                )
            else:
                conn.execute(
                    "UPDATE documents SET content = ?, content_type = ?, etag = ?, updated_us = ? "
                    f"WHERE {_KEY}",
                    (*values, *_key_params(key)),
                )
            return True

        return await self._db.write(job)

    async def delete_document(self, key: DocumentKey, *, etag: str | None = None) -> bool:
        """Delete the document only if its etag is `etag` (None: whatever it is)."""
        where, params = _KEY, list(_key_params(key))
        if etag is not None:
            where += " AND etag = ?"
            params.append(etag)

        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute(f"DELETE FROM documents WHERE {where}", params).rowcount > 0

        return await self._db.write(job)

    async def delete_documents(self, scope: DocumentScope) -> int:
        """Delete every document in `scope`; how many there were."""
        where, params = _scope_where(scope)

        def job(conn: sqlite3.Connection) -> int:
            return conn.execute(f"DELETE FROM documents WHERE {where}", params).rowcount

        return await self._db.write(job)

    async def delete_agent_documents(self, agents: Sequence[str]) -> int:
        """Delete the documents about any of `agents`, with secure_delete (no copy left in free
        pages of the file)."""
        wanted = list(dict.fromkeys(agents))

        def job(conn: sqlite3.Connection) -> int:
            with secure_delete(conn):
                return sum(
                    conn.execute(
                        f"DELETE FROM documents WHERE agent IN ({marks(len(chunk))})", chunk
                    ).rowcount
                    for chunk in chunks(wanted)
                )

        return await self._db.write(job) if wanted else 0
