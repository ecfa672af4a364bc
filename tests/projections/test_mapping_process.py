"""Large slices mapped in a child process (`projections.mapping_process`)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson
import pytest

from lrs.model.statements import StatementIndex, StoredStatement
from lrs.store.base import Backend
from projections import mapping_process
from projections import worker as worker_module
from projections.aggregates import fold_for_member
from projections.facts import Projector
from projections.mapping_process import StatementMapper, assess_here
from projections.store import ProjectionStores
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    Writer,
    hris_actor,
    hris_knows,
    mbox_actor,
    statement,
)


def stored(body: dict, n: int) -> StoredStatement:
    return StoredStatement(
        id=body["id"],
        raw=orjson.dumps(body),
        stored_us=1_700_000_000_000_000 + n,
        voided=False,
        index=StatementIndex({}),
    )


def sample() -> list[StoredStatement]:
    bodies = [
        statement("completed", actor=hris_actor("E1")),
        statement("passed", actor=mbox_actor("ada@example.com"), result={"score": {"raw": 7}}),
        statement("scored", result={"score": {"raw": 700}}),  # no scale: a quality issue
        statement("attempted", actor={"objectType": "Group", "member": []}),
    ]
    for n, body in enumerate(bodies):
        body["id"] = f"6f1f2a8e-1b0c-4d5e-9f00-00000000000{n}"
    return [stored(b, n) for n, b in enumerate(bodies)]


async def test_a_child_maps_a_large_slice_as_this_process_would(projector: Projector) -> None:
    statements = sample()
    mapper = StatementMapper(projector, processes=1, least=2)
    try:
        got = await mapper.assess(statements)
        assert mapper._pool is not None  # it went to the child
    finally:
        mapper.close()
    assert got == assess_here(projector, statements)
    assert got[0].contribution is not None and got[2].issues
    assert mapper._pool is None


async def test_a_small_slice_is_mapped_here_without_starting_a_child(projector: Projector) -> None:
    statements = sample()
    mapper = StatementMapper(projector, processes=1, least=1000)
    assert await mapper.assess(statements) == assess_here(projector, statements)
    assert mapper._pool is None


async def test_a_full_slice_with_voids_left_out_still_goes_to_the_child(
    projector: Projector,
) -> None:
    """The worker leaves a slice's voiding statements out of what it maps: the slice's size,
    not what is left, decides (a backlog with voids in every slice was mapped here)."""
    statements = sample()  # 4 left of a claimed slice of 5
    mapper = StatementMapper(projector, processes=1, least=5)
    # mapped here first, as a live feed's small slices are: the projector must still pickle
    try:
        assert await mapper.assess(statements, claimed=4) == assess_here(projector, statements)
        assert mapper._pool is None
        got = await mapper.assess(statements, claimed=5)
        assert mapper._pool is not None
    finally:
        mapper.close()
    assert got == assess_here(projector, statements)


def count_mapped_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many statements each large slice had mapped in this process."""
    counts: list[int] = []
    steps = mapping_process.assess_here_in_steps

    async def counted(projector: Projector, statements: list[StoredStatement]) -> list:
        counts.append(len(statements))
        return await steps(projector, statements)

    monkeypatch.setattr(mapping_process, "assess_here_in_steps", counted)
    return counts


