"""Reconciliation: drift is 0 after the worker, is found when records are wrong, and --fix
corrects records and facts alike."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from lrs.model.statements import StatementFilter
from lrs.store.base import Backend
from projections.facts import Projector
from projections.reconcile import Reconciler
from projections.store import ProjectionStores
from projections.store.base import OutboxEvent
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    Writer,
    claim,
    hris_actor,
    mbox_actor,
    projection_settings,
    statement,
    voiding,
)


def reconciler(
    backend: Backend, stores: ProjectionStores, projector: Projector, worker: ProjectionWorker
) -> Reconciler:
    return Reconciler(backend.statements, stores, projector, worker)


async def damage(stores: ProjectionStores, member: str, activity: str, record: dict | None) -> None:
    """Overwrite a record behind the worker's back."""
    current = await stores.aggregates.get_record(member, activity)
    rev, version = (current.rev, current.version) if current else (0, 0)
    event = OutboxEvent(f"evt_damage_{member}", "learning.updated", member, activity, 1, b"{}")
    assert await stores.aggregates.save_record(
        member,
        activity,
        expected_rev=rev,
        record=record,
        version=version + 1,
        now_us=1,
        event=event,
    )


async def seed(writer: Writer) -> list[str]:
    ids = await writer.store(
        statement("attempted", actor=hris_actor("E1")),
        statement("passed", actor=hris_actor("E1"), result={"score": {"scaled": 0.7}}),
        statement("completed", actor=hris_actor("E2"), activity=f"{COURSE}/2"),
        statement("attempted", actor=mbox_actor("nobody@example.com")),
    )
    await writer.store(voiding(ids[0]))
    return ids


