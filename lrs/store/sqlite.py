"""SQLite implementations of the xAPI core stores: statements and credentials.

Statements are one row each: the JSON kept as the bytes clients get back, and the statement's
filter keys packed beside it. Every filter of GET /statements is an index range on
`statement_filters`, never a scan of the statements; `lrs.store.sqlite_keys` says how keys are
kept (a dictionary of integer ids), which is what bounds ingest speed: see
docs/performance.md. `seq` is the insertion order (the projection worker's commit-order
cursor). Queries order by (stored_us, seq): the same as `seq` for statements this process
stores, and still right for imported statements that keep their original `stored`. Pages are
keyset ranges on that pair; `lrs.store.sqlite_query` says how each query walks an index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from lrs.errors import Conflict
from lrs.model.attachments import Attachment
from lrs.model.credentials import Credential
from lrs.model.erasure import ErasedPage, StatementRewrite
from lrs.model.statements import (
    AwaitingPage,
    DefinitionMerge,
    DefinitionUpdate,
    InsertOutcome,
    StatementFilter,
    StatementIndex,
    StatementPage,
    StatementRecord,
    StoredStatement,
    definition_json,
)
from lrs.store.engine.sqlite import SQLiteDatabase, WriteJob, remember_bounded
from lrs.store.engine.sqlite_bulk import chunks, insert_flat, insert_rows, marks
from lrs.store.sqlite_documents import DOCUMENTS_SCHEMA, SQLiteDocumentStore
from lrs.store.sqlite_erasure import erase_agent_page
from lrs.store.sqlite_keys import (
    KEYS_SCHEMA,
    ROW_WIDTH,
    StatementRows,
    add_postings,
    build_rows,
    finish_rows,
    indexes_of,
    migrate_text_keys,
    remember,
)
from lrs.store.sqlite_query import (
    UNORDERED_SCHEMA,
    migrate_unordered,
    note_unordered,
    position,
    query_page,
    statement_page,
)
from lrs.xapi.voiding import voided_ids

STATEMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS statements (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    stored_us INTEGER NOT NULL,
    voided INTEGER NOT NULL DEFAULT 0,
    voids TEXT,
    ref TEXT,
    keys BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS statements_stored ON statements(stored_us, seq);
CREATE INDEX IF NOT EXISTS statements_voids ON statements(voids) WHERE voids IS NOT NULL;
CREATE TABLE IF NOT EXISTS statements_awaiting (
    seq INTEGER PRIMARY KEY
);
"""

CREDENTIALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

ATTACHMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS attachments (
    sha2 TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL
);
"""

ACTIVITIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY,
    definition BLOB NOT NULL
);
"""

INSERT_STATEMENT = "INSERT INTO statements (seq, id, raw, stored_us, voids, ref, keys)"
_STORED = 3  # stored_us's place in INSERT_STATEMENT's columns (`StatementRows.rows`)