async def test_a_share_of_a_large_slice_is_mapped_here_the_rest_in_the_child(
    projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = count_mapped_here(monkeypatch)
    statements = sample()
    mapper = StatementMapper(projector, processes=1, least=2, share_here=0.5)
    try:
        got = await mapper.assess(statements)
        assert mapper._pool is not None and not mapper._failed
    finally:
        mapper.close()
    assert here == [2]
    assert got == assess_here(projector, statements)  # in order, as if all were mapped here


async def test_the_share_here_follows_whether_the_worker_waited_for_the_child(
    projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waited for: the child is the slower, more is mapped here (up to a most); ready before
    needed: the writer is the slower, less (down to none: all of a slice in the child)."""
    here = count_mapped_here(monkeypatch)
    mapper = StatementMapper(projector, processes=1, least=2)
    assert mapper.share_here == mapping_process.FIRST_SHARE_HERE
    mapper.needed(waited=True, claimed=2)
    assert mapper.share_here > mapping_process.FIRST_SHARE_HERE
    for _ in range(100):
        mapper.needed(waited=True, claimed=2)
    assert mapper.share_here == mapping_process.MOST_SHARE_HERE
    for _ in range(100):
        mapper.needed(waited=False, claimed=2)
    assert mapper.share_here == 0.0
    statements = sample()
    try:
        assert await mapper.assess(statements) == assess_here(projector, statements)
    finally:
        mapper.close()
    assert here == [0]


def test_slices_mapped_wholly_here_leave_the_share_as_it_is(projector: Projector) -> None:
    """A live feed's small slices never reach the child: whether they were waited for says
    nothing of it, and the next backlog starts from the share the last one left."""
    small = StatementMapper(projector, processes=1, least=5000)
    for _ in range(100):
        small.needed(waited=False, claimed=4999)
    assert small.share_here == mapping_process.FIRST_SHARE_HERE
    in_process = StatementMapper(projector, processes=0)
    for _ in range(100):
        in_process.needed(waited=True, claimed=20000)
    assert in_process.share_here == mapping_process.FIRST_SHARE_HERE
    small.needed(waited=False, claimed=5000)
    assert small.share_here < mapping_process.FIRST_SHARE_HERE


async def test_the_share_mapped_here_gives_way_to_the_event_loop(
    projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mapping_process, "_STEP_HERE", 1)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    statements = sample()
    ticking = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    started = ticks
    got = await mapping_process.assess_here_in_steps(projector, statements)
    stop.set()
    await ticking
    assert got == assess_here(projector, statements)
    assert ticks - started >= len(statements) - 1  # a turn of the loop between two steps


async def test_the_worker_tells_the_mapper_whether_it_waited_for_each_slice(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await writer.store(*(statement("attempted", actor=hris_actor(f"E{n}")) for n in range(5)))
    monkeypatch.setattr(worker_module, "_SLICE", 2)
    mapper = StatementMapper(projector, processes=0)
    told: list[bool] = []
    monkeypatch.setattr(mapper, "needed", lambda *, waited, claimed: told.append(waited))
    worker = ProjectionWorker(backend.statements, stores, projector, mapper=mapper)
    assert await worker.drain() == 5
    assert len(told) == 3  # slices of 2, 2 and 1


async def test_a_projector_that_cannot_go_to_a_child_is_used_here(projector: Projector) -> None:
    local = dataclasses.replace(projector, clock=lambda: 1)  # a lambda does not pickle
    statements = sample()
    mapper = StatementMapper(local, processes=1, least=1)
    try:
        assert await mapper.assess(statements) == assess_here(local, statements)
        assert mapper._pool is None and mapper._failed
    finally:
        mapper.close()


async def test_a_worker_mapping_in_a_child_makes_the_same_records(
    backend: Backend, stores: ProjectionStores, projector: Projector, writer: Writer
) -> None:
    await writer.store(
        *(statement(v, actor=hris_actor(f"E{n % 3}")) for n, v in enumerate(["attempted"] * 4)),
        statement("passed", actor=hris_actor("E1"), result={"score": {"raw": 9, "max": 10}}),
    )
    mapper = StatementMapper(projector, processes=1, least=1)
    worker = ProjectionWorker(backend.statements, stores, projector, mapper=mapper)
    assert await worker.drain() == 5
    assert mapper._pool is None  # stopped when the drain ended
    page = await stores.aggregates.page_records(limit=10)
    assert sorted(r.member_id for r in page.records) == ["E0", "E1", "E2"]
    e1 = await stores.aggregates.get_record("E1", COURSE)
    assert e1 is not None and e1.record is not None
    assert e1.record["success"] == "passed" and e1.record["score"]["value"] == 90.0


def test_the_mapping_child_is_set_from_the_environment() -> None:
    from projections.settings import ProjectionSettings

    assert (
        ProjectionSettings.from_env({"LRS_WORKER_MAPPING_PROCESSES": "0"}).worker_mapping_processes
        == 0
    )
    assert (
        ProjectionSettings.from_env({"LRS_WORKER_MAPPING_PROCESSES": "2"}).worker_mapping_processes
        == 2
    )
    expected = 1 if (os.cpu_count() or 1) > 1 else 0
    assert ProjectionSettings.from_env({}).worker_mapping_processes == expected
    assert ProjectionSettings().worker_mapping_processes == expected


async def test_a_backlog_chunk_is_folded_partly_in_the_child_as_it_would_be_here(
    backend: Backend, stores: ProjectionStores, projector: Projector, writer: Writer
) -> None:
    learners = worker_module._LEAST_TO_FOLD_THERE + 100  # one chunk of pairs, large enough
    await hris_knows(stores, *(f"E{n:04d}" for n in range(learners)))
    await writer.store(
        *(
            statement(
                "passed" if n % 2 else "attempted",
                actor=hris_actor(f"E{n:04d}"),
                result={"score": {"raw": n % 10, "max": 10}},
            )
            for n in range(learners)
        )
    )
    mapper = StatementMapper(projector, processes=1, least=1)
    folded_there: list[int] = []
    fold = mapper.fold

    async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        records = await fold(*args, **kwargs)
        folded_there.append(len(records) if records is not None else 0)
        return records

    mapper.fold = counted  # type: ignore[method-assign]
    worker = ProjectionWorker(backend.statements, stores, projector, mapper=mapper)
    assert await worker.drain() == learners
    sqlite = stores.facts.reader() is not None  # MongoDB: every pair is folded here
    assert sum(folded_there) == (int(learners * worker_module._FOLDED_THERE) if sqlite else 0)
    pairs = [(f"E{n:04d}", COURSE) for n in range(learners)]
    facts = await stores.facts.facts_for_pairs(pairs)
    members = await stores.identities.get_members([m for m, _a in pairs])
    version = projector.mapping.version
    for member_id, activity_id in pairs:
        stored_record = await stores.aggregates.get_record(member_id, activity_id)
        assert stored_record is not None
        assert stored_record.record == fold_for_member(
            member_id,
            activity_id,
            facts[(member_id, activity_id)],
            members.get(member_id),
            version,
        )


async def test_the_facts_reader_of_another_process_reads_what_the_store_reads(
    backend: Backend, stores: ProjectionStores, writer: Writer, projector: Projector
) -> None:
    reader = stores.facts.reader()
    if reader is None:
        pytest.skip("MongoDB's fact store has no reader for another process")
    await hris_knows(stores, "E1", "E2")
    await writer.store(
        statement("attempted", actor=hris_actor("E1")),
        statement("completed", actor=hris_actor("E1")),
        statement("attempted", actor=hris_actor("E2")),
    )
    assert await ProjectionWorker(backend.statements, stores, projector).drain() == 3
    pairs = [("E1", COURSE), ("E2", COURSE), ("E3", COURSE)]
    in_child = await asyncio.get_running_loop().run_in_executor(None, reader.facts_for_pairs, pairs)
    assert in_child == await stores.facts.facts_for_pairs(pairs)
    assert [len(in_child[p]) for p in pairs[:2]] == [2, 1] and ("E3", COURSE) not in in_child


async def test_a_fold_that_fails_in_the_child_is_left_to_this_process(
    projector: Projector, tmp_path: Path
) -> None:
    from projections.store.sqlite import SQLiteFactsReader

    mapper = StatementMapper(projector, processes=1, least=1)
    missing = SQLiteFactsReader(str(tmp_path / "no-such-dir" / "lrs.sqlite3"))
    try:
        await mapper.assess(sample())  # a large slice: the child starts
        assert mapper.child_running
        assert await mapper.fold(missing, [("E1", COURSE)], {}, "v") is None
        assert mapper._failed and not mapper.child_running
        assert await mapper.fold(missing, [("E1", COURSE)], {}, "v") is None  # not tried again
    finally:
        mapper.close()


async def test_a_chunk_whose_child_fold_fails_is_read_and_folded_here_whole(
    backend: Backend, stores: ProjectionStores, projector: Projector, writer: Writer
) -> None:
    learners = worker_module._LEAST_TO_FOLD_THERE + 100
    await hris_knows(stores, *(f"E{n:04d}" for n in range(learners)))
    await writer.store(
        *(statement("completed", actor=hris_actor(f"E{n:04d}")) for n in range(learners))
    )
    mapper = StatementMapper(projector, processes=1, least=1)  # the child starts
    asked: list[int] = []

    async def failing(reader, pairs, members, version):  # type: ignore[no-untyped-def]
        asked.append(len(pairs))
        return None  # as `fold` answers once the child has failed

    mapper.fold = failing  # type: ignore[method-assign]
    worker = ProjectionWorker(backend.statements, stores, projector, mapper=mapper)
    assert await worker.drain() == learners
    assert asked == ([int(learners * worker_module._FOLDED_THERE)] if stores.facts.reader() else [])
    for n in range(learners):
        got = await stores.aggregates.get_record(f"E{n:04d}", COURSE)
        assert got is not None and got.record is not None and got.record["learning_completed"]


async def test_a_live_feeds_large_chunk_is_folded_here_without_starting_a_child(
    backend: Backend, stores: ProjectionStores, projector: Projector, writer: Writer
) -> None:
    """A burst about many records makes a chunk large enough to fold in the child; only a
    large slice (a backlog's) starts one, so the burst's records are folded here."""
    learners = worker_module._LEAST_TO_FOLD_THERE + 100
    await hris_knows(stores, *(f"E{n:04d}" for n in range(learners)))
    await writer.store(
        *(statement("completed", actor=hris_actor(f"E{n:04d}")) for n in range(learners))
    )
    mapper = StatementMapper(projector, processes=1, least=learners + 1)  # a slice maps here
    started: list[bool] = []
    start = mapper._start

    def counted_start() -> ProcessPoolExecutor:
        started.append(True)
        return start()

    mapper._start = counted_start  # type: ignore[method-assign]
    worker = ProjectionWorker(backend.statements, stores, projector, mapper=mapper)
    assert await worker.drain() == learners
    assert started == [] and not mapper.child_running
    for n in range(learners):
        got = await stores.aggregates.get_record(f"E{n:04d}", COURSE)
        assert got is not None and got.record is not None and got.record["learning_completed"]
