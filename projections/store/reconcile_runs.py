"""The storage seam of reconciliation as an operation: one record per reconcile run.

    ReconcileRun       when a run started and finished, what triggered it (a person at the
                       CLI or API, or the worker's schedule), how many records it checked,
                       the drift it found (count and % of the records there should be), how
                       many it fixed and which cases it flagged for review instead

Runs are few (a daily schedule plus manual ones), so a run is one row / document, its flagged
cases included (capped: `FLAGGED_KEPT`); the history is read by start time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

FLAGGED_KEPT = 100  # flagged cases kept in a run's record (the count is always exact)


@dataclass(frozen=True)
class ReconcileRun:
    """One reconcile run and what it found.

    `drift` and `drift_percent` are what the run found before fixing anything (the drift the
    marketplace saw); `drift_after` is what was left (the same when the run did not fix).
    """

    id: str
    trigger: str  # "manual" (CLI, API), "scheduled" (the worker's daily run) or "rollout"
    fix: bool
    started_us: int
    finished_us: int
    records_checked: int
    expected_records: int
    drift: int
    drift_percent: float
    drift_after: int
    fixed: int
    flagged_count: int
    awaiting_projection: int
    flagged: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    rollout_pending: int = 0  # records of another mapping version found (not drift)


@runtime_checkable
class ReconcileRunStore(Protocol):
    """Reconcile runs, by start time."""

    async def add_run(self, run: ReconcileRun) -> None:
        """Store a run (its id is new)."""
        ...

    async def runs_since(self, since_us: int, limit: int = 1000) -> list[ReconcileRun]:
        """Runs started at or after `since_us`, newest first, at most `limit`."""
        ...

    async def latest_run(self) -> ReconcileRun | None:
        """The run started last, or None."""
        ...