async def test_no_drift_after_the_worker(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await seed(writer)
    rec = reconciler(backend, stores, projector, worker)
    before = await rec.reconcile()
    assert before.missing and before.awaiting == 5  # nothing projected yet
    await worker.drain()
    report = await rec.reconcile()
    assert report.drift == 0 and report.drift_percent == 0.0
    assert report.expected == report.stored == 2
    assert report.unmatched == 1 and report.awaiting == 0


async def test_drift_is_found_and_fixed(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await seed(writer)
    await worker.drain()
    # damage: one record edited, one removed, one invented
    e1 = await stores.aggregates.get_record("E1", COURSE)
    assert e1 is not None and e1.record is not None
    await damage(stores, "E1", COURSE, None)
    await damage(stores, "E9", COURSE, {"made": "up"})
    e2 = await stores.aggregates.get_record("E2", f"{COURSE}/2")
    assert e2 is not None and e2.record is not None
    await damage(stores, "E2", f"{COURSE}/2", {**e2.record, "score": {"value": 1}})
    rec = reconciler(backend, stores, projector, worker)
    report = await rec.reconcile()
    assert (len(report.differing), len(report.missing), len(report.extra)) == (1, 1, 1)
    assert report.drift == 3 and report.drift_percent == 150.0

    fixed = await rec.reconcile(fix=True)
    assert fixed.drift == 0 and fixed.fixed == 3
    assert (await rec.reconcile()).drift == 0
    after = await stores.aggregates.get_record("E1", COURSE)
    assert after is not None and after.record is not None and after.record["learning_completed"]


async def test_a_new_mapping_version_is_a_pending_rollout_not_drift(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    await seed(writer)
    await worker.drain()
    text = projection_settings().mapping_path.read_text().replace("# version: 2", "# version: 3")
    path = tmp_path / "mapping.csv"
    path.write_text(text)
    new = Projector.from_settings(projection_settings(mapping_path=path))
    new_worker = ProjectionWorker(backend.statements, stores, new)
    rec = Reconciler(backend.statements, stores, new, new_worker)
    found = await rec.reconcile()
    assert found.drift == 0 and found.differing == []
    assert len(found.rollout) == 2 and found.to_json()["mapping_rollout_pending"] == 2
    fixed = await rec.reconcile(fix=True)  # --fix re-projects them too
    assert fixed.drift == 0 and fixed.rollout == [] and fixed.reprojected == 2
    assert (await rec.reconcile()).rollout == []


async def test_identities_loaded_are_reconciled(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await seed(writer)
    await worker.drain()
    await claim(stores, "E5", "nobody@example.com")
    rec = reconciler(backend, stores, projector, worker)
    assert len((await rec.reconcile()).missing) == 1  # the worker has not looked yet
    await worker.run_once()
    assert (await rec.reconcile()).drift == 0


class PageSpy:
    """A store that notes, per call, how many items went in and came out."""

    def __init__(self, real: object, sizes: list[tuple[str, int]]) -> None:
        self._real = real
        self._sizes = sizes

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            for arg in [*args, *kwargs.values()]:
                if isinstance(arg, list):
                    self._sizes.append((name, len(arg)))
                elif isinstance(arg, StatementFilter):
                    self._sizes.append((name, arg.limit))
            result = await attr(*args, **kwargs)
            items = result
            for attribute in ("statements", "records"):
                items = getattr(items, attribute, items)
            if isinstance(items, list | dict | set):
                self._sizes.append((name, len(items)))
            if name in ("page_records", "counted_pairs", "counted_facts"):
                self._sizes.append((name, kwargs.get("limit", args[0] if args else 100)))
            return result

        return call


async def test_reconcile_reads_page_by_page_and_finds_the_same_drift(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    members, activities = [f"E{n}" for n in range(6)], [f"{COURSE}/{n}" for n in range(4)]
    hris = await writer.store(
        *(
            statement(verb, actor=hris_actor(m), activity=a)
            for m in members
            for a in activities[: 1 + int(m[1:]) % 4]
            for verb in ("attempted", "completed")
        )
    )
    ids = await writer.store(*(statement("passed", actor=mbox_actor(f"{m}@x.com")) for m in "ab"))
    await worker.drain()
    await writer.store(voiding(hris[0]))  # awaiting: E0's record differs until projected
    await damage(stores, "E1", COURSE + "/0", None)
    await damage(stores, "E9", COURSE, {"made": "up"})
    await stores.facts.delete_facts(ids[:1])  # an unmatched fact lost: no record drift
    await claim(stores, "E7", "b@x.com")  # now b@x.com counts

    whole = await reconciler(backend, stores, projector, worker).reconcile()
    assert whole.drift == 4 and whole.expected == 14  # 13 records made + E7's
    assert (len(whole.differing), len(whole.missing), len(whole.extra)) == (1, 2, 1)
    sizes: list[tuple[str, int]] = []
    spied = replace(
        stores,
        facts=PageSpy(stores.facts, sizes),
        aggregates=PageSpy(stores.aggregates, sizes),
        identities=PageSpy(stores.identities, sizes),
    )
    paged = Reconciler(
        PageSpy(backend.statements, sizes),  # type: ignore[arg-type]
        spied,  # type: ignore[arg-type]
        projector,
        worker,
        page=3,
    )
    report = await paged.reconcile()
    assert report.to_json() == whole.to_json()
    assert sizes and max(size for _name, size in sizes) <= 3, sizes
    calls = Counter(name for name, _size in sizes)
    for name in ("query_statements", "counted_facts", "counted_pairs", "page_records"):
        assert calls[name] > 2, (name, calls)  # the store is bigger than a page

    sizes.clear()
    fixed = await paged.reconcile(fix=True)
    assert fixed.drift == 0 and fixed.fixed == 4
    assert max(size for _name, size in sizes) <= 3, sizes
    assert (await reconciler(backend, stores, projector, worker).reconcile()).drift == 0


async def test_a_new_mapping_version_fixed_sends_no_event_for_records_that_did_not_change(
    backend: Backend,
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    await seed(writer)
    await worker.drain()
    await stores.aggregates.publish_events()
    before = {e.id for e in await stores.deliveries.unfanned_events(1000)}
    old = await stores.aggregates.get_record("E1", COURSE)
    text = projection_settings().mapping_path.read_text().replace("# version: 2", "# version: 3")
    path = tmp_path / "mapping.csv"
    path.write_text(text)
    new = Projector.from_settings(projection_settings(mapping_path=path))
    rec = Reconciler(
        backend.statements, stores, new, ProjectionWorker(backend.statements, stores, new)
    )
    report = await rec.reconcile(fix=True)
    assert (report.drift, report.fixed, report.reprojected) == (0, 0, 2)  # a rollout: no drift
    stored = await stores.aggregates.get_record("E1", COURSE)
    assert stored is not None and stored.record is not None
    assert old is not None and stored.version == old.version  # no new version
    assert stored.record == {**old.record, "mapping_version": "3"}  # type: ignore[dict-item]
    await stores.aggregates.publish_events()
    sent = [e for e in await stores.deliveries.unfanned_events(1000) if e.id not in before]
    assert sent == []  # was: one learning.updated with `changes: []` per record


class ArrivingStatements:
    """The statement store, with statements stored (not projected) as a comparison starts
    its `start`-th full read of the statements: ingest going on while reconcile runs."""

    def __init__(self, real: Any, writer: Writer, start: int, *statements: dict) -> None:
        self._real, self._writer, self._start = real, writer, start
        self._statements = statements
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def query_statements(self, query: StatementFilter) -> Any:
        if query.after is None:
            self.reads += 1
            if self.reads == self._start:
                await self._writer.store(*self._statements)
        return await self._real.query_statements(query)


async def test_fix_counts_the_pairs_it_fixed_while_statements_keep_arriving(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await seed(writer)
    await worker.drain()
    await writer.store(*(statement("attempted", activity=f"{COURSE}/a{n}") for n in range(2)))
    later = [statement("completed", activity=f"{COURSE}/b{n}") for n in range(5)]
    arriving = ArrivingStatements(backend.statements, writer, 2, *later)  # 2nd: after the fix
    rec = Reconciler(arriving, stores, projector, worker)  # type: ignore[arg-type]
    report = await rec.reconcile(fix=True)
    assert arriving.reads == 2
    assert report.fixed == 2  # the 2 awaiting at the start: was 2 - 5 = "fixed -3"
    assert report.missing == sorted(("E1", f"{COURSE}/b{n}") for n in range(5))
    assert report.arrived == report.missing and report.unresolved == 0
    assert report.to_json()["arrived_during_run"] == 5
    await worker.drain()
    assert (await reconciler(backend, stores, projector, worker).reconcile()).drift == 0
