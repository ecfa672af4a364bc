"""The audit log on every backend: the chain, concurrent writers, legacy lines, and tampering
(done here through each store's raw table or collection) found by `AuditLog.verify`."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from lrs.store.base import Backend
from lrs.store.engine.sqlite import SQLiteDatabase
from projections.audit import GENESIS, AuditLog, entry_hash
from projections.store import ProjectionStores
from projections.store.audit import AuditRecord, AuditStore, Inserted, LegacyAuditEntry


@pytest.fixture
def audit(stores: ProjectionStores) -> AuditLog:
    return AuditLog(stores.audit)


async def fill(audit: AuditLog, count: int) -> list[AuditRecord]:
    return [
        await audit.append(f"t.{n % 2}", actor="cli", subject=f"s{n}", details={"n": n})
        for n in range(1, count + 1)
    ]


def test_the_store_satisfies_the_protocol(stores: ProjectionStores) -> None:
    assert isinstance(stores.audit, AuditStore)


async def test_entries_are_chained_in_order(audit: AuditLog, stores: ProjectionStores) -> None:
    odd = {"a.b": [1, "é", None], "$x": {"z": True, "a": 1.5}}  # keys MongoDB would refuse
    first = await audit.append(
        "identity.merged", actor="ops", subject="E1", details=odd, before={"m": 1}, after={}
    )
    second = await audit.append("client.created", actor="cli", subject="mkt_1")
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert first.hash == entry_hash(first) and len(first.hash) == 64
    assert await stores.audit.head() == second
    [newest, oldest] = await audit.entries()
    assert (newest, oldest) == (second, first)  # read back exactly as hashed
    assert oldest.details == odd and (oldest.before, oldest.after) == ({"m": 1}, {})
    assert newest.before is None and newest.details == {}
    report = await audit.verify()
    assert report.intact and (report.entries, report.head_seq) == (2, 2)
    assert report.head_hash == second.hash


async def test_listing_filters_and_pages(stores: ProjectionStores) -> None:
    clock = [100.0]
    audit = AuditLog(stores.audit, clock=lambda: clock[0])
    for n in range(1, 6):
        clock[0] = 100.0 + n
        await audit.append(f"t.{n % 2}", actor="cli", subject=f"s{n}")
    assert [e.seq for e in await audit.entries(limit=2)] == [5, 4]
    assert [e.seq for e in await audit.entries(limit=2, before_seq=4)] == [3, 2]
    assert [e.seq for e in await audit.entries(type="t.1")] == [5, 3, 1]
    assert [e.seq for e in await audit.entries(since_us=103_000_000)] == [5, 4, 3]
    both = await audit.entries(since_us=103_000_000, type="t.0", before_seq=5)
    assert [e.seq for e in both] == [4]
    assert await audit.entries(type="nope") == []
    third = await audit.entry(3)
    assert third is not None and (third.seq, third.subject) == (3, "s3")
    assert await audit.entry(6) is None and await audit.entry(0) is None


async def test_a_sequence_number_is_taken_once(stores: ProjectionStores) -> None:
    record = AuditRecord(1, 5, "t", "a", "s", {}, None, None, GENESIS, "h")
    assert await stores.audit.insert(record) is Inserted.DONE
    assert await stores.audit.insert(record) is Inserted.SEQ_TAKEN
    other = AuditRecord(2, 5, "t", "a", "s", {}, None, None, "h", "h2")
    assert await stores.audit.insert(other, origin="o1") is Inserted.DONE
    again = AuditRecord(3, 5, "t", "a", "s", {}, None, None, "h2", "h3")
    assert await stores.audit.insert(again, origin="o1") is Inserted.ORIGIN_EXISTS
    assert [e.seq for e in await stores.audit.chain(0, 10)] == [1, 2]


async def test_a_run_stops_at_the_first_taken_number(stores: ProjectionStores) -> None:
    def record(seq: int, subject: str) -> AuditRecord:
        return AuditRecord(seq, 5, "t", "a", subject, {}, None, None, GENESIS, f"h{seq}")

    assert await stores.audit.insert_run([]) == 0
    assert await stores.audit.insert_run([record(1, "x"), record(2, "x")]) == 2
    assert await stores.audit.insert_run([record(3, "y"), record(2, "y"), record(4, "y")]) == 1
    assert await stores.audit.insert_run([record(3, "z")]) == 0
    chained = await stores.audit.chain(0, 10)
    assert [(e.seq, e.subject) for e in chained] == [(1, "x"), (2, "x"), (3, "y")]


class RacingStore:
    """The store, but each writer's first head read waits until every writer has read it, so
    that they all seal on the same head (what two processes racing would do)."""

    def __init__(self, store: AuditStore, barrier: asyncio.Barrier) -> None:
        self._store = store
        self._barrier: asyncio.Barrier | None = barrier
        self.refused = 0

    async def head(self) -> AuditRecord | None:
        head = await self._store.head()
        if self._barrier is not None:
            barrier, self._barrier = self._barrier, None
            await barrier.wait()
        return head

    async def insert_run(self, records: list[AuditRecord]) -> int:
        count = await self._store.insert_run(records)
        self.refused += count < len(records)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_concurrent_writers_neither_fork_nor_break_the_chain(
    stores: ProjectionStores,
) -> None:
    await AuditLog(stores.audit).append("start", actor="t", subject="s")
    barrier = asyncio.Barrier(3)
    racers = [RacingStore(stores.audit, barrier) for _ in range(3)]
    writers = [AuditLog(racer) for racer in racers]  # type: ignore[arg-type]  # no shared lock

    async def write(number: int, audit: AuditLog) -> None:
        for n in range(8):
            await audit.append("race", actor=f"w{number}", subject=str(n))

    await asyncio.gather(*(write(n, w) for n, w in enumerate(writers)))
    assert sum(r.refused for r in racers) >= 2  # they did collide on the same head
    report = await AuditLog(stores.audit).verify()
    assert report.intact and report.entries == 25
    entries = await stores.audit.chain(0, 100)
    assert [e.seq for e in entries] == list(range(1, 26))
    for writer in range(3):  # each writer's own entries kept their order
        mine = [int(e.subject) for e in entries if e.actor == f"w{writer}"]
        assert mine == list(range(8))


# --- legacy lines -------------------------------------------------------------------------------


async def add_legacy(backend: Backend, *lines: LegacyAuditEntry) -> None:
    """Lines as the unchained audit log of earlier versions wrote them."""
    engine = backend.engine
    if isinstance(engine, SQLiteDatabase):

        def job(conn: Any) -> None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS marketplace_audit (seq INTEGER PRIMARY KEY, "
                "at_us INTEGER NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL, "
                "subject TEXT NOT NULL, details TEXT NOT NULL)"
            )
            for line in lines:
                conn.execute(
                    "INSERT INTO marketplace_audit (at_us, action, actor, subject, details) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (line.at_us, line.action, line.actor, line.subject, orjson.dumps(line.details)),
                )

        await engine.write(job)
    else:
        await engine["marketplace_audit"].insert_many(
            [
                {
                    "_id": f"{line.at_us:020d}-{n:020d}-abcd",
                    "at_us": line.at_us,
                    "action": line.action,
                    "actor": line.actor,
                    "subject": line.subject,
                    "details": line.details,
                }
                for n, line in enumerate(lines)
            ]
        )


async def test_legacy_lines_move_into_the_chain_once(
    backend: Backend, stores: ProjectionStores
) -> None:
    lines = [LegacyAuditEntry("", n, f"key.{n}", "cli", f"k{n}", {"n": n}) for n in (7, 8, 9)]
    await add_legacy(backend, *lines)
    first, second = AuditLog(stores.audit), AuditLog(stores.audit)
    moved = await asyncio.gather(first.adopt_legacy(), second.adopt_legacy())
    assert sum(moved) == 3
    assert await first.adopt_legacy() == 0
    chained = await stores.audit.chain(0, 10)
    assert [(e.at_us, e.type, e.subject, e.details) for e in chained] == [
        (7, "key.7", "k7", {"n": 7}),
        (8, "key.8", "k8", {"n": 8}),
        (9, "key.9", "k9", {"n": 9}),
    ]
    assert await stores.audit.legacy_entries(10) == []
    assert (await first.verify()).intact


# --- tampering, through the raw table or collection ---------------------------------------------


class Raw:
    """Edits the stored log behind the store's back, as someone with database access could."""

    def __init__(self, backend: Backend) -> None:
        self._engine = backend.engine

    async def sql(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        assert isinstance(self._engine, SQLiteDatabase)

        def job(conn: Any) -> None:
            for sql, args in statements:
                conn.execute(sql, args)

        await self._engine.write(job)

    @property
    def mongo(self) -> Any:
        return self._engine["audit_log"]  # type: ignore[index]

    async def change_subject(self, seq: int, subject: str) -> None:
        if isinstance(self._engine, SQLiteDatabase):
            await self.sql(("UPDATE audit_log SET subject = ? WHERE seq = ?", (subject, seq)))
        else:
            await self.mongo.update_one({"_id": seq}, {"$set": {"subject": subject}})

    async def set_field(self, seq: int, name: str, value: Any) -> None:
        if isinstance(self._engine, SQLiteDatabase):
            await self.sql((f"UPDATE audit_log SET {name} = ? WHERE seq = ?", (value, seq)))
        else:
            await self.mongo.update_one({"_id": seq}, {"$set": {name: value}})

    async def delete(self, seq: int) -> None:
        if isinstance(self._engine, SQLiteDatabase):
            await self.sql(("DELETE FROM audit_log WHERE seq = ?", (seq,)))
        else:
            await self.mongo.delete_one({"_id": seq})

    async def swap(self, a: int, b: int) -> None:
        """Exchange two entries' places (each keeps its own content and hash)."""
        if isinstance(self._engine, SQLiteDatabase):
            await self.sql(
                ("UPDATE audit_log SET seq = -1 WHERE seq = ?", (a,)),
                ("UPDATE audit_log SET seq = ? WHERE seq = ?", (a, b)),
                ("UPDATE audit_log SET seq = ? WHERE seq = -1", (b,)),
            )
            return
        docs = {d["_id"]: d for d in await self.mongo.find({"_id": {"$in": [a, b]}}).to_list(None)}
        for here, there in ((a, b), (b, a)):
            fields = {k: v for k, v in docs[there].items() if k != "_id"}
            await self.mongo.replace_one({"_id": here}, fields)


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    [
        (lambda raw: raw.change_subject(3, "someone else"), 3, "changed"),
        (lambda raw: raw.set_field(2, "details", '{"n":20}'), 2, "changed"),
        (lambda raw: raw.set_field(4, "details", "not json"), 4, "changed"),
        (lambda raw: raw.set_field(3, "at_us", "yesterday"), 3, "changed"),
        (lambda raw: raw.set_field(5, "hash", "0" * 64), 5, "changed"),
        (lambda raw: raw.delete(3), 3, "missing"),
        (lambda raw: raw.delete(1), 1, "missing"),
        (lambda raw: raw.swap(2, 4), 2, "reordered"),
    ],
    ids=[
        "changed-field",
        "changed-details",
        "unreadable-details",
        "retyped-time",
        "replaced-hash",
        "deleted",
        "deleted-first",
        "swapped",
    ],
)
async def test_verify_names_the_first_tampered_entry(
    backend: Backend, audit: AuditLog, tamper: Any, broken_at: int, problem: str
) -> None:
    await fill(audit, 5)
    assert (await audit.verify()).intact
    await tamper(Raw(backend))
    report = await audit.verify()
    assert not report.intact and report.broken is not None
    assert report.broken.seq == broken_at and problem in report.broken.problem
    assert report.entries == broken_at - 1
    assert len(await audit.entries()) in (4, 5)  # still readable, tampered entry included


async def test_a_recorded_head_catches_entries_cut_off(backend: Backend, audit: AuditLog) -> None:
    await fill(audit, 4)
    head = await audit.verify()
    anchor = (head.head_seq, head.head_hash)
    assert (await audit.verify(expect_head=anchor)).intact
    await Raw(backend).delete(4)  # the newest entry: the chain alone cannot tell
    assert (await audit.verify()).intact
    report = await audit.verify(expect_head=anchor)
    assert report.broken is not None and report.broken.seq == 4
    assert "cut off" in report.broken.problem
    await audit.append("new", actor="a", subject="s")  # a different entry 4 takes its place
    rewritten = await audit.verify(expect_head=anchor)
    assert rewritten.broken is not None and "rewritten" in rewritten.broken.problem
