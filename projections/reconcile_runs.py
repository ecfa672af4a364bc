"""Reconciliation as an operation: every run recorded, a daily schedule, the drift history.

The integration's acceptance criterion is drift below 1% over a 7-day window, so each run,
manual (`lrs reconcile`, `--fix`), scheduled (`lrs worker --reconcile-daily`,
`LRS_RECONCILE_DAILY=1`) or ending a mapping rollout (`lrs mapping deploy`), is stored
(`ReconcileRunStore`) with when it ran, the records it checked, the drift it found (count and
% of the records there should be, before any fix), what it fixed, the cases it flagged for
review instead (`projections.reconcile`), and the records of another mapping version it found
(a rollout pending, not drift). The history of a window says whether the criterion held: every
run in it found drift below
`DRIFT_SLO_PERCENT` (no run in the window: unknown, `null`).

A scheduled run fixes what it safely can (never the flagged cases). Runs are few, and a run's
record is small (the flagged cases it keeps are capped at `FLAGGED_KEPT`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from projections.daily import DAY_US, DailyJob
from projections.reconcile import DriftReport, Reconciler
from projections.store.reconcile_runs import FLAGGED_KEPT, ReconcileRun, ReconcileRunStore
from projections.transforms import format_datetime

log = logging.getLogger(__name__)

DRIFT_SLO_PERCENT = 1.0
MANUAL, SCHEDULED, ROLLOUT = "manual", "scheduled", "rollout"


def run_json(run: ReconcileRun, *, with_flagged: bool = True) -> dict[str, Any]:
    """A run as the CLI and the API show it (times in the record form, UTC)."""
    data: dict[str, Any] = {
        "id": run.id,
        "trigger": run.trigger,
        "fix": run.fix,
        "started_at": format_datetime(run.started_us),
        "finished_at": format_datetime(run.finished_us),
        "records_checked": run.records_checked,
        "expected_records": run.expected_records,
        "drift": run.drift,
        "drift_percent": run.drift_percent,
        "drift_after": run.drift_after,
        "fixed": run.fixed,
        "flagged": run.flagged_count,
        "awaiting_projection": run.awaiting_projection,
        "mapping_rollout_pending": run.rollout_pending,
    }
    if with_flagged:
        data["flagged_cases"] = list(run.flagged)
    return data


@dataclass(frozen=True)
class DriftHistory:
    """The runs of a window, newest first, and whether the drift criterion held over it."""

    days: int
    since_us: int
    until_us: int
    runs: list[ReconcileRun]

    @property
    def max_drift_percent(self) -> float | None:
        """The largest drift a run of the window found (None: no run)."""
        return max((r.drift_percent for r in self.runs), default=None)

    @property
    def held(self) -> bool | None:
        """Whether every run of the window found drift below the SLO (None: no run)."""
        top = self.max_drift_percent
        return None if top is None else top < DRIFT_SLO_PERCENT

    def to_json(self) -> dict[str, Any]:
        """The history for `--json` and the admin API."""
        return {
            "window_days": self.days,
            "since": format_datetime(self.since_us),
            "until": format_datetime(self.until_us),
            "slo_drift_percent_below": DRIFT_SLO_PERCENT,
            "slo_held": self.held,
            "max_drift_percent": self.max_drift_percent,
            "runs": [run_json(r, with_flagged=False) for r in self.runs],
        }


class ReconcileRuns:
    """Runs the reconciler and records each run; reads the history back."""

    def __init__(
        self, reconciler: Reconciler, store: ReconcileRunStore, clock: Callable[[], int]
    ) -> None:
        self._reconciler = reconciler
        self._store = store
        self._clock = clock

    async def run(
        self, *, fix: bool = False, include_flagged: bool = False, trigger: str = MANUAL
    ) -> tuple[DriftReport, ReconcileRun]:
        """Reconcile (and fix), then record the run."""
        started = self._clock()
        report = await self._reconciler.reconcile(fix=fix, include_flagged=include_flagged)
        run = ReconcileRun(
            id=uuid.uuid4().hex,
            trigger=trigger,
            fix=fix,
            started_us=started,
            finished_us=max(self._clock(), started),
            records_checked=report.records_checked,
            expected_records=report.expected,
            drift=report.drift_found,
            drift_percent=report.percent(report.drift_found),
            drift_after=report.drift,
            fixed=report.fixed,
            flagged_count=len(report.flagged),
            awaiting_projection=report.awaiting,
            rollout_pending=len(report.rollout) + report.reprojected,
            flagged=tuple(f.to_json() for f in report.flagged[:FLAGGED_KEPT]),
        )
        await self._store.add_run(run)
        return report, run

    async def history(self, days: int = 7) -> DriftHistory:
        """The runs started in the last `days` days."""
        now = self._clock()
        since = now - days * DAY_US
        return DriftHistory(days, since, now, await self._store.runs_since(since))

    async def latest(self) -> ReconcileRun | None:
        """The newest run (its flagged cases: `lrs reconcile flagged`)."""
        return await self._store.latest_run()


class DailyReconcile(DailyJob[tuple[DriftReport, ReconcileRun]]):
    """`lrs worker --reconcile-daily`: reconcile and fix (not the flagged cases) once a day."""

    name = "reconcile run"

    def __init__(self, runs: ReconcileRuns, clock: Callable[[], int], every_us: int = DAY_US):
        super().__init__(lambda: runs.run(fix=True, trigger=SCHEDULED), clock, every_us)

    def report(self, result: tuple[DriftReport, ReconcileRun]) -> None:
        """A line per run: the history has the rest."""
        run = result[1]
        log.info(
            "reconcile: drift %s (%s%%), fixed %s, flagged %s",
            run.drift,
            run.drift_percent,
            run.fixed,
            run.flagged_count,
        )
