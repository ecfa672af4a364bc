"""How SQLite answers GET /statements: one index walked in stored order, stopped at the limit.

Pages are ordered by (stored_us, seq). Postings (`lrs.store.sqlite_keys`) are ordered by
(key_id, seq), so sorting a key's matches by stored time reads every posting of the key (a
verb: one statement in twelve, seconds at a million statements) for a page of 100. But the
statements this LRS stores itself get `stored` times that never go backwards in commit order
(`lrs.xapi.timestamps.StoredClock`, one writer): for them seq order IS stored order. So a
filtered page walks the postings of one key by seq, from the newest (or the oldest, for
`ascending`), looks each statement up by its seq, and stops after limit + 1 matches.

Statements whose `stored` is earlier than that of a statement committed before them (imports
that keep their own `stored`, a clock stepped back between two runs) break that equality. The
writer records each in `statements_unordered` (a read of the newest stored time per insert, no
write at all for statements in order). Among the others seq order still is stored order (each
has a stored time at least that of every statement before it). So while that table holds any,
a filtered page is the walk over the statements in order, merged with the recorded ones that
match, sorted by stored time (each checked by primary-key lookups while they are fewer than
SELECTIVE_COUNT; for more, a bulk import, the general plan: the keys' postings, sorted).

The walk (`_walk`):
- `since`, `until` and the `more` position are turned into a seq range by seeking the
  `statements_stored` index once each (exact when seq order is stored order);
- of several keys, the one with the fewest postings in that range (counted up to
  SELECTIVE_COUNT) drives the walk; the others are point lookups in the postings' primary key;
- both posting tables (`recent_filters`, `statement_filters`) are walked, each stopped at
  limit + 1, and merged; once the first has filled a page, the second is walked only before
  that page's last statement (usually nothing: the recent table holds the newest).
Unfiltered queries walk `statements_stored` itself, whatever the order (`_sorted`).
`EXPLAIN QUERY PLAN` of each shape is in docs/query-plans.md.
"""

from __future__ import annotations

import sqlite3

from lrs.errors import BadRequest
from lrs.model.statements import KIND_BIT, StatementFilter, StatementPage
from lrs.store.sqlite_keys import POSTED_UNDER, known_key_ids

# Postings counted per key, at most, to choose the one that drives a walk of several keys.
SELECTIVE_COUNT = 2000
POSTING_TABLES = ("recent_filters", "statement_filters")
UNORDERED_SCHEMA = """
CREATE TABLE IF NOT EXISTS statements_unordered (
    seq INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS statements_order_checked (
    one INTEGER PRIMARY KEY CHECK (one = 1)
);
"""

# (key id, kind bit) of each key a query names
Wanted = list[tuple[int, int]]


def query_page(conn: sqlite3.Connection, query: StatementFilter) -> StatementPage:
    """One page of non-voided statements matching `query` (see the module docstring)."""
    named = list(query.keyed().items())
    ids = known_key_ids(conn, list({key for _kind, key in named}))
    if len(ids) < len({key for _kind, key in named}):
        return StatementPage(statements=[], next_position=None)  # a key no statement has
    wanted = [(ids[key], KIND_BIT[kind]) for kind, key in named]
    if not wanted:
        return statement_page(_sorted(conn, query, wanted), query.limit)
    in_order = _in_order(conn)
    rows = _walk(conn, query, wanted, in_order)
    if not in_order:
        rows += _unordered(conn, query, wanted)
        rows.sort(key=lambda row: (row[0], row[1]), reverse=not query.ascending)
    return statement_page(rows, query.limit)


