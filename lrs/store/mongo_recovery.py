"""The periodic sweep of unfinished statement batches on MongoDB.

A batch committed but not rolled forward (its writer lost the connection after the commit
point) stays invisible to queries, exports and the projection until someone meets it; a dead
pending batch holds its ids. The sweep at open handles what an earlier process left; this loop
repeats it while the process runs, so neither waits for a restart. Started by
`MongoBackend.open`, stopped by `MongoBackend.close` (so with the app's lifetime).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

log = logging.getLogger(__name__)


class RecoveryLoop:
    """Run `sweep` every `interval_s` seconds until stopped; a failed sweep waits for the next."""

    def __init__(self, sweep: Callable[[], Awaitable[None]], interval_s: float) -> None:
        self._sweep = sweep
        self.interval_s = interval_s
        self.sweeps = 0  # completed sweeps, for operators and tests
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop on the running event loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def running(self) -> bool:
        """Whether the loop is started and not stopped."""
        return self._task is not None and not self._task.done()

    async def run_once(self) -> None:
        """One sweep; errors are logged, never raised (the next sweep tries again)."""
        try:
            await self._sweep()
        except Exception:  # an outage or a refused write: the batches wait for the next sweep
            log.warning("the sweep of unfinished statement batches failed", exc_info=True)
        else:
            self.sweeps += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.run_once()

    async def stop(self) -> None:
        """Cancel the loop and wait for it to end (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
