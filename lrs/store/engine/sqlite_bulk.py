"""Bulk SQL for the SQLite stores: `IN (...)` lists and multi-row INSERTs, in bounded chunks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

IN_LIST_LIMIT = 500  # values per `IN (...)` list: stays under SQLite's bound-parameter limit


def chunks(items: Sequence[T]) -> list[Sequence[T]]:
    """`items` in slices short enough for one `IN (...)` list each."""
    return [items[i : i + IN_LIST_LIMIT] for i in range(0, len(items), IN_LIST_LIMIT)]


def marks(n: int) -> str:
    """n comma-separated `?` placeholders."""
    return ",".join("?" * n)


# Rows per multi-row INSERT (`insert_flat`), and parameters per statement at most: SQLite builds
# since 3.32 allow 32,766 (older ones 999: `insert_flat` asks the connection).
MAX_CHUNK_ROWS = 4096
MAX_PARAMETERS = 32766


def insert_rows(conn: sqlite3.Connection, into: str, rows: Sequence[Sequence[Any]]) -> None:
    """`into` (e.g. "INSERT INTO t (a, b)") for every row, a few multi-row statements in all."""
    if rows:
        insert_flat(conn, into, [v for row in rows for v in row], len(rows[0]))


def insert_flat(
    conn: sqlite3.Connection,
    into: str,
    values: Sequence[Any],
    width: int,
    *,
    lead: Sequence[Any] = (),
) -> None:
    """`insert_rows` for rows laid end to end in `values`, `width` values each.

    `into` may instead hold `{rows}` where the VALUES rows go (an INSERT ... SELECT over them);
    `lead` are then the parameters before `{rows}`, bound again for each chunk.

    Why not executemany: the sqlite3 module releases the GIL around every step, and executemany
    steps once per row. A thread that gives the GIL up a thousand times per job must win it back
    each time from whichever thread took it, and with the event loop busy that costs up to the
    interpreter's switch interval each time: measured, the writer's throughput fell from about
    18,000 to 80 statements/s beside one busy thread. Chunks are powers of two in size, so a
    handful of distinct SQL texts serve every row count from the statement cache.
    """
    count = len(values) // width
    bound = min(MAX_PARAMETERS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) - len(lead)
    shape = into if "{rows}" in into else into + " VALUES {rows}"
    largest = MAX_CHUNK_ROWS
    while largest * width > bound:
        largest //= 2
    start = 0
    while start < count:
        size = largest
        while size > count - start:
            size //= 2
        row = "(" + ",".join("?" * width) + ")"
        chunk = values[start * width : (start + size) * width]
        conn.execute(shape.format(rows=",".join([row] * size)), [*lead, *chunk] if lead else chunk)
        start += size


@contextmanager
def secure_delete(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside a write job: overwrite what is deleted or replaced with zeros (PRAGMA
    secure_delete), so erased personal data stays in no free page or cell of the file.

    Only for the job's own statements: the writer's other jobs (ingest) keep the default."""
    conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.execute("PRAGMA secure_delete = OFF")
