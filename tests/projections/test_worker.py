"""The worker on every backend: statements in through the statement service, records out."""

from __future__ import annotations

from dataclasses import replace

import orjson

from lrs.store.base import Backend
from projections.audit import AuditLog
from projections.facts import Projector
from projections.identity_ops import IdentityService
from projections.store import ProjectionStores
from projections.store.base import Member
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    Writer,
    at,
    claim,
    hris_actor,
    hris_load,
    mbox_actor,
    projection_settings,
    statement,
    voiding,
)


async def record(stores: ProjectionStores, member: str = "E1", activity: str = COURSE) -> dict:
    stored = await stores.aggregates.get_record(member, activity)
    assert stored is not None and stored.record is not None
    return stored.record


async def events(backend: Backend, stores: ProjectionStores) -> list[dict]:
    await stores.aggregates.publish_events()
    return [orjson.loads(e.body) for e in await stores.deliveries.unfanned_events(1000)]


async def test_statements_become_a_record(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    attempted, passed = await writer.store(
        statement("attempted", timestamp=at(10)),
        statement("passed", timestamp=at(20), result={"score": {"raw": 8, "min": 0, "max": 10}}),
    )
    assert await backend.statements.count_awaiting_projection() == 2
    assert await worker.drain() == 2
    assert await backend.statements.count_awaiting_projection() == 0

    got = await record(stores)
    assert got["learning_completed"] is True
    assert got["completed_at"] == "2024-03-01T00:00:20.000000Z"
    assert got["success"] == "passed"
    assert got["score"]["value"] == 80.0 and got["score"]["raw"] == 8
    assert got["enrollment_state"] == "completed"
    assert got["provenance"]["statements"] == [attempted, passed]
    assert got["provenance"]["learning_completed"] == [passed]
    progress = await stores.work.progress()
    assert progress.applied == 2
    assert progress.last_applied_stored_us == await backend.statements.last_stored_us()


async def test_applying_again_changes_nothing(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    await writer.store(statement("completed"), statement("attempted"))
    await worker.drain()
    first = await stores.aggregates.get_record("E1", COURSE)
    page = await backend.statements.get_statements(
        (await record(stores))["provenance"]["statements"]
    )
    await worker.apply(list(page.values()))  # as a worker that died before its checkpoint
    await worker.apply(list(page.values()))
    again = await stores.aggregates.get_record("E1", COURSE)
    assert again is not None and first is not None
    assert again.record == first.record and again.version == first.version == 1
    assert [e["version"] for e in await events(backend, stores)] == [1]


async def test_voiding_retracts_and_the_record_falls_back(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    [attempted] = await writer.store(statement("attempted", result={"score": {"scaled": 0.4}}))
    [passed] = await writer.store(statement("passed", result={"score": {"scaled": 0.9}}))
    await worker.drain()
    assert (await record(stores))["score"]["value"] == 90.0

    await writer.store(voiding(passed))
    await worker.drain()
    got = await record(stores)
    assert got["learning_completed"] is False and got["success"] is None
    assert got["score"]["value"] == 40.0 and got["enrollment_state"] == "active"
    assert got["provenance"]["statements"] == [attempted]

    await writer.store(voiding(attempted))
    await worker.drain()
    gone = await stores.aggregates.get_record("E1", COURSE)
    assert gone is not None and gone.record is None
    assert await stores.aggregates.member_records("E1") == []
    kinds = [e["type"] for e in await events(backend, stores)]
    assert kinds == ["learning.created", "learning.updated", "learning.removed"]


async def test_voiding_in_the_same_batch_and_before_the_target(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    target = statement("completed")
    target["id"] = "6f1f2a8e-1b0c-4d5e-9f00-000000000001"
    await writer.store(target, voiding(target["id"]))
    other = statement("completed", activity="https://lms.example.com/c2")
    other["id"] = "6f1f2a8e-1b0c-4d5e-9f00-000000000002"
    await writer.store(voiding(other["id"]))  # voided before it arrives
    await writer.store(other)
    await worker.drain()
    assert await stores.aggregates.member_records("E1") == []


async def test_unmatched_statements_wait_for_identities(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    await writer.store(statement("completed", actor=mbox_actor("Ada.Lovelace+lms@Example.com")))
    await worker.drain()
    assert await stores.facts.count_unmatched() == 1
    assert await stores.aggregates.member_records("E7") == []

    moved = await hris_load(
        stores, worker, Member("E7", ("ada.lovelace@example.com", "ada@home.example"))
    )
    assert moved == 1
    assert await stores.facts.count_unmatched() == 0
    got = await record(stores, "E7")
    assert got["learning_completed"] is True and got["email"] == "ada.lovelace@example.com"


async def test_a_worker_retries_unmatched_when_identities_change_elsewhere(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    await writer.store(statement("completed", actor=mbox_actor("grace@example.com")))
    await worker.drain()
    await claim(stores, "E9", "grace@example.com")  # another process
    await worker.run_once()
    assert (await record(stores, "E9"))["learning_completed"] is True


async def test_an_address_claimed_by_a_second_member_is_held_until_resolved(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    await hris_load(stores, worker, Member("E1", ("shared@example.com",)))
    await writer.store(statement("completed", actor=mbox_actor("shared@example.com")))
    await worker.drain()
    assert (await record(stores, "E1"))["email"] == "shared@example.com"
    await hris_load(stores, worker, Member("E2", ("shared@example.com",)))  # a conflict
    assert await stores.aggregates.member_records("E1") == []  # held: neither claim guessed
    assert await stores.aggregates.member_records("E2") == []
    assert await stores.facts.count_unmatched() == 1
    dropped, moved = await IdentityService(stores, worker, AuditLog(stores.audit)).resolve(
        "email:shared@example.com", "E2"
    )
    assert dropped == ["E1"] and moved == 1
    assert (await record(stores, "E2"))["learning_completed"] is True


async def test_concurrent_workers_share_the_work(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer
) -> None:
    import asyncio

    for n in range(30):
        await writer.store(
            statement("attempted", actor=hris_actor(f"E{n % 3}"), activity=f"{COURSE}/{n % 4}")
        )
    workers = [make_worker(batch=4) for _ in range(3)]
    await asyncio.gather(*(w.drain() for w in workers))
    assert await backend.statements.count_awaiting_projection() == 0
    progress = await stores.work.progress()
    assert progress.applied >= 30
    page = await stores.aggregates.page_records(limit=100)
    assert len(page.records) == 12
    total = sum(len(r.record["provenance"]["statements"]) for r in page.records if r.record)
    assert total == 30


async def test_a_lease_held_by_a_dead_worker_is_taken_over_when_it_expires(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer
) -> None:
    now = [1_000_000_000_000]
    dead = make_worker(batch=10, lease_s=30, clock=lambda: now[0])
    alive = make_worker(batch=10, lease_s=30, clock=lambda: now[0])
    await writer.store(statement("completed"))
    page = await backend.statements.awaiting_projection(10)
    assert await stores.work.claim([s.id for s in page.statements], dead.owner, now[0], 30_000_000)
    assert await alive.run_once() == 0  # leased to the dead worker
    now[0] += 31_000_000
    assert await alive.run_once() == 1
    assert (await record(stores))["learning_completed"] is True


async def test_a_stale_recompute_loses_the_compare_and_set_and_retries(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer
) -> None:
    """Worker A applies a statement and reads the pair's facts; before A saves, B applies
    another statement of the pair and saves. A's save must fail and A must recompute: the
    record ends with all three statements (no lost update)."""
    import asyncio
    from dataclasses import replace as with_

    [first] = await writer.store(statement("attempted"))
    await make_worker().drain()
    paused, resume = asyncio.Event(), asyncio.Event()
    real_facts = stores.facts

    class PauseOnce:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real_facts, name)

        async def facts_for_pairs(self, pairs):  # type: ignore[no-untyped-def]
            found = await real_facts.facts_for_pairs(pairs)
            if not paused.is_set():
                paused.set()
                await resume.wait()
            return found

    slow = make_worker()
    slow._stores = with_(stores, facts=PauseOnce())  # type: ignore[arg-type]
    [second] = await writer.store(statement("completed"))
    stale = asyncio.create_task(slow.run_once())  # applies `second`, pauses before saving
    await paused.wait()
    [third] = await writer.store(statement("scored", result={"score": {"raw": 50}}))
    assert await make_worker().drain() == 1  # applies `third` and saves first
    resume.set()
    assert await stale == 1
    got = await record(stores)
    assert got["provenance"]["statements"] == [first, second, third]
    assert got["learning_completed"] is True and got["score"]["value"] == 50.0
    versions = [e["version"] for e in await events(backend, stores)]
    assert sorted(versions) == list(range(1, len(versions) + 1))


async def test_a_batch_saves_its_records_together_and_retries_only_a_lost_one(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer
) -> None:
    """A batch touching many records saves them in one `save_records`; when one of them
    loses its compare-and-set (another save came first), only that one is saved again."""
    from dataclasses import replace as with_

    real = stores.aggregates
    calls: list[list[tuple[str, str]]] = []

    class Spy:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        async def save_records(self, saves):  # type: ignore[no-untyped-def]
            calls.append([s.pair for s in saves])
            if len(calls) == 2:  # another worker saves E3's record just before this batch
                [stale] = [s for s in saves if s.member_id == "E3"]
                assert await real.save_record(
                    "E3",
                    COURSE,
                    expected_rev=stale.expected_rev,
                    record=stale.record,
                    version=stale.version,
                    now_us=1,
                    event=None,
                )
            return await real.save_records(saves)

    worker = make_worker(batch=100)
    worker._stores = with_(stores, aggregates=Spy())  # type: ignore[arg-type]
    await writer.store(*(statement("attempted", actor=hris_actor(f"E{n}")) for n in range(6)))
    assert await worker.drain() == 6
    assert calls == [[(f"E{n}", COURSE) for n in range(6)]]  # one save for the batch

    await writer.store(*(statement("completed", actor=hris_actor(f"E{n}")) for n in range(6)))
    assert await worker.drain() == 6
    assert len(calls) == 3 and calls[2] == [("E3", COURSE)]  # only the loser again
    for n in range(6):
        assert (await record(stores, f"E{n}"))["learning_completed"] is True
    versions = [e["version"] for e in await events(backend, stores) if e["member_id"] == "E3"]
    assert sorted(versions) == [1, 2]


async def test_a_linked_lms_account_projects_what_it_held_old_facts_included(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    lms = "https://lms.example.com"
    actor = {"objectType": "Agent", "account": {"homePage": lms + "/", "name": "anon-7"}}
    await writer.store(statement("completed", actor=actor))
    await worker.drain()
    assert await stores.facts.unmatched_counts() == {f"account:{lms}\nanon-7": 1}
    # a fact stored before accounts could match carries the IFI key; it projects the same
    [held] = await stores.facts.unmatched_facts(10)
    await stores.facts.put_facts([replace(held, actor_key=f"ifi:account:{lms}/\nanon-7")])
    linked, moved = await IdentityService(stores, worker, AuditLog(stores.audit)).link(
        "E3", lms, "anon-7"
    )
    assert linked and moved == 1
    assert (await record(stores, "E3"))["learning_completed"] is True
    assert await stores.facts.count_unmatched() == 0


async def test_a_recompute_that_changes_no_field_saves_quietly_without_an_event(
    backend: Backend,
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    await writer.store(statement("completed"))
    await worker.drain()
    assert [e["type"] for e in await events(backend, stores)] == ["learning.created"]
    text = projection_settings().mapping_path.read_text().replace("# version: 1", "# version: 2")
    path = tmp_path / "mapping.csv"
    path.write_text(text)
    new = Projector.from_settings(projection_settings(mapping_path=path))
    await ProjectionWorker(backend.statements, stores, new).recompute([("E1", COURSE)])
    stored = await stores.aggregates.get_record("E1", COURSE)
    assert stored is not None and stored.record is not None
    assert (stored.record["mapping_version"], stored.version) == ("2", 1)
    assert [e["type"] for e in await events(backend, stores)] == ["learning.created"]


async def test_a_batch_writes_facts_a_slice_at_a_time_and_saves_each_record_once(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer, monkeypatch
) -> None:
    """A batch larger than a slice is claimed and its facts written a slice at a time; its
    records are rebuilt once, after the last slice, each from all of the batch's facts."""
    from dataclasses import replace as with_

    from projections import worker as worker_module

    monkeypatch.setattr(worker_module, "_SLICE", 2)
    real_facts, real_records = stores.facts, stores.aggregates
    fact_writes: list[int] = []
    saves: list[list[tuple[str, str]]] = []

    class Facts:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real_facts, name)

        async def replace_facts(self, facts, voiding=()):  # type: ignore[no-untyped-def]
            fact_writes.append(len(facts))
            return await real_facts.replace_facts(facts, voiding)

    class Records:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real_records, name)

        async def save_records(self, batch):  # type: ignore[no-untyped-def]
            saves.append([s.pair for s in batch])
            return await real_records.save_records(batch)

    worker = make_worker(batch=5)
    worker._stores = with_(stores, facts=Facts(), aggregates=Records())  # type: ignore[arg-type]
    verbs = ["attempted", "attempted", "completed", "passed", "scored", "attempted"]
    ids = await writer.store(
        *(statement(verb, actor=hris_actor(f"E{n % 2}")) for n, verb in enumerate(verbs))
    )
    assert await worker.run_once() == 5
    assert fact_writes == [2, 2, 1]
    assert len(saves) == 1  # once each, after the slices
    assert sorted(saves[0]) == [("E0", COURSE), ("E1", COURSE)]
    assert await backend.statements.count_awaiting_projection() == 1
    counted = [(await record(stores, m))["provenance"]["statements"] for m in ("E0", "E1")]
    assert sum(len(c) for c in counted) == 5
    assert [e["version"] for e in await events(backend, stores)] == [1, 1]  # no intermediate
    assert await worker.run_once() == 1
    assert await backend.statements.count_awaiting_projection() == 0
    assert (await record(stores, "E0"))["provenance"]["statements"] == [ids[0], ids[2], ids[4]]
    assert (await record(stores, "E1"))["provenance"]["statements"] == [ids[1], ids[3], ids[5]]


async def test_a_long_batch_renews_its_leases_before_they_lapse(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer, monkeypatch
) -> None:
    """Once half the lease has passed, the batch's statements are leased again, so another
    worker cannot take the first slices while the batch is still being applied."""
    from dataclasses import replace as with_

    from projections import worker as worker_module

    monkeypatch.setattr(worker_module, "_SLICE", 1)
    now = [1_000_000_000_000]
    real_facts = stores.facts
    first: list[str] = []
    taken: list[set[str]] = []

    class SlowFacts:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real_facts, name)

        async def replace_facts(self, facts, voiding=()):  # type: ignore[no-untyped-def]
            first.extend(f.statement_id for f in facts[:1] if not first)
            now[0] += 4_000_000  # each slice takes 4 s of a 10 s lease
            return await real_facts.replace_facts(facts, voiding)

        async def facts_for_pairs(self, pairs):  # type: ignore[no-untyped-def]
            # rebuilding, 12 s after the first claim: another worker tries the first slice
            taken.append(await stores.work.claim(first, "other", now[0], 10_000_000))
            return await real_facts.facts_for_pairs(pairs)

    worker = make_worker(batch=3, lease_s=10, clock=lambda: now[0])
    worker._stores = with_(stores, facts=SlowFacts())  # type: ignore[arg-type]
    await writer.store(*(statement("attempted", actor=hris_actor(f"E{n}")) for n in range(3)))
    assert await worker.run_once() == 3
    assert taken and taken[0] == set()  # still this worker's: renewed at 8 s


async def test_a_slice_is_let_go_once_its_facts_are_written(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer, monkeypatch
) -> None:
    """What a slice was mapped to is freed once its facts are written: a batch's memory is
    that of a slice (and the ids, pairs and causes it keeps), not of all its statements."""
    import weakref
    from dataclasses import replace as with_

    from projections import worker as worker_module

    monkeypatch.setattr(worker_module, "_SLICE", 1)
    worker = make_worker(batch=4)
    real_mapper, real_facts = worker._mapper, stores.facts
    mapped: list[weakref.ref] = []
    written: set[str] = set()
    alive: list[int] = []  # at each slice's write, contributions of slices written before

    class Mapper:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real_mapper, name)

        async def assess(self, statements, *, claimed=None):  # type: ignore[no-untyped-def]
            found = await real_mapper.assess(statements, claimed=claimed)
            mapped.extend(weakref.ref(a.contribution) for a in found if a.contribution)
            return found

    class Facts:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real_facts, name)

        async def replace_facts(self, facts, voiding=()):  # type: ignore[no-untyped-def]
            contributions = [c for r in mapped if (c := r()) is not None]
            alive.append(sum(1 for c in contributions if c.statement_id in written))
            written.update(f.statement_id for f in facts)
            return await real_facts.replace_facts(facts, voiding)

    worker._mapper = Mapper()
    worker._stores = with_(stores, facts=Facts())  # type: ignore[arg-type]
    await writer.store(*(statement("attempted", actor=hris_actor(f"E{n}")) for n in range(4)))
    assert await worker.run_once() == 4
    assert len(mapped) == 4 and len(written) == 4
    assert alive == [0, 0, 0, 0]
