"""How SQLite answers GET /statements: plans that walk one index and stop at the limit, the
record of statements stored out of order, and its migration."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from lrs.model.statements import StatementFilter, StatementIndex, StatementRecord
from lrs.store.sqlite import SQLiteBackend
from lrs.store.sqlite_query import query_page

T0 = 1_700_000_000_000_000
VERBS = [f"http://example.com/verbs/{n}" for n in range(4)]
COURSE = "http://example.com/course"


def record(n: int, stored_us: int | None = None) -> StatementRecord:
    """Statement `n`: one of four verbs, one of 50 agents, under one course."""
    sid = str(uuid.UUID(int=n + 1, version=4))
    agent = f"mbox:mailto:a{n % 50}@example.com"
    unit = f"{COURSE}/unit/{n % 10}"
    return StatementRecord(
        id=sid,
        raw=orjson.dumps({"id": sid, "n": n}),
        stored_us=T0 + n * 1000 if stored_us is None else stored_us,
        index=StatementIndex.of(
            agents=(agent,),
            related_agents=(agent,),
            verbs=(VERBS[n % 4],),
            activities=(unit,),
            related_activities=(unit, COURSE),
            authorities=("mbox:mailto:lrs@example.com",),
        ),
    )


async def fill(path: Path, count: int, first: int = 0) -> None:
    backend = SQLiteBackend(path)
    try:
        for start in range(first, first + count, 250):
            batch = [record(n) for n in range(start, min(start + 250, first + count))]
            await backend.statements.insert_statements(batch)
    finally:
        await backend.close()


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path / "lrs.sqlite3")
    try:
        yield conn
    finally:
        conn.close()


SHAPES = {
    "verb": StatementFilter(verb=VERBS[1]),
    "course and related": StatementFilter(activity=COURSE, related_activities=True),
    "agent, verb, since": StatementFilter(
        agent="mbox:mailto:a7@example.com", verb=VERBS[3], since_us=T0 + 100_000
    ),
    "verb until, ascending": StatementFilter(verb=VERBS[2], until_us=T0 + 900_000, ascending=True),
    "more page": StatementFilter(verb=VERBS[0], after=f"{T0 + 800_000}:801"),
}


def traced(conn: sqlite3.Connection, query: StatementFilter) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        query_page(conn, query)
    finally:
        conn.set_trace_callback(None)
    return statements


def vm_steps(conn: sqlite3.Connection, query: StatementFilter) -> int:
    """SQLite virtual-machine steps (in hundreds) spent answering `query`: its work."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 100)
    try:
        query_page(conn, query)
    finally:
        conn.set_progress_handler(None, 0)
    return steps


@pytest.mark.parametrize("shape", SHAPES)
async def test_keyed_queries_walk_an_index_without_sorting(tmp_path: Path, shape: str) -> None:
    await fill(tmp_path, 2000)
    with reader(tmp_path) as conn:
        plans = [
            row[3]
            for sql in traced(conn, SHAPES[shape])
            for row in conn.execute("EXPLAIN QUERY PLAN " + sql)
        ]
    assert plans
    assert not [p for p in plans if "TEMP B-TREE" in p], plans
    # the one scan: the first row of the out-of-order record, if any (LIMIT 1)
    scans = [p for p in plans if p.startswith("SCAN") and "subquery" not in p]
    assert scans == ["SCAN statements_unordered"], plans


async def test_the_work_of_a_page_does_not_grow_with_the_store(tmp_path: Path) -> None:
    """A full page of a common key at 8,000 statements costs what it costs at 1,000 (it read
    every posting of the key and sorted them: about eight times the work)."""
    full_pages = [name for name in SHAPES if name != "agent, verb, since"]  # < limit matches
    await fill(tmp_path, 1000)
    with reader(tmp_path) as conn:
        small = {name: vm_steps(conn, SHAPES[name]) for name in full_pages}
    await fill(tmp_path, 7000, first=1000)
    with reader(tmp_path) as conn:
        large = {name: vm_steps(conn, SHAPES[name]) for name in full_pages}
    for name in full_pages:
        assert large[name] <= 2 * small[name], (name, small, large)


async def test_statements_stored_out_of_order_are_recorded(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path)
    try:
        store = backend.statements
        await store.insert_statements([record(n) for n in range(10)])
        await store.insert_statements([record(n) for n in range(10, 12)])
        with reader(tmp_path) as conn:
            assert conn.execute("SELECT seq FROM statements_unordered").fetchall() == []
        # an import keeping older stored times, then one in order again
        await store.insert_statements([record(20, T0 + 5500), record(21, T0 + 20_000)])
        await store.insert_statements([record(22, T0 + 15_000), record(23, T0 + 30_000)])
        with reader(tmp_path) as conn:
            rows = conn.execute("SELECT seq FROM statements_unordered ORDER BY seq").fetchall()
        assert rows == [(13,), (15,)]
        page = await store.query_statements(StatementFilter(verb=VERBS[0], ascending=True))
        assert [orjson.loads(raw)["n"] for raw in page.statements] == [0, 4, 20, 8]
    finally:
        await backend.close()