class SQLiteStatementStore:
    """Statements in SQLite; see the module docstring for the layout."""

    def __init__(self, db: SQLiteDatabase, activities: SQLiteActivityStore) -> None:
        self._db = db
        self._activities = activities
        self._key_ids: dict[str, int] = db.writer_cache()

    async def insert_statements(
        self, records: Sequence[StatementRecord], definitions: DefinitionUpdate | None = None
    ) -> InsertOutcome:
        """Store all records in one savepoint of the current group commit, or none, with the
        activity definitions they change (one commit for both: see `SQLiteActivityStore`)."""
        changes = self._activities.changes(definitions) if definitions else None
        built = build_rows(records, self._key_ids, self._db.cache_epoch)
        return await self._db.write(self._insert_job(records, built, changes))

    def _insert_job(
        self,
        records: Sequence[StatementRecord],
        built: StatementRows,
        changes: DefinitionUpdate | None,
    ) -> WriteJob:
        def job(conn: sqlite3.Connection) -> InsertOutcome:
            rows = built
            if rows.epoch != self._db.cache_epoch:  # ids read from a cache since emptied
                rows = build_rows(records, self._key_ids, self._db.cache_epoch)
            outcome, learned = _insert(conn, records, rows)
            if learned:
                self._db.after_commit(lambda: remember(self._key_ids, learned))
            if outcome.stored and changes is not None:
                self._activities.merge_in(conn, changes)
            return outcome

        return job

    async def get_statements(self, ids: Sequence[str]) -> dict[str, StoredStatement]:
        """The stored statements among `ids`."""
        return await self._db.read(lambda conn: _fetch(conn, ids))

    async def query_statements(self, query: StatementFilter) -> StatementPage:
        """One page of non-voided statements matching the filter."""
        return await self._db.read(lambda conn: query_page(conn, query))

    async def last_stored_us(self) -> int | None:
        """Stored time of the newest statement."""

        def job(conn: sqlite3.Connection) -> int | None:
            row = conn.execute("SELECT max(stored_us) FROM statements").fetchone()
            return row[0]

        return await self._db.read(job)

    async def stored_counts(self, since_us: int, bucket_us: int, buckets: int) -> list[int]:
        """One count per period on the stored-time index, in one read (a range count each:
        several times faster than one GROUP BY over the window, which sorts in a temp b-tree)."""
        sql = "SELECT count(*) FROM statements WHERE stored_us >= ? AND stored_us < ?"
        starts = [since_us + n * bucket_us for n in range(buckets)]

        def job(conn: sqlite3.Connection) -> list[int]:
            return [conn.execute(sql, (s, s + bucket_us)).fetchone()[0] for s in starts]

        return await self._db.read(job)

    async def awaiting_projection(self, limit: int, after: str | None = None) -> AwaitingPage:
        """Statements awaiting projection in commit order (`seq`); positions are seqs."""

        def job(conn: sqlite3.Connection) -> AwaitingPage:
            # the statements' columns in the join itself, by seq (the rowid): looking each
            # statement up again by its id cost about seven times this query
            rows = conn.execute(
                "SELECT a.seq, s.id, s.raw, s.stored_us, s.voided, s.voids "
                "FROM statements_awaiting a JOIN statements s ON s.seq = a.seq "
                "WHERE a.seq > ? ORDER BY a.seq LIMIT ?",
                (int(after or 0), limit + 1),
            ).fetchall()
            page = rows[:limit]
            return AwaitingPage(
                statements=[  # without their index (see the base class)
                    StoredStatement(sid, bytes(raw), stored_us, bool(voided), _NO_INDEX, voids)
                    for _seq, sid, raw, stored_us, voided, voids in page
                ],
                next_position=str(page[-1][0]) if len(rows) > limit else None,
            )

        return await self._db.read(job)

    async def mark_projected(self, ids: Sequence[str]) -> None:
        """Delete the awaiting marks of these statements."""

        def job(conn: sqlite3.Connection) -> None:
            for chunk in chunks(list(dict.fromkeys(ids))):
                conn.execute(
                    "DELETE FROM statements_awaiting WHERE seq IN "
                    f"(SELECT seq FROM statements WHERE id IN ({marks(len(chunk))}))",
                    chunk,
                )

        if ids:
            await self._db.write(job)

    async def count_awaiting_projection(self) -> int:
        """How many statements await projection."""
        return await self._db.read(
            lambda conn: conn.execute("SELECT count(*) FROM statements_awaiting").fetchone()[0]
        )

    async def export_statements(
        self,
        after: str | None,
        limit: int,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> StatementPage:
        """Every statement, voided or not, in (stored_us, seq) order, one page."""
        return await self._db.read(lambda conn: _export(conn, after, limit, since_us, until_us))

    async def erase_agent_page(
        self,
        keys: Sequence[str],
        rewrite: StatementRewrite,
        *,
        replacement: str | None,
        delete: bool,
        limit: int,
    ) -> ErasedPage:
        """One page of erasure in the writer (`lrs.store.sqlite_erasure`)."""
        return await erase_agent_page(
            self._db, keys, rewrite, replacement=replacement, delete=delete, limit=limit
        )

    async def settle_erasure(self) -> None:
        """Checkpoint the WAL into the file and truncate it."""
        await self._db.checkpoint_truncate()


def _insert(
    conn: sqlite3.Connection, records: Sequence[StatementRecord], built: StatementRows
) -> tuple[InsertOutcome, dict[str, int]]:
    ids = [r.id for r in records]
    existing = _fetch(conn, ids)
    if existing:
        return InsertOutcome(stored=False, existing=existing), {}
    top, learned = write_statement_rows(conn, built)
    # awaiting projection from the same commit on (see `awaiting_projection`)
    conn.execute(
        "INSERT INTO statements_awaiting (seq) SELECT seq FROM statements WHERE seq > ?", (top,)
    )
    _apply_voiding(conn, records)
    return InsertOutcome(stored=True), learned


def _apply_voiding(conn: sqlite3.Connection, records: Sequence[StatementRecord]) -> None:
    """Set the `voided` flags the batch just stored calls for (`lrs.xapi.voiding.voided_ids`).

    Read and decided here, in the writer's transaction, because the answer depends on what is
    stored at this instant (see `lrs.xapi.voiding`); in the usual batch, with no voiding
    statement and none waiting for it, this is one indexed read per chunk of ids.
    """
    targeted = [r.voids for r in records if r.voids]
    for chunk in chunks([r.id for r in records]):
        # xAPI 1.0.3 Part 2 §2.3.2: a statement voided before it arrived is stored voided.
        sql = f"SELECT voids FROM statements WHERE voids IN ({marks(len(chunk))})"
        targeted.extend(target for (target,) in conn.execute(sql, chunk))
    if not targeted:
        return
    voids_of = {r.id: r.voids for r in records}
    voids_of.update(_voids_of(conn, [t for t in dict.fromkeys(targeted) if t not in voids_of]))
    for chunk in chunks(voided_ids(targeted, voids_of)):
        conn.execute(f"UPDATE statements SET voided = 1 WHERE id IN ({marks(len(chunk))})", chunk)


def _voids_of(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str | None]:
    """The stored statements among `ids`, each with the id it voids (None: voids nothing)."""
    found: dict[str, str | None] = {}
    for chunk in chunks(ids):
        sql = f"SELECT id, voids FROM statements WHERE id IN ({marks(len(chunk))})"
        found.update(conn.execute(sql, chunk))
    return found


def write_statement_rows(
    conn: sqlite3.Connection, built: StatementRows
) -> tuple[int, dict[str, int]]:
    """Insert the statement and filter rows `build_rows` made after the last seq; return that
    seq and the key ids to `remember` once committed.

    The whole SQL of storing statements, without the checks around it (the benchmark's floor
    runs exactly this, after `build_rows`).
    """
    (top,) = conn.execute("SELECT coalesce(max(seq), 0) FROM statements").fetchone()
    learned = finish_rows(conn, built, top)
    note_unordered(conn, built.rows[_STORED::ROW_WIDTH], top + 1)
    insert_flat(conn, INSERT_STATEMENT, built.rows, ROW_WIDTH)
    add_postings(conn, built.pairs, built.numbers, top + 1)
    return top, learned


_NO_INDEX = StatementIndex()


def _fetch(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, StoredStatement]:
    rows = []
    for chunk in chunks(list(dict.fromkeys(ids))):
        rows.extend(
            conn.execute(
                "SELECT id, raw, stored_us, voided, voids, keys FROM statements "
                f"WHERE id IN ({marks(len(chunk))})",
                chunk,
            ).fetchall()
        )
    indexes = indexes_of(conn, [packed for *_rest, packed in rows])
    return {
        sid: StoredStatement(
            id=sid,
            raw=bytes(raw),
            stored_us=stored_us,
            voided=bool(voided),
            index=index,
            voids=voids,
        )
        for (sid, raw, stored_us, voided, voids, _packed), index in zip(rows, indexes, strict=True)
    }


def _export(
    conn: sqlite3.Connection,
    after: str | None,
    limit: int,
    since_us: int | None,
    until_us: int | None,
) -> StatementPage:
    where = ["1 = 1"]
    params: list[object] = []
    if since_us is not None:
        where.append("stored_us > ?")
        params.append(since_us)
    if until_us is not None:
        where.append("stored_us <= ?")
        params.append(until_us)
    if after is not None:
        where.append("(stored_us, seq) > (?, ?)")
        params.extend(position(after))
    params.append(limit + 1)
    rows = conn.execute(
        f"SELECT stored_us, seq, raw FROM statements WHERE {' AND '.join(where)} "
        "ORDER BY stored_us, seq LIMIT ?",
        params,
    ).fetchall()
    return statement_page(rows, limit)


class SQLiteCredentialStore:
    """API credentials in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def add_credential(self, credential: Credential) -> None:
        """Store a new credential."""

        def job(conn: sqlite3.Connection) -> None:
            taken = conn.execute("SELECT 1 FROM credentials WHERE key = ?", (credential.key,))
            if taken.fetchone():
                raise Conflict(f"a credential with key {credential.key} exists")
            conn.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?)",
                (
                    credential.key,
                    credential.name,
                    " ".join(credential.scopes),
                    credential.secret_hash,
                    credential.created_at,
                    int(credential.revoked),
                ),
            )

        await self._db.write(job)

    async def get_credential(self, key: str) -> Credential | None:
        """The credential with this key."""

        def job(conn: sqlite3.Connection) -> Credential | None:
            row = conn.execute("SELECT * FROM credentials WHERE key = ?", (key,)).fetchone()
            return _credential(row) if row else None

        return await self._db.read(job)

    async def list_credentials(self) -> list[Credential]:
        """Every credential, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Credential]:
            rows = conn.execute("SELECT * FROM credentials ORDER BY created_at, key").fetchall()
            return [_credential(row) for row in rows]

        return await self._db.read(job)

    async def revoke_credential(self, key: str) -> bool:
        """Mark the credential revoked."""

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE credentials SET revoked = 1 WHERE key = ?", (key,))
            return cur.rowcount > 0

        return await self._db.write(job)


