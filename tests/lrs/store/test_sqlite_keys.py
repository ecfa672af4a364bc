"""SQLite filter keys: the packed form, and databases of the earlier text-key layout."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import orjson
import pytest

from lrs.model.statements import (
    INDEX_KINDS,
    KIND_BIT,
    StatementFilter,
    StatementIndex,
    StatementRecord,
)
from lrs.store.sqlite import SQLiteBackend
from lrs.store.sqlite_keys import pack, remember, unpack

# The layout the store used before filter keys got integer ids (copied from its schema then).
TEXT_KEY_SCHEMA = """
CREATE TABLE statements (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    stored_us INTEGER NOT NULL,
    voided INTEGER NOT NULL DEFAULT 0,
    voids TEXT,
    ref TEXT,
    keys BLOB NOT NULL
);
CREATE INDEX statements_stored ON statements(stored_us, seq);
CREATE INDEX statements_voids ON statements(voids) WHERE voids IS NOT NULL;
CREATE TABLE statement_keys (
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kinds INTEGER NOT NULL,
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TABLE statements_awaiting (seq INTEGER PRIMARY KEY);
"""

ALICE = "mbox:mailto:alice@example.com"
BOB = "mbox:mailto:bob@example.com"
ADMIN = "account:http://lrs.example\nadmin"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
COURSE = "http://example.com/course"
S1 = "00000000-0000-4000-8000-000000000001"
S2 = "00000000-0000-4000-8000-000000000002"
S3 = "00000000-0000-4000-8000-000000000003"


def index(**keys: tuple[str, ...]) -> StatementIndex:
    return StatementIndex.of(**keys)


OLD = [
    # seq, id, ref, voids, voided, index (StatementRef inheritance already merged, as stored)
    (1, S1, None, None, 0, index(agents=(ALICE,), related_agents=(ALICE, ADMIN),
                                  verbs=(PASSED,), activities=(COURSE,),
                                  related_activities=(COURSE,), authorities=(ADMIN,))),
    (2, S2, S1, None, 0, index(agents=(BOB, ALICE), related_agents=(BOB, ADMIN, ALICE),
                                verbs=("http://adlnet.gov/expapi/verbs/commented", PASSED),
                                activities=(COURSE,), related_activities=(COURSE,),
                                authorities=(ADMIN,))),
    (3, S3, None, "ffffffff-0000-4000-8000-000000000009", 0,
     index(agents=(BOB,), related_agents=(BOB, ADMIN), verbs=(VOIDED,), authorities=(ADMIN,))),
]  # fmt: skip


def old_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(TEXT_KEY_SCHEMA)
    for seq, sid, ref, voids, voided, keys in OLD:
        packed = orjson.dumps({k: v for k in INDEX_KINDS if (v := getattr(keys, k))})
        raw = orjson.dumps({"id": sid, "seq": seq})
        conn.execute(
            "INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, sid, raw, 1_000_000 * seq, voided, voids, ref, packed),
        )
        kinds: dict[str, int] = {}
        for kind, key in keys.items():
            kinds[key] = kinds.get(key, 0) | KIND_BIT[kind]
        conn.executemany(
            "INSERT INTO statement_keys VALUES (?, ?, ?)",
            [(key, seq, bits) for key, bits in kinds.items()],
        )
    conn.commit()
    conn.close()


def test_pack_round_trips_ids_and_kinds() -> None:
    pairs = [(1, 0b1), (2**40, 0b1111111), (12345, 0b1010)]
    assert unpack(pack(pairs)) == pairs
    assert unpack(pack([])) == []


async def test_a_text_key_database_is_migrated_on_open(tmp_path: Path) -> None:
    old_database(tmp_path / "lrs.sqlite3")
    backend = SQLiteBackend(tmp_path)
    try:
        store = backend.statements

        async def ids(**query: object) -> list[str]:
            page = await store.query_statements(StatementFilter(ascending=True, **query))
            return [orjson.loads(raw)["id"] for raw in page.statements]

        assert await ids(agent=ALICE) == [S1, S2]  # S2 inherited ALICE from its target
        assert await ids(agent=BOB) == [S2, S3]
        assert await ids(agent=ADMIN) == []  # the authority is a related agent only
        assert await ids(agent=ADMIN, related_agents=True) == [S1, S2, S3]
        assert await ids(verb=PASSED) == [S1, S2]
        assert await ids(verb=VOIDED, agent=BOB) == [S3]
        assert await ids(activity=COURSE, verb=PASSED) == [S1, S2]
        assert await ids(authority=ADMIN) == [S1, S2, S3]
        assert await ids(agent="mbox:mailto:nobody@example.com") == []
        found = await store.get_statements([S1, S2, S3])
        for _seq, sid, _ref, _voids, _voided, keys in OLD:
            for kind in INDEX_KINDS:  # the order of keys within a kind means nothing
                assert set(getattr(found[sid].index, kind)) == set(getattr(keys, kind)), kind
    finally:
        await backend.close()
    conn = sqlite3.connect(tmp_path / "lrs.sqlite3")
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        assert "statement_keys" not in tables
        assert conn.execute("SELECT count(*) FROM filter_keys").fetchone()[0] == 7
    finally:
        conn.close()
    # opening it again changes nothing
    backend = SQLiteBackend(tmp_path)
    try:
        page = await backend.statements.query_statements(StatementFilter(verb=PASSED))
        assert len(page.statements) == 2
    finally:
        await backend.close()


def test_the_key_cache_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr("lrs.store.sqlite_keys.KEY_CACHE_ENTRIES", 10)
    cache: dict[str, int] = {}
    for n in range(100):
        remember(cache, {f"key {n}": n})
        assert len(cache) <= 10
    assert cache["key 99"] == 99  # the newest is always kept


async def test_queries_see_postings_before_and_after_they_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lrs.model.statements import StatementRecord

    monkeypatch.setattr("lrs.store.sqlite_keys.MERGE_EVERY", 4)
    backend = SQLiteBackend(tmp_path)
    store = backend.statements
    try:
        for n in range(1, 11):  # one statement per call: moves after the 4th and the 8th
            agent = ALICE if n % 2 else BOB
            index = StatementIndex.of(agents=(agent,), verbs=(PASSED,), authorities=(ADMIN,))
            sid_n = f"00000000-0000-4000-8000-{n:012d}"
            raw = orjson.dumps({"id": sid_n, "n": n})
            record = StatementRecord(id=sid_n, raw=raw, stored_us=1_000_000 * n, index=index)
            assert (await store.insert_statements([record])).stored

        async def numbers(**query: object) -> list[int]:
            page = await store.query_statements(StatementFilter(ascending=True, **query))
            return [orjson.loads(raw)["n"] for raw in page.statements]

        assert await numbers(verb=PASSED) == list(range(1, 11))
        assert await numbers(agent=ALICE) == [1, 3, 5, 7, 9]
        assert await numbers(agent=BOB, verb=PASSED) == [2, 4, 6, 8, 10]
        assert await numbers(authority=ADMIN, limit=3) == [1, 2, 3]

        def counts(conn: sqlite3.Connection) -> tuple[int, int]:
            moved = conn.execute("SELECT count(DISTINCT seq) FROM statement_filters").fetchone()
            recent = conn.execute("SELECT count(DISTINCT seq) FROM recent_filters").fetchone()
            return moved[0], recent[0]

        assert await backend.engine.read(counts) == (8, 2)  # both tables answered
    finally:
        await backend.close()


def _record(n: int, index: StatementIndex) -> StatementRecord:
    sid = f"00000000-0000-4000-8000-{n:012d}"
    return StatementRecord(
        id=sid, raw=orjson.dumps({"id": sid, "n": n}), stored_us=1_000_000 * n, index=index
    )


async def _numbers(store, **query: object) -> list[int]:
    page = await store.query_statements(StatementFilter(ascending=True, **query))
    return [orjson.loads(raw)["n"] for raw in page.statements]


async def test_a_batch_mixing_cached_and_new_keys_is_stored_whole(tmp_path: Path) -> None:
    # rows are built from the writer's cache of committed key ids before the writer runs;
    # keys it does not hold get their ids in the writer (`finish_rows`)
    backend = SQLiteBackend(tmp_path)
    store = backend.statements
    try:
        first = StatementIndex.of(agents=(ALICE,), verbs=(PASSED,), authorities=(ADMIN,))
        assert (await store.insert_statements([_record(1, first)])).stored
        mixed = [
            _record(2, StatementIndex.of(agents=(ALICE,), verbs=(PASSED,), authorities=(ADMIN,))),
            _record(3, StatementIndex.of(agents=(BOB,), verbs=(PASSED,), activities=(COURSE,))),
            _record(4, StatementIndex.of(agents=(BOB, ALICE), related_agents=(ALICE,))),
        ]
        assert (await store.insert_statements(mixed)).stored
        assert await _numbers(store, agent=ALICE) == [1, 2, 4]
        assert await _numbers(store, agent=BOB) == [3, 4]
        assert await _numbers(store, verb=PASSED) == [1, 2, 3]
        assert await _numbers(store, activity=COURSE) == [3]
        found = await store.get_statements([r.id for r in mixed])
        assert [found[r.id].index for r in mixed] == [r.index for r in mixed]
    finally:
        await backend.close()


async def test_rows_built_from_a_cache_emptied_since_are_rebuilt(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path)
    store = backend.statements
    try:
        index = StatementIndex.of(agents=(ALICE,), verbs=(PASSED,))
        assert (await store.insert_statements([_record(1, index)])).stored
        # An id the file no longer holds, as a cache read just before another connection
        # changed the file would give: the writer empties its caches before the next job
        # runs, and the job must not use what was read from them.
        store._key_ids[PASSED] = 999_999
        other = sqlite3.connect(backend.engine.path)
        with other:
            other.execute("INSERT INTO credentials VALUES ('k', 'n', 's', 'h', 'c', 0)")
        other.close()
        assert (await store.insert_statements([_record(2, index)])).stored
        assert await _numbers(store, verb=PASSED) == [1, 2]
        assert (await store.get_statements([_record(2, index).id]))[_record(2, index).id].index == (
            index
        )
    finally:
        await backend.close()


def test_kind_bits_give_each_key_the_bits_of_its_kinds() -> None:
    keys = {kind: (f"key of {kind}", "shared") for kind in INDEX_KINDS}
    bits = StatementIndex.of(**keys).kind_bits
    for kind in INDEX_KINDS:
        assert bits[f"key of {kind}"] == KIND_BIT[kind] == 1 << INDEX_KINDS.index(kind)
    assert bits["shared"] == (1 << len(INDEX_KINDS)) - 1
    assert list(bits) == [f"key of {INDEX_KINDS[0]}", "shared"] + [
        f"key of {kind}" for kind in INDEX_KINDS[1:]
    ]
    # the per-kind views are derived from the bits (a key keeps the place it was first added)
    index = StatementIndex.of(**keys)
    assert index.agents == keys["agents"]
    assert index.authorities == ("shared", "key of authorities")
    for kind in INDEX_KINDS:
        assert sorted(getattr(index, kind)) == sorted(keys[kind])
    assert sorted(index.items()) == sorted((k, key) for k in INDEX_KINDS for key in keys[k])
    assert StatementIndex.from_items(index.items()) == index
    # pool workers send indexes back pickled: the bits alone, not the views cached beside them
    copy = pickle.loads(pickle.dumps(index))
    assert copy == index and list(vars(copy)) == ["kind_bits"]


def test_merged_adds_the_targets_keys_but_not_its_authority() -> None:
    own = StatementIndex.of(agents=("mbox:a@x",), authorities=("me",))
    target = StatementIndex.of(
        agents=("mbox:b@x",), activities=("http://x/a",), authorities=("someone else",)
    )
    merged = own.merged(target)
    assert merged.agents == ("mbox:a@x", "mbox:b@x")
    assert merged.activities == ("http://x/a",)
    assert merged.authorities == ("me",)
    assert "someone else" not in merged.kind_bits