async def test_a_database_from_before_the_record_is_checked_once_at_open(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path)
    try:
        await backend.statements.insert_statements([record(n) for n in range(5)])
        await backend.statements.insert_statements([record(9, T0 + 1500), record(10, T0)])
    finally:
        await backend.close()
    with reader(tmp_path) as conn:  # as the store left it before the record existed
        conn.executescript("DROP TABLE statements_unordered; DROP TABLE statements_order_checked")
    await SQLiteBackend(tmp_path).close()
    with reader(tmp_path) as conn:
        assert conn.execute("SELECT seq FROM statements_unordered").fetchall() == [(6,), (7,)]
        conn.execute("DELETE FROM statements_unordered")
        conn.commit()
    await SQLiteBackend(tmp_path).close()  # checked: not again
    with reader(tmp_path) as conn:
        assert conn.execute("SELECT seq FROM statements_unordered").fetchall() == []


@pytest.mark.parametrize("unordered_limit", [2000, 2])
async def test_many_statements_out_of_order_are_merged_by_their_postings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unordered_limit: int
) -> None:
    """Few recorded statements are each checked; many (a bulk import) are found through the
    keys' postings: the same page either way."""
    monkeypatch.setattr("lrs.store.sqlite_query.SELECTIVE_COUNT", unordered_limit)
    await fill(tmp_path, 40)
    backend = SQLiteBackend(tmp_path)
    try:
        store = backend.statements
        # imported: stored between the others (n = 100..111 at T0 + 0.5 ms + 3 ms steps)
        await store.insert_statements(
            [record(n, T0 + 500 + (n - 100) * 3000) for n in range(100, 112)]
        )
        for ascending in (False, True):
            query = StatementFilter(verb=VERBS[0], since_us=T0 + 2000, limit=5, ascending=ascending)
            pages, after = [], None
            while True:
                page = await store.query_statements(replace(query, after=after))
                pages.append([orjson.loads(raw)["n"] for raw in page.statements])
                if page.next_position is None:
                    break
                after = page.next_position
            stored = {n: T0 + n * 1000 for n in range(40) if n % 4 == 0}
            stored |= {n: T0 + 500 + (n - 100) * 3000 for n in range(100, 112) if n % 4 == 0}
            expected = sorted((us, n) for n, us in stored.items() if us > T0 + 2000)
            flat = [n for page in pages for n in page]
            assert flat == [n for _us, n in (expected if ascending else expected[::-1])]
    finally:
        await backend.close()


async def every_number(store: object, query: StatementFilter) -> list[int]:
    numbers: list[int] = []
    after = None
    while True:
        page = await store.query_statements(replace(query, after=after))  # type: ignore[attr-defined]
        numbers += [orjson.loads(raw)["n"] for raw in page.statements]
        if page.next_position is None:
            return numbers
        after = page.next_position


@pytest.mark.parametrize("limit", [1, 8, 30, 200])
async def test_pages_span_the_recent_and_the_merged_postings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Postings move from `recent_filters` to `statement_filters` in bulk; a page walks both."""
    monkeypatch.setattr("lrs.store.sqlite_keys.MERGE_EVERY", 40)
    backend = SQLiteBackend(tmp_path)
    try:
        store = backend.statements
        for start in range(0, 300, 7):
            await store.insert_statements([record(n) for n in range(start, min(start + 7, 300))])
        with reader(tmp_path) as conn:  # both tables hold postings of the verb
            for table in ("recent_filters", "statement_filters"):
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
        cases = {
            StatementFilter(verb=VERBS[2], limit=limit): [n for n in range(300) if n % 4 == 2],
            StatementFilter(verb=VERBS[1], agent="mbox:mailto:a7@example.com", limit=limit): [
                n for n in range(300) if n % 4 == 1 and n % 50 == 7
            ],
            StatementFilter(verb=VERBS[3], since_us=T0 + 250_500, limit=limit): [
                n for n in range(251, 300) if n % 4 == 3
            ],
        }
        for query, expected in cases.items():
            assert await every_number(store, query) == expected[::-1]
            assert await every_number(store, replace(query, ascending=True)) == expected
    finally:
        await backend.close()
