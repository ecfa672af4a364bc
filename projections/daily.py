"""A job a worker process runs at start and then once a day (`lrs worker --retention-daily`,
`--reconcile-daily`).

The day is counted in the process: each worker that runs a job runs it, which the jobs
scheduled this way tolerate (a second retention run finds nothing past its period; a second
reconcile finds no drift and records a run of its own). A failed run is logged and tried again
at the next check, so a store outage does not stop the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from projections.wakeup import pause

log = logging.getLogger(__name__)

DAY_US = 86_400 * 1_000_000
T = TypeVar("T")


class DailyJob(Generic[T]):
    """Runs `job` when it is due: at the first check, then `every_us` after the last run."""

    name = "daily job"

    def __init__(
        self, job: Callable[[], Awaitable[T]], clock: Callable[[], int], every_us: int = DAY_US
    ) -> None:
        self._job = job
        self._clock = clock
        self._every_us = every_us
        self.next_us: int | None = None

    async def run_due(self) -> T | None:
        """Run if the period has passed since the last run (or none ran); its result, if it ran."""
        now = self._clock()
        if self.next_us is not None and now < self.next_us:
            return None
        result = await self._job()
        self.next_us = now + self._every_us
        return result

    def report(self, result: T) -> None:
        """Log what a run did (subclasses say what is worth a line)."""

    async def run(self, stop: asyncio.Event, check_s: float = 60.0) -> None:
        """Check every `check_s` until `stop` is set; a failed run is logged and retried."""
        while not stop.is_set():
            try:
                result = await self.run_due()
                if result is not None:
                    self.report(result)
            except Exception:  # a failure must not stop the worker: log, retry next check
                log.exception("%s failed; retrying", self.name)
            await pause(stop, check_s)
