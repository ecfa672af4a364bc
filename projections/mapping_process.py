"""Statements mapped (`Projector.assess`) in a child process, for large batches.

Why: the worker is bound by one interpreter lock. Mapping a statement (parse its JSON, run the
mapping's rows, check the values) is the largest part of the worker's own CPU once a batch's
records are rebuilt once (`projections.worker`), and it needs nothing but the statement and
the projector, so it can run in another process, on another core. The worker claims a
batch's next slice while it writes the facts of the one before and hands the slice's
statements to the child meanwhile: the mapping of one slice runs beside the writing of the
one before.

What goes across costs far less than the mapping itself: the stored bytes of each statement (and
its stored time) go to the child, the assessments (a small dict of values per statement) come
back pickled. A slice smaller than `least` (half a full slice) is mapped in this process: for it
a hand-off buys little (a live feed's batches are small), and a worker that only ever sees small
ones never starts a child. The child is started on first use (spawned, never forked: the
worker's process runs threads) with a copy of the projector, and stopped by `close`. Should the
child not start or die, the statements are mapped in this process and the child is not tried
again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import orjson

from lrs.model.statements import StoredStatement
from projections.facts import Assessment, Projector

log = logging.getLogger(__name__)

# Below this many statements a slice is mapped in the worker's own process: only the large
# slices of a backlog (`projections.worker._SLICE`, 20000) go to the child. A burst of live
# statements (the pipeline benchmark's 2,000) is mapped in process: starting the child (about
# a second) would delay exactly the batch a receiver waits for.
LEAST_FOR_CHILD = 5000

_child_projector: list[Projector] = []  # in the child: the projector it maps with


def _start_child(projector: Projector) -> None:
    _child_projector[:] = [projector]


def _assess_in_child(items: Sequence[tuple[bytes, int]]) -> list[Assessment]:
    projector = _child_projector[0]
    return [projector.assess(orjson.loads(raw), stored_us) for raw, stored_us in items]


def assess_here(projector: Projector, statements: Sequence[StoredStatement]) -> list[Assessment]:
    """The assessment of each statement, in this process."""
    return [projector.stored_assessment(s) for s in statements]


class StatementMapper:
    """Maps batches of stored statements: in a child process when large (see the module doc),
    else in this one. `processes=0`: always in this one."""

    def __init__(
        self, projector: Projector, *, processes: int = 1, least: int = LEAST_FOR_CHILD
    ) -> None:
        self._projector = projector
        self._processes = processes
        self._least = least
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False

    async def assess(
        self, statements: Sequence[StoredStatement], *, claimed: int | None = None
    ) -> list[Assessment]:
        """The assessment of each statement (none of them voiding), in their order.

        `claimed`: how many statements the slice they come from held, voiding ones included
        (they are left out here, so a full slice with a void in it must still count as full);
        by default as many as are given."""
        size = len(statements) if claimed is None else claimed
        if self._processes < 1 or self._failed or size < self._least or not statements:
            return assess_here(self._projector, statements)
        items = [(s.raw, s.stored_us) for s in statements]
        try:
            pool = self._pool or self._start()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool, _assess_in_child, items)
        except Exception as exc:  # not started, died, or the projector would not pickle
            log.warning("mapping in a child process failed (%s); mapping in this one", exc)
            self._failed = True
            self.close()
            return assess_here(self._projector, statements)

    def _start(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(self._projector,),
        )
        return self._pool

    def close(self) -> None:
        """Stop the child, if one was started (it is started again when needed)."""
        if self._pool is not None:  # waited for: a child left running would hold its memory
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
