"""Reconciliation as an operation: flagged cases are left for review, every run is recorded,
the history tells whether drift stayed below 1%, and the daily schedule runs it."""

from __future__ import annotations

from lrs.store.base import Backend
from projections.daily import DAY_US
from projections.facts import Projector
from projections.identity import EMAIL
from projections.reconcile import IDENTITY_CONFLICT, MEMBER_CHANGED
from projections.reconcile_runs import DailyReconcile, ReconcileRuns
from projections.store import ProjectionStores
from projections.worker import ProjectionWorker
from tests.projections.conftest import COURSE, Writer, claim, hris_actor, mbox_actor, statement
from tests.projections.test_reconcile import damage, reconciler

ADA = "ada@example.com"


class Clock:
    """A clock the test moves."""

    def __init__(self, now_us: int) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us


async def projected_for_e5(stores: ProjectionStores, writer: Writer, worker: ProjectionWorker):
    await claim(stores, "E5", ADA)
    await writer.store(statement("completed", actor=mbox_actor(ADA)))
    await worker.drain()
    assert (await stores.aggregates.get_record("E5", COURSE)) is not None


async def test_learning_that_would_move_to_another_member_is_flagged_not_fixed(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await projected_for_e5(stores, writer, worker)
    # the address passes to E6 in the identity map, and nothing re-projects
    await stores.identities.delete_claims([(EMAIL + ADA, "E5")])
    await claim(stores, "E6", ADA)
    rec = reconciler(backend, stores, projector, worker)
    report = await rec.reconcile(fix=True)
    assert [(f.kind, f.counted_for, f.now_for) for f in report.flagged] == [
        (MEMBER_CHANGED, "E5", "E6")
    ]
    assert report.extra == [("E5", COURSE)] and report.missing == [("E6", COURSE)]
    assert report.fixed == 0 and report.drift_found == 2
    e5 = await stores.aggregates.get_record("E5", COURSE)
    assert e5 is not None and e5.record is not None  # left as it was
    reviewed = await rec.reconcile(fix=True, include_flagged=True)
    assert reviewed.drift == 0 and reviewed.flagged == [] and reviewed.fixed == 2


async def test_an_address_two_members_claim_is_an_identity_conflict(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await projected_for_e5(stores, writer, worker)
    await claim(stores, "E6", ADA)  # now both claim it: it counts for nobody
    report = await reconciler(backend, stores, projector, worker).reconcile(fix=True)
    assert [(f.kind, f.counted_for, f.now_for) for f in report.flagged] == [
        (IDENTITY_CONFLICT, "E5", None)
    ]
    assert report.extra == [("E5", COURSE)] and report.fixed == 0


async def test_other_drift_is_still_fixed_beside_a_flagged_case(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    await projected_for_e5(stores, writer, worker)
    await writer.store(statement("completed", actor=hris_actor("E1")))
    await worker.drain()
    await damage(stores, "E1", COURSE, {"made": "up"})
    await claim(stores, "E6", ADA)
    report = await reconciler(backend, stores, projector, worker).reconcile(fix=True)
    assert report.drift_found == 2 and report.fixed == 1
    assert report.extra == [("E5", COURSE)] and len(report.flagged) == 1


async def test_each_run_is_recorded_and_the_history_says_whether_drift_held(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    clock = Clock(1_700_000_000_000_000)
    runs = ReconcileRuns(
        reconciler(backend, stores, projector, worker), stores.reconcile_runs, clock
    )
    assert (await runs.history()).held is None  # no run: unknown
    await writer.store(*(statement("completed", actor=hris_actor(f"E{n}")) for n in (1, 2)))
    await worker.drain()
    _report, clean = await runs.run()
    assert (clean.trigger, clean.fix, clean.drift, clean.records_checked) == ("manual", False, 0, 2)
    assert (await runs.history()).held is True
    clock.now_us += DAY_US
    await damage(stores, "E1", COURSE, {"made": "up"})
    report, fixed = await runs.run(fix=True)
    assert report.drift == 0
    assert (fixed.drift, fixed.drift_percent, fixed.fixed, fixed.drift_after) == (1, 50.0, 1, 0)
    week = await runs.history(7)
    assert [r.id for r in week.runs] == [fixed.id, clean.id]
    assert week.held is False and week.max_drift_percent == 50.0
    assert week.to_json()["slo_held"] is False
    clock.now_us += 7 * DAY_US + 1  # the bad day leaves the window
    _report, later = await runs.run()
    week = await runs.history(7)
    assert [r.id for r in week.runs] == [later.id] and week.held is True
    assert [r.id for r in (await runs.history(30)).runs] == [later.id, fixed.id, clean.id]


async def test_the_daily_schedule_runs_at_start_then_once_a_day_and_fixes(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    clock = Clock(1_700_000_000_000_000)
    runs = ReconcileRuns(
        reconciler(backend, stores, projector, worker), stores.reconcile_runs, clock
    )
    await writer.store(statement("completed", actor=hris_actor("E1")))
    await worker.drain()
    await damage(stores, "E1", COURSE, {"made": "up"})
    daily = DailyReconcile(runs, clock)
    first = await daily.run_due()
    assert first is not None
    assert (first[1].trigger, first[1].fix, first[1].fixed) == ("scheduled", True, 1)
    clock.now_us += DAY_US - 1
    assert await daily.run_due() is None
    clock.now_us += 1
    assert await daily.run_due() is not None
    assert len((await runs.history()).runs) == 2
