"""The MongoDB statement store's batch decisions where mongomock alone cannot show them: stale
reads, server time, failures after the commit point, the periodic sweep, backoff, size limits.

Each test runs the real store on mongomock-motor, with `tests.mongo_fakes.FakeCollection`
standing where a real server would answer differently (an old read, a real pymongo error).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import AutoReconnect, DocumentTooLarge

from lrs.errors import PayloadTooLarge, StoreUnavailable
from lrs.model.statements import DefinitionUpdate, StatementFilter, StatementIndex, StatementRecord
from lrs.store import mongo
from lrs.store.mongo import COMMITTED, PENDING, MongoBackend, MongoStatementStore
from lrs.xapi.activities import merger
from tests.mongo_fakes import FakeCollection

ACTIVITY = "http://example.com/activities/a1"


@pytest.fixture
async def backend() -> AsyncIterator[MongoBackend]:
    """The MongoDB backend on mongomock-motor."""
    opened = await MongoBackend.open(
        "mongodb://mongomock.invalid", "lrs_test", client=AsyncMongoMockClient()
    )
    yield opened
    await opened.close()


def record(n: int) -> StatementRecord:
    body = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, str(n))), "n": n}
    return StatementRecord(
        id=body["id"],
        raw=orjson.dumps(body),
        stored_us=1_700_000_000_000_000 + n,
        index=StatementIndex.of(activities=(ACTIVITY,)),
    )


def definitions(name: str) -> DefinitionUpdate:
    return DefinitionUpdate.of({ACTIVITY: {"name": {"en-US": name}}}, merger(True))


async def visible(store: MongoStatementStore) -> list[bytes]:
    return (await store.query_statements(StatementFilter(limit=10))).statements


async def committed_not_rolled_forward(
    store: MongoStatementStore, monkeypatch: pytest.MonkeyPatch, *records: StatementRecord
) -> None:
    """A writer that loses the connection right after its commit point."""

    async def lost(*_args: Any, **_kwargs: Any) -> None:
        raise AutoReconnect("connection reset after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(store, "_roll_forward", lost)
        with pytest.raises(StoreUnavailable):
            await store.insert_statements(list(records), definitions("After the crash"))


# Item 1: reads pinned to the primary, abort decided by one write


async def test_a_stale_read_never_rolls_back_a_committed_batch(
    backend: MongoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.statements
    await committed_not_rolled_forward(store, monkeypatch, record(1))
    real_batches = store._batches
    # a lagging secondary: no batch document to be seen
    store._batches = FakeCollection(real_batches).stale("find_one", None)  # type: ignore[assignment]
    assert await store.get_statements([record(1).id]) == {}  # undecided, not deleted
    abort_ops = [n for n in store._batches.names() if n != "find_one"]  # type: ignore[attr-defined]
    assert set(abort_ops) == {"update_one"}  # the abort decided with its one write
    store._batches = real_batches
    found = await store.get_statements([record(1).id])
    assert list(found) == [record(1).id]  # the acknowledged statement survived


async def test_abort_of_a_dead_batch_is_one_upsert(backend: MongoBackend) -> None:
    store = backend.statements
    await store._batches.insert_one({"_id": "t1", "state": PENDING, "ids": [], "targets": []})
    await store._docs.insert_one({"_id": "s1", "pending": "t1", "stored_us": 1, "voided": False})
    store._batches = FakeCollection(store._batches)  # type: ignore[assignment]
    assert await store._abort("t1") is True
    assert store._batches.names() == ["update_one", "delete_one"]  # type: ignore[attr-defined]
    assert await store._docs.find_one({"_id": "s1"}) is None
    # a committed batch: the upsert's duplicate key says so, and nothing is deleted
    await store._batches.insert_one({"_id": "t2", "state": COMMITTED, "ids": [], "targets": []})
    await store._docs.insert_one({"_id": "s2", "pending": "t2", "stored_us": 1, "voided": False})
    assert await store._abort("t2") is False
    assert await store._docs.find_one({"_id": "s2"}) is not None


# Item 6: the server's clock says whether a batch is dead


async def test_a_live_batch_is_not_judged_by_the_writers_clock(backend: MongoBackend) -> None:
    store = backend.statements
    now = datetime.now(UTC).replace(tzinfo=None)
    hour_ago_us = time.time_ns() // 1000 - 3600 * 1_000_000  # the writer's clock is behind
    await store._batches.insert_one(
        {"_id": "t", "state": PENDING, "at": now, "at_us": hour_ago_us, "ids": [], "targets": []}
    )
    await store._docs.insert_one({"_id": "s", "pending": "t", "stored_us": 1, "voided": False})
    await store.get_statements(["s"])
    assert await store._docs.find_one({"_id": "s"}) is not None  # still live: left alone
    # the same batch, old by the server's clock, is dead whatever the writer's clock said
    old = now - timedelta(seconds=store.pending_timeout_s + 1)
    await store._batches.update_one({"_id": "t"}, {"$set": {"at": old, "at_us": 2**62}})
    await store.get_statements(["s"])
    assert await store._docs.find_one({"_id": "s"}) is None


async def test_a_batch_is_dated_by_the_server(backend: MongoBackend) -> None:
    store = backend.statements
    store._docs = FakeCollection(store._docs).fail(  # type: ignore[assignment]
        "insert_many", AutoReconnect("lost")
    )
    seen: list[dict[str, Any]] = []
    real_abort = store._abort

    async def spy(token: str) -> bool:
        seen.extend(await store._batches.find({"_id": token}).to_list(None))
        return await real_abort(token)

    store._abort = spy  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await store.insert_statements([record(1)])
    assert isinstance(seen[0]["at"], datetime) and "at_us" not in seen[0]


# Item 2: activity definitions ride in the batch


async def test_definitions_are_merged_by_whoever_rolls_the_batch_forward(
    backend: MongoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await committed_not_rolled_forward(backend.statements, monkeypatch, record(1))
    other = MongoStatementStore(backend.db, backend.activities)  # another process
    await other.recover()
    assert await backend.activities.get_activities([ACTIVITY]) == {
        ACTIVITY: {"name": {"en-US": "After the crash"}}
    }
    assert len(await visible(other)) == 1


async def test_a_failed_merge_is_repeated_not_lost(
    backend: MongoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.statements
    real_merge = backend.activities.merge_activities

    async def failing(*_args: Any) -> None:
        raise StoreUnavailable("the store could not save activity definitions")

    monkeypatch.setattr(backend.activities, "merge_activities", failing)
    with pytest.raises(StoreUnavailable):
        await store.insert_statements([record(1)], definitions("Kept"))
    monkeypatch.setattr(backend.activities, "merge_activities", real_merge)
    retry = await store.insert_statements([record(1)], definitions("Kept"))
    assert not retry.stored  # the client's retry is a repeat...
    await store.recover()  # ...and the next sweep merges what the batch carried
    assert await backend.activities.get_activities([ACTIVITY]) == {
        ACTIVITY: {"name": {"en-US": "Kept"}}
    }
    assert await store._batches.count_documents({}) == 0


async def test_a_create_only_batch_stays_create_only_when_another_process_finishes_it(
    backend: MongoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.activities.merge_activities(
        {ACTIVITY: {"name": {"en-US": "First"}}}, merger(True)
    )
    store = backend.statements

    async def lost(*_args: Any, **_kwargs: Any) -> None:
        raise AutoReconnect("connection reset after the commit")

    monkeypatch.setattr(store, "_roll_forward", lost)
    update = DefinitionUpdate.of({ACTIVITY: {"name": {"en-US": "Second"}}}, merger(False))
    with pytest.raises(StoreUnavailable):
        await store.insert_statements([record(1)], update)
    await MongoStatementStore(backend.db, backend.activities).recover()
    assert await backend.activities.get_activities([ACTIVITY]) == {
        ACTIVITY: {"name": {"en-US": "First"}}
    }


# Item 6: the periodic sweep, its indexed predicate, backoff


async def test_the_periodic_sweep_makes_a_committed_batch_visible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = await MongoBackend.open(
        "mongodb://mongomock.invalid",
        "lrs_test",
        client=AsyncMongoMockClient(),
        recovery_interval_s=0.01,
    )
    try:
        await committed_not_rolled_forward(backend.statements, monkeypatch, record(1))
        deadline = time.monotonic() + 10
        while not await visible(backend.statements):
            assert time.monotonic() < deadline, "the sweep never rolled the batch forward"
            await asyncio.sleep(0.01)
        assert backend.recovery is not None and backend.recovery.running
    finally:
        await backend.close()
    assert not backend.recovery.running  # cancelled with the backend


async def test_recovery_asks_the_pending_index_not_the_collection(
    backend: MongoBackend,
) -> None:
    store = backend.statements
    store._docs = FakeCollection(store._docs)  # type: ignore[assignment]
    await store.recover()
    [(_name, args, _kwargs)] = [c for c in store._docs.calls if c[0] == "distinct"]  # type: ignore[attr-defined]
    assert args == ("pending", {"pending": {"$exists": True}})


async def test_a_lost_race_backs_off_before_looking_again(
    backend: MongoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.statements
    attempts: list[int] = []
    pauses: list[float] = []
    real_write = store._write

    async def lose_three(*args: Any) -> bool:
        attempts.append(1)
        return False if len(attempts) <= 3 else await real_write(*args)

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(store, "_write", lose_three)
    monkeypatch.setattr(mongo.asyncio, "sleep", pause)
    assert (await store.insert_statements([record(1)])).stored
    assert len(pauses) == 3 and all(p > 0 for p in pauses)
    assert pauses[2] > pauses[0]  # growing, bounded (jittered between half and all of it)


# Item 3: the 16 MiB limit


async def test_a_statement_over_the_bson_limit_is_413_and_leaves_nothing(
    backend: MongoBackend,
) -> None:
    store = backend.statements
    store._docs = FakeCollection(store._docs).fail(  # type: ignore[assignment]
        "insert_many", DocumentTooLarge("BSON document too large (17000000 bytes)")
    )
    with pytest.raises(PayloadTooLarge):
        await store.insert_statements([record(1), record(2)])
    assert await store._batches.count_documents({}) == 0
    assert await store._docs.count_documents({}) == 0