def _in_order(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM statements_unordered LIMIT 1").fetchone() is None


# Of a statement `t.seq`: it is not one recorded as stored out of order.
_ORDERED = "NOT EXISTS (SELECT 1 FROM statements_unordered u WHERE u.seq = {table}.seq)"


# Of statement `{seq}`: it is posted under a key id with one of the kind bits, in either
# table; two primary-key lookups (parameters: key_id, bits, key_id, bits).
_POSTED_AT = (
    "(EXISTS (SELECT 1 FROM statement_filters g WHERE g.key_id = ? AND g.seq = {seq} "
    "AND g.kinds & ? != 0) OR EXISTS (SELECT 1 FROM recent_filters g "
    "WHERE g.key_id = ? AND g.seq = {seq} AND g.kinds & ? != 0))"
)


def statement_page(rows: list[tuple[int, int, bytes]], limit: int) -> StatementPage:
    """A page from rows (stored_us, seq, raw) read one past `limit`; its position is the last."""
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return StatementPage(
        statements=[bytes(raw) for _us, _seq, raw in rows],
        next_position=f"{last[0]}:{last[1]}" if more and last else None,
    )


def _stored_bounds(query: StatementFilter) -> tuple[list[str], list[object]]:
    """SQL conditions on `s.stored_us, s.seq` for since, until and the `more` position."""
    where: list[str] = []
    params: list[object] = []
    if query.since_us is not None:
        where.append("s.stored_us > ?")
        params.append(query.since_us)
    if query.until_us is not None:
        where.append("s.stored_us <= ?")
        params.append(query.until_us)
    if query.after is not None:
        where.append("(s.stored_us, s.seq) " + (">" if query.ascending else "<") + " (?, ?)")
        params.extend(position(query.after))
    return where, params


def _sorted(
    conn: sqlite3.Connection, query: StatementFilter, wanted: Wanted, only_unordered: bool = False
) -> list[tuple[int, int, bytes]]:
    """The general plan: every posting of the keys, statements sorted by (stored_us, seq);
    without keys, the walk of `statements_stored`, the plan of unfiltered pages. With
    `only_unordered`, of the statements recorded as stored out of order only."""
    where, params = ["s.voided = 0"], list[object]()
    if only_unordered:
        where.append("s.seq IN (SELECT seq FROM statements_unordered)")
    for key_id, bit in wanted:
        where.append(POSTED_UNDER)
        params.extend((key_id, bit, key_id, bit))
    return _sorted_rows(conn, query, "statements s", where, params)


def _unordered(
    conn: sqlite3.Connection, query: StatementFilter, wanted: Wanted
) -> list[tuple[int, int, bytes]]:
    """The matches among the statements recorded as stored out of order, sorted: read one by
    one when they are few, else by the keys' postings (`_sorted`)."""
    (count,) = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM statements_unordered LIMIT ?)", (SELECTIVE_COUNT,)
    ).fetchone()
    if count >= SELECTIVE_COUNT:
        return _sorted(conn, query, wanted, only_unordered=True)
    where, params = ["s.voided = 0"], list[object]()
    for key_id, bit in wanted:
        where.append(_POSTED_AT.format(seq="s.seq"))
        params.extend((key_id, bit, key_id, bit))
    source = "statements_unordered u CROSS JOIN statements s ON s.seq = u.seq"
    return _sorted_rows(conn, query, source, where, params)


def _sorted_rows(
    conn: sqlite3.Connection,
    query: StatementFilter,
    source: str,
    where: list[str],
    params: list[object],
) -> list[tuple[int, int, bytes]]:
    bounds, bound_params = _stored_bounds(query)
    order = "ASC" if query.ascending else "DESC"
    return conn.execute(
        f"SELECT s.stored_us, s.seq, s.raw FROM {source} "
        f"WHERE {' AND '.join(where + bounds)} "
        f"ORDER BY s.stored_us {order}, s.seq {order} LIMIT ?",
        [*params, *bound_params, query.limit + 1],
    ).fetchall()


def _seq_range(
    conn: sqlite3.Connection, query: StatementFilter, in_order: bool
) -> tuple[int, int] | None:
    """The seqs of statements in order (not recorded out of order) that the stored-time
    bounds of `query` leave (inclusive), None when none: among them, seq order is stored
    order, so each bound is the seq of the first of them past it."""
    low, high = 0, 2**63 - 1
    seeks: list[tuple[str, tuple[object, ...], bool]] = []
    if query.since_us is not None:
        seeks.append(("stored_us > ?", (query.since_us,), True))
    if query.until_us is not None:
        seeks.append(("stored_us <= ?", (query.until_us,), False))
    if query.after is not None:
        beyond = ">" if query.ascending else "<"
        seeks.append((f"(stored_us, seq) {beyond} (?, ?)", position(query.after), query.ascending))
    for condition, params, upward in seeks:
        if not in_order:
            condition += " AND " + _ORDERED.format(table="statements")
        order = "ASC" if upward else "DESC"
        row = conn.execute(
            f"SELECT seq FROM statements INDEXED BY statements_stored WHERE {condition} "
            f"ORDER BY stored_us {order}, seq {order} LIMIT 1",
            params,
        ).fetchone()
        if row is None:
            return None
        low, high = (max(low, row[0]), high) if upward else (low, min(high, row[0]))
    return (low, high) if low <= high else None


