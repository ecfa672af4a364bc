"""The filter keys of statements in SQLite: a key dictionary and integer postings.

Every filter of GET /statements (agent, verb, activity, registration, related_*, and the
authority of statements/read/mine) is a lookup of one key among the keys a statement answers to.
Keys are long strings (IFIs, IRIs; about 50 bytes), and a statement has about eight, so keeping
them as text in the postings made those rows and their index most of what each commit writes.
Instead each distinct key is stored once in `filter_keys` with an integer id, and
`statement_filters` holds (key_id, seq, kinds) rows of a few bytes: about six times less to write
per statement, and a key first seen gets the highest id, so its postings are appended at the
right edge of the index rather than inserted all over it.

`kinds` bits say under which filters a key counts (an agent that is both `agents` and
`related_agents` is one row). The statement row keeps its own (key_id, kinds) pairs packed
(`pack`), from which its StatementIndex is rebuilt when a StatementRef target or an authority
check needs it.

Key ids are assigned by the single writer (`key_ids`, inside the writer's transaction), so they
need no lock; readers resolve keys to ids with the same table. The rows of an insert are built
before the writer runs it, from the writer's cache of committed ids (`build_rows`), and the
writer completes them (`finish_rows`). New postings go first to the small `recent_filters` and
move to `statement_filters` in bulk (`add_postings`).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from lrs.model.statements import INDEX_KINDS, StatementIndex, StatementRecord
from lrs.store.engine.sqlite import remember_bounded
from lrs.store.engine.sqlite_bulk import chunks, insert_flat, insert_rows, marks

KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS filter_keys (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS statement_filters (
    key_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kinds INTEGER NOT NULL,
    PRIMARY KEY (key_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recent_filters (
    key_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kinds INTEGER NOT NULL,
    PRIMARY KEY (key_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS filters_merged (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO filters_merged (one, seq) VALUES (1, 0);
"""
INSERT_FILTERS = "INSERT INTO statement_filters (key_id, seq, kinds)"
# Statements whose postings wait in `recent_filters` before one bulk move (see `add_postings`).
MERGE_EVERY = 5000
# A filter of GET /statements: the statements posted under a key id with one of the kind bits,
# in either table (parameters: key_id, bits, key_id, bits).
POSTED_UNDER = (
    "s.seq IN (SELECT seq FROM statement_filters WHERE key_id = ? AND kinds & ? != 0 "
    "UNION ALL SELECT seq FROM recent_filters WHERE key_id = ? AND kinds & ? != 0)"
)

# The kind bits (`KIND_BIT`) go in the low bits of each packed pair.
_KIND_BITS = len(INDEX_KINDS)
_KIND_MASK = (1 << _KIND_BITS) - 1
# Ids of keys seen recently, so most statements need no dictionary lookup (~150 bytes each).
KEY_CACHE_ENTRIES = 200_000


def known_key_ids(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, int]:
    """The ids of those keys the dictionary holds (a reader's lookup)."""
    found: dict[str, int] = {}
    for chunk in chunks(keys):
        # one row in all (a JSON array), not one per key: see `insert_rows` on why few steps
        (pairs,) = conn.execute(
            "SELECT json_group_array(json_array(key, id)) FROM filter_keys "
            f"WHERE key IN ({marks(len(chunk))})",
            chunk,
        ).fetchone()
        found.update(orjson.loads(pairs))
    return found