def _credential(row: tuple) -> Credential:
    key, name, scopes, secret_hash, created_at, revoked = row
    return Credential(
        key=key,
        name=name,
        scopes=tuple(scopes.split()),
        secret_hash=secret_hash,
        created_at=created_at,
        revoked=bool(revoked),
    )


class SQLiteAttachmentStore:
    """Attachment content in SQLite, one row per hash."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def put_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Store the attachments whose hashes are new."""
        rows = [(a.sha2, a.content_type, a.content) for a in attachments]

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR IGNORE INTO attachments VALUES (?, ?, ?)", rows)

        if rows:
            await self._db.write(job)

    async def get_attachments(self, hashes: Sequence[str]) -> dict[str, Attachment]:
        """The stored attachments among `hashes`."""

        def job(conn: sqlite3.Connection) -> dict[str, Attachment]:
            found: dict[str, Attachment] = {}
            for chunk in chunks(list(dict.fromkeys(hashes))):
                for sha2, content_type, content in conn.execute(
                    f"SELECT sha2, content_type, content FROM attachments "
                    f"WHERE sha2 IN ({marks(len(chunk))})",
                    chunk,
                ):
                    found[sha2] = Attachment(sha2, content_type, bytes(content))
            return found

        return await self._db.read(job) if hashes else {}