def _walk(
    conn: sqlite3.Connection, query: StatementFilter, wanted: Wanted, in_order: bool
) -> list[tuple[int, int, bytes]]:
    """Walk one key's postings of the statements in order, in stored order, and stop at
    limit + 1 (see the module docstring)."""
    seqs = _seq_range(conn, query, in_order)
    if seqs is None:
        return []
    order = "ASC" if query.ascending else "DESC"
    driver, *others = _by_selectivity(conn, wanted, seqs)
    where = ["f.key_id = ?", "f.kinds & ? != 0", "f.seq BETWEEN ? AND ?", "s.voided = 0"]
    if not in_order:
        where.append(_ORDERED.format(table="f"))
    params: list[object] = [*driver, *seqs]
    for key_id, bit in others:
        where.append(_POSTED_AT.format(seq="f.seq"))
        params.extend((key_id, bit, key_id, bit))
    sql = (
        "SELECT s.stored_us, s.seq, s.raw FROM {table} f CROSS JOIN statements s "
        f"ON s.seq = f.seq WHERE {' AND '.join(where)} ORDER BY f.seq {order} LIMIT ?"
    )
    low, high = seqs
    rows: list[tuple[int, int, bytes]] = []
    # the newest postings are in recent_filters: read first the table that holds the page's
    # start, and of the other only what would come before the last row of a full page
    for table in POSTING_TABLES[::-1] if query.ascending else POSTING_TABLES:
        if low <= high:
            found = conn.execute(
                sql.format(table=table), (*params[:2], low, high, *params[4:], query.limit + 1)
            ).fetchall()
            rows += found
            if len(found) > query.limit:
                low, high = (low, found[-1][1] - 1) if query.ascending else (found[-1][1] + 1, high)
    rows.sort(key=lambda row: row[1], reverse=not query.ascending)
    return rows[: query.limit + 1]


def _by_selectivity(conn: sqlite3.Connection, wanted: Wanted, seqs: tuple[int, int]) -> Wanted:
    """The keys, fewest postings in the seq range first (counted up to SELECTIVE_COUNT)."""
    if len(wanted) == 1:
        return wanted
    counted = []
    for key_id, bit in wanted:
        total = 0
        for table in POSTING_TABLES:
            (count,) = conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE key_id = ? "
                "AND seq BETWEEN ? AND ? LIMIT ?)",
                (key_id, *seqs, SELECTIVE_COUNT),
            ).fetchone()
            total += count
        counted.append((total, key_id, bit))
    counted.sort()
    return [(key_id, bit) for _count, key_id, bit in counted]


def position(after: str) -> tuple[int, int]:
    """The (stored_us, seq) of a `more` position this store gave out."""
    stored_us, _, seq = after.partition(":")
    try:
        return int(stored_us), int(seq)
    except ValueError as exc:
        raise BadRequest("the more link is not one this LRS issued") from exc


def note_unordered(conn: sqlite3.Connection, stored: list[int], first_seq: int) -> None:
    """In the writer, before the statements stored from `first_seq` on are inserted: record
    those whose stored time is earlier than that of a statement before them."""
    if not stored:
        return
    (running,) = conn.execute("SELECT max(stored_us) FROM statements").fetchone()
    if running is None:
        running = stored[0]
    if min(stored) >= running and stored == sorted(stored):
        return  # the usual batch: one stored time, minted after every earlier one
    late = []
    for number, stored_us in enumerate(stored):
        if stored_us < running:
            late.append((first_seq + number,))
        else:
            running = stored_us
    conn.executemany("INSERT INTO statements_unordered (seq) VALUES (?)", late)


def migrate_unordered(conn: sqlite3.Connection) -> None:
    """Fill `statements_unordered` once for a database stored before it existed."""
    if conn.execute("SELECT 1 FROM statements_order_checked").fetchone() is not None:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT OR IGNORE INTO statements_unordered (seq) SELECT seq FROM ("
            "SELECT seq, stored_us, max(stored_us) OVER (ORDER BY seq ROWS BETWEEN "
            "UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM statements) "
            "WHERE stored_us < before"
        )
        conn.execute("INSERT INTO statements_order_checked (one) VALUES (1)")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