def key_ids(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, int]:
    """The id of every key, adding those not seen before (writer only, inside its transaction).

    The caller may cache them once this transaction is durable (`remember`).
    """
    wanted = list(dict.fromkeys(keys))
    ids = known_key_ids(conn, wanted)
    new = [key for key in wanted if key not in ids]
    if new:
        (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM filter_keys").fetchone()
        rows = [(top + number, key) for number, key in enumerate(new, start=1)]
        insert_rows(conn, "INSERT INTO filter_keys (id, key)", rows)
        ids.update((key, key_id) for key_id, key in rows)
    return ids


def remember(cache: dict[str, int], learned: Mapping[str, int]) -> None:
    """Add committed key ids to a writer cache, bounded to KEY_CACHE_ENTRIES."""
    remember_bounded(cache, learned, KEY_CACHE_ENTRIES)


# Postings from (packed pair, statement number) rows: the first parameter is the seq of the
# statement numbered 0.
INSERT_RECENT_PAIRS = (
    "INSERT INTO recent_filters (key_id, seq, kinds) "
    f"SELECT column1 >> {_KIND_BITS}, ? + column2, column1 & {_KIND_MASK} FROM (VALUES {{rows}})"
)


def add_postings(
    conn: sqlite3.Connection, pairs: Sequence[int], numbers: Sequence[int], first_seq: int
) -> None:
    """Insert the postings of statements stored from `first_seq` on: the packed (key_id, kinds)
    `pairs` (see `pack`), each of the statement numbered alike in `numbers` (0 for first_seq).
    They go to the small `recent_filters` and move to `statement_filters` in bulk.

    Why two tables: postings of a key seen before go to the end of that key's range, a page of
    its own in a large index, so each commit dirtied (and wrote to the WAL) one page per
    distinct key. The recent table is small enough that its pages are few and hot; every
    MERGE_EVERY statements its postings move in key order, each key's page of the large index
    touched once for all of them. Queries read both (`POSTED_UNDER`).
    Why pairs and numbers, not rows of three: fewer parameters for the writer to bind.
    """
    if not pairs:
        return
    values: list[int] = [0] * (2 * len(pairs))
    values[0::2] = pairs
    values[1::2] = numbers
    insert_flat(conn, INSERT_RECENT_PAIRS, values, 2, lead=(first_seq,))
    top = first_seq + max(numbers)
    (merged,) = conn.execute("SELECT seq FROM filters_merged").fetchone()
    if top - merged >= MERGE_EVERY:
        conn.execute(
            "INSERT INTO statement_filters (key_id, seq, kinds) "
            "SELECT key_id, seq, kinds FROM recent_filters"
        )
        conn.execute("DELETE FROM recent_filters")
        conn.execute("UPDATE filters_merged SET seq = ?", (top,))


def pack(pairs: Iterable[tuple[int, int]]) -> bytes:
    """(key_id, kinds) pairs as the bytes the statement row keeps (8 bytes a key)."""
    return array("q", [key_id << _KIND_BITS | kinds for key_id, kinds in pairs]).tobytes()


def unpack(packed: bytes) -> list[tuple[int, int]]:
    """The (key_id, kinds) pairs of `pack`."""
    values = array("q")
    values.frombytes(packed)
    return [(value >> _KIND_BITS, value & _KIND_MASK) for value in values]


# Values per statement row in `StatementRows.rows`, in INSERT_STATEMENT's column order; seq first.
ROW_WIDTH = 7
_PACKED = ROW_WIDTH - 1


@dataclass
class StatementRows:
    """The `statements` and postings rows of one insert, built before the writer runs it.

    Why: the writer thread is the one stage every statement passes through in turn, so what
    needs no transaction is done beforehand, on the caller's thread (`build_rows`): each key is
    mapped to its id through the writer's cache of committed ids, the packed keys of each
    statement and the flat parameter lists are built. The writer (`finish_rows`) then only
    assigns ids to keys the cache did not hold, fills in the seqs and packs what waited for new
    ids. `rows` holds ROW_WIDTH values per statement, seq 0 and the packed keys None until
    `finish_rows`; `pairs` the packed (key_id, kinds) of every posting (see `pack`), key id 0
    where unresolved, and `numbers` the number of each posting's statement in the batch.
    """

    count: int
    rows: list[Any]
    pairs: list[int]
    numbers: list[int]
    # key -> positions in `pairs` of its postings, for keys the cache did not hold
    unresolved: dict[str, list[int]]
    # statements whose packed keys wait for new ids: (number, its pairs' start and end)
    waiting: list[tuple[int, int, int]]
    # the cache epoch (`SQLiteDatabase.cache_epoch`) the ids were read in
    epoch: int


def build_rows(
    records: Sequence[StatementRecord], cached: Mapping[str, int], epoch: int
) -> StatementRows:
    """Everything of `records`' rows that needs no transaction (see `StatementRows`)."""
    rows: list[Any] = []
    pairs: list[int] = []
    numbers: list[int] = []
    unresolved: dict[str, list[int]] = {}
    waiting = []
    get = cached.get
    for number, record in enumerate(records):
        keyed = record.index.kind_bits
        ids = list(map(get, keyed))
        start = len(pairs)
        if None in ids:
            for offset, (key, key_id, kinds) in enumerate(
                zip(keyed, ids, keyed.values(), strict=True)
            ):
                if key_id is None:
                    unresolved.setdefault(key, []).append(start + offset)
                    pairs.append(kinds)
                else:
                    pairs.append(key_id << _KIND_BITS | kinds)
            waiting.append((number, start, len(pairs)))
            packed = None
        else:
            own = [
                key_id << _KIND_BITS | kinds
                for key_id, kinds in zip(cast(list[int], ids), keyed.values(), strict=True)
            ]
            pairs += own
            packed = array("q", own).tobytes()
        numbers += [number] * len(keyed)
        rows += (0, record.id, record.raw, record.stored_us, record.voids, record.ref, packed)
    return StatementRows(len(records), rows, pairs, numbers, unresolved, waiting, epoch)


def finish_rows(conn: sqlite3.Connection, built: StatementRows, top: int) -> dict[str, int]:
    """In the writer's transaction: complete `built` for statements stored after seq `top`;
    return the key ids learned (to `remember` once committed, see `key_ids`)."""
    learned: dict[str, int] = {}
    if built.unresolved:
        ids = learned = key_ids(conn, built.unresolved)
        pairs = built.pairs
        for key, positions in built.unresolved.items():
            shifted = ids[key] << _KIND_BITS
            for position in positions:
                pairs[position] |= shifted
        for number, start, end in built.waiting:
            built.rows[number * ROW_WIDTH + _PACKED] = array("q", pairs[start:end]).tobytes()
    built.rows[0::ROW_WIDTH] = range(top + 1, top + 1 + built.count)
    return learned


def indexes_of(conn: sqlite3.Connection, packed: Sequence[bytes]) -> list[StatementIndex]:
    """Rebuild the StatementIndex of each packed statement row."""
    unpacked = [unpack(p) for p in packed]
    wanted = list({key_id for pairs in unpacked for key_id, _bits in pairs})
    names: dict[int, str] = {}
    for chunk in chunks(wanted):
        names.update(
            conn.execute(
                f"SELECT id, key FROM filter_keys WHERE id IN ({marks(len(chunk))})", chunk
            )
        )
    return [StatementIndex({names[key_id]: bits for key_id, bits in pairs}) for pairs in unpacked]


def migrate_text_keys(conn: sqlite3.Connection) -> None:
    """Move a database of the earlier layout (text keys) to this one, in one transaction.

    That layout kept each statement's keys as JSON in `statements.keys` and its postings as
    (key TEXT, seq, kinds) rows in `statement_keys`. Both are rebuilt from the JSON, which held
    every key, StatementRef inheritance included.
    """
    old = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'statement_keys'"
    ).fetchone()
    if old is None:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        last = 0
        while True:
            batch = conn.execute(
                "SELECT seq, keys FROM statements WHERE seq > ? ORDER BY seq LIMIT 1000", (last,)
            ).fetchall()
            if not batch:
                break
            keyed = [(seq, _json_index(json_keys).kind_bits) for seq, json_keys in batch]
            ids = key_ids(conn, (key for _seq, kinds in keyed for key in kinds))
            updates = []
            filters: list[tuple[int, int, int]] = []
            for seq, kinds in keyed:
                pairs = [(ids[key], bits) for key, bits in kinds.items()]
                updates.append((pack(pairs), seq))
                filters.extend((key_id, seq, bits) for key_id, bits in pairs)
            conn.executemany("UPDATE statements SET keys = ? WHERE seq = ?", updates)
            insert_rows(conn, INSERT_FILTERS, filters)
            last = batch[-1][0]
        conn.execute("DROP TABLE statement_keys")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _json_index(json_keys: bytes) -> StatementIndex:
    return StatementIndex.of(**orjson.loads(json_keys))