class SQLiteActivityStore:
    """Canonical activity definitions in SQLite; merges run in the writer, so they serialise.

    Most statements repeat definitions the LRS already holds, so the store keeps the
    definitions it has committed in a writer cache (see `lrs.store.engine.sqlite`): only the
    definitions a merge would change against it go to the writer (`changes`), where they are
    merged into the stored ones atomically (`merge_in`). A merge that changes nothing now is
    one that happened before any later change, so leaving it out is safe. Statements bring
    their definitions through `SQLiteStatementStore.insert_statements`, in the same savepoint
    and commit as the statements themselves.
    """

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        # activity id -> its committed definition, as `definition_json`
        self._known: dict[str, bytes] = db.writer_cache()

    def changes(self, update: DefinitionUpdate) -> DefinitionUpdate | None:
        """The part of `update` that would change a committed definition, or None."""
        known = self._known
        changed = {}
        for activity_id, encoded in update.encoded.items():
            current = known.get(activity_id)
            if current == encoded:  # most statements carry the canonical definition itself
                continue
            if current is not None:
                committed = orjson.loads(current)
                if update.merge(committed, orjson.loads(encoded)) == committed:
                    continue  # merging it changes nothing
            changed[activity_id] = encoded
        return DefinitionUpdate(changed, update.merge) if changed else None

    def merge_in(self, conn: sqlite3.Connection, update: DefinitionUpdate) -> None:
        """Inside a write job: merge each definition into the stored one."""
        known = self._known
        ids = list(update.encoded)
        current = {i: orjson.loads(known[i]) for i in ids if i in known}
        current.update(_activity_rows(conn, [i for i in ids if i not in current]))
        merged = {i: update.merge(current.get(i), d) for i, d in update.definitions.items()}
        rows = [(i, orjson.dumps(m)) for i, m in merged.items() if m != current.get(i)]
        insert_rows(conn, "INSERT OR REPLACE INTO activities (id, definition)", rows)
        encoded = {i: definition_json(m) for i, m in merged.items()}
        self._db.after_commit(lambda: remember_bounded(known, encoded, DEFINITION_CACHE_ENTRIES))

    async def merge_activities(
        self, definitions: Mapping[str, dict[str, Any]], merge: DefinitionMerge
    ) -> None:
        """Merge each new definition into the stored one."""
        changes = self.changes(DefinitionUpdate.of(definitions, merge))
        if changes is not None:
            await self._db.write(lambda conn: self.merge_in(conn, changes))

    async def get_activities(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The canonical definitions among `ids`."""
        return await self._db.read(lambda conn: _activity_rows(conn, ids)) if ids else {}


# Definitions kept in the writer cache (a few hundred bytes each, most of them).
DEFINITION_CACHE_ENTRIES = 20_000


def _activity_rows(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        for activity_id, definition in conn.execute(
            f"SELECT id, definition FROM activities WHERE id IN ({marks(len(chunk))})", chunk
        ):
            found[activity_id] = orjson.loads(definition)
    return found


class SQLiteBackend:
    """The embedded default: one SQLite file in the data directory holding every store.

    Other packages build their own stores on `engine` (see `lrs.store.engine.open_store`).
    """

    SCHEMA: tuple[str, ...] = (
        STATEMENTS_SCHEMA,
        UNORDERED_SCHEMA,
        KEYS_SCHEMA,
        CREDENTIALS_SCHEMA,
        ATTACHMENTS_SCHEMA,
        ACTIVITIES_SCHEMA,
        DOCUMENTS_SCHEMA,
    )

    def __init__(self, data_dir: Path) -> None:
        self.engine = SQLiteDatabase(Path(data_dir) / "lrs.sqlite3")
        self.engine.open(self.SCHEMA, migrations=(migrate_text_keys, migrate_unordered))
        self.activities = SQLiteActivityStore(self.engine)
        self.statements = SQLiteStatementStore(self.engine, self.activities)
        self.credentials = SQLiteCredentialStore(self.engine)
        self.attachments = SQLiteAttachmentStore(self.engine)
        self.documents = SQLiteDocumentStore(self.engine)

    async def close(self) -> None:
        """Close the database."""
        await self.engine.close()
