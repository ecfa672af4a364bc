"""ReconcileRunStore contract, on every backend."""

from __future__ import annotations

from projections.store import ProjectionStores
from projections.store.reconcile_runs import ReconcileRun, ReconcileRunStore


def run(run_id: str, started_us: int, **changes: object) -> ReconcileRun:
    values: dict[str, object] = {
        "id": run_id,
        "trigger": "manual",
        "fix": False,
        "started_us": started_us,
        "finished_us": started_us + 5,
        "records_checked": 10,
        "expected_records": 9,
        "drift": 1,
        "drift_percent": 11.1111,
        "drift_after": 1,
        "fixed": 0,
        "flagged_count": 0,
        "awaiting_projection": 0,
        **changes,
    }
    return ReconcileRun(**values)  # type: ignore[arg-type]


async def test_runs_are_read_back_newest_first(stores: ProjectionStores) -> None:
    runs = stores.reconcile_runs
    assert isinstance(runs, ReconcileRunStore)
    assert await runs.latest_run() is None
    assert await runs.runs_since(0) == []
    flagged = {"kind": "member_changed", "statement_id": "s1", "counted_for": "E1"}
    first = run("a", 100, flagged=(flagged,), flagged_count=1)
    second = run("b", 300, trigger="scheduled", fix=True, fixed=1, drift_after=0)
    third = run("c", 200)
    for each in (first, second, third):
        await runs.add_run(each)
    assert await runs.runs_since(0) == [second, third, first]
    assert await runs.runs_since(200) == [second, third]
    assert await runs.runs_since(0, limit=1) == [second]
    assert await runs.latest_run() == second
    assert (await runs.runs_since(100))[-1].flagged == (flagged,)
