"""Statements mapped (`Projector.assess`), and records folded, in a child process, for large
batches.

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

A share of each large slice is mapped in this process while the child maps the rest, for as
long as the worker has to wait for the child's mappings (the child is then the slower of the
two: a small store, whose facts are written quickly); once they are ready before they are
needed (the store's writer is the slower: a large store) the share falls to none, and this
process's CPU goes to the writing. Drains of a 100,000 backlog, in turn: 20,915 / 20,694 /
20,915 statements/s with a fixed quarter mapped here against 20,190 / 19,278 / 19,440 with
none; of a 1,000,000 backlog the fixed quarter was 4-7% slower (docs/performance.md). The
share mapped here is mapped a step at a time, giving way to the event loop between steps.

The child also folds records (`fold`) while the worker rebuilds a backlog's records, when it is
otherwise idle: for a share of each large chunk of pairs it reads the facts itself, through the
store's reader for another process (`FactStore.reader`: SQLite only), and sends back the folded
records, a fraction of the size of the facts (1000 pairs of 8 facts: about 23 ms to unpickle the
facts, 4 ms the records). Should that fail, the worker folds in its own process and the child
is not used again. Folding never starts a child, only a large slice's mapping does: a live
burst of a thousand statements about as many records makes chunks large enough to fold there,
and a child started in its midst (a new interpreter importing the projection, on a 2-core
machine beside the server) delayed its webhooks: in the pipeline benchmark the sustained lag's
p95 read 1.10-1.45 s in 4 runs of 11, and never in the 3 runs without a child
(docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from lrs.model.statements import StoredStatement
from projections.aggregates import fold_for_member
from projections.facts import Assessment, Projector
from projections.store.base import FactsReader, Member, Pair

log = logging.getLogger(__name__)

# Below this many statements a slice is mapped in the worker's own process: only the large
# slices of a backlog (`projections.worker._SLICE`, 20000) go to the child. A burst of live
# statements (the pipeline benchmark's 2,000) is mapped in process: starting the child (about
# a second) would delay exactly the batch a receiver waits for.
LEAST_FOR_CHILD = 5000
# The share of a large slice mapped here (see the module doc): where it starts, its step up
# after a mapping waited for and down after one that was ready, and its most.
FIRST_SHARE_HERE = 0.25
SHARE_STEP = 0.05
MOST_SHARE_HERE = 0.5
_STEP_HERE = 500  # statements mapped here between two turns of the event loop (about 15 ms)

_child_projector: list[Projector] = []  # in the child: the projector it maps with


def _start_child(projector: Projector) -> None:
    _child_projector[:] = [projector]


def _assess_in_child(items: Sequence[tuple[bytes, int]]) -> list[Assessment]:
    projector = _child_projector[0]
    return [projector.assess(orjson.loads(raw), stored_us) for raw, stored_us in items]


def _fold_in_child(
    reader: FactsReader,
    pairs: Sequence[Pair],
    members: Mapping[str, Member],
    mapping_version: str,
) -> dict[Pair, dict[str, Any] | None]:
    facts = reader.facts_for_pairs(pairs)
    return {
        (m, a): fold_for_member(m, a, facts.get((m, a), []), members.get(m), mapping_version)
        for m, a in pairs
    }


def assess_here(projector: Projector, statements: Sequence[StoredStatement]) -> list[Assessment]:
    """The assessment of each statement, in this process."""
    return [projector.stored_assessment(s) for s in statements]


async def assess_here_in_steps(
    projector: Projector, statements: Sequence[StoredStatement]
) -> list[Assessment]:
    """`assess_here`, `_STEP_HERE` statements at a time: the event loop (HTTP requests, when
    the worker runs in the server) is never held for a whole share."""
    assessed: list[Assessment] = []
    for start in range(0, len(statements), _STEP_HERE):
        if start:
            await asyncio.sleep(0)
        assessed.extend(assess_here(projector, statements[start : start + _STEP_HERE]))
    return assessed


class StatementMapper:
    """Maps batches of stored statements: in a child process when large (see the module doc),
    else in this one. `processes=0`: always in this one. `share_here`: the share of a large
    batch mapped here to start with (then moved by `needed`)."""

    def __init__(
        self,
        projector: Projector,
        *,
        processes: int = 1,
        least: int = LEAST_FOR_CHILD,
        share_here: float = FIRST_SHARE_HERE,
    ) -> None:
        self._projector = projector
        self._processes = processes
        self._least = least
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False
        self.share_here = share_here

    def needed(self, *, waited: bool, claimed: int) -> None:
        """Told, for each slice the worker takes (`claimed`: its size, as given to `assess`),
        whether it had to wait for its mapping: more of the next large slices is then mapped
        here, else less. A slice mapped wholly here says nothing of the child: a live feed's
        small slices leave the share where the last backlog left it."""
        if not self._to_child(claimed):
            return
        step = SHARE_STEP if waited else -SHARE_STEP
        self.share_here = min(MOST_SHARE_HERE, max(0.0, self.share_here + step))

    async def assess(
        self, statements: Sequence[StoredStatement], *, claimed: int | None = None
    ) -> list[Assessment]:
        """The assessment of each statement (none of them voiding), in their order.

        `claimed`: how many statements the slice they come from held, voiding ones included
        (they are left out here, so a full slice with a void in it must still count as full);
        by default as many as are given."""
        size = len(statements) if claimed is None else claimed
        if not self._to_child(size) or not statements:
            return assess_here(self._projector, statements)
        split = len(statements) - int(len(statements) * self.share_here)
        items = [(s.raw, s.stored_us) for s in statements[:split]]
        try:
            pool = self._pool or self._start()
            there = asyncio.get_running_loop().run_in_executor(pool, _assess_in_child, items)
        except Exception as exc:  # not started, or the projector would not pickle
            return self._child_failed(exc, statements)
        try:
            here = await assess_here_in_steps(self._projector, statements[split:])
        except BaseException:  # the slice's mapping failed or was cancelled: so is the child's
            there.cancel()
            raise
        try:
            return [*await there, *here]
        except Exception as exc:  # died, or the projector would not pickle
            return self._child_failed(exc, statements)

    async def fold(
        self,
        reader: FactsReader,
        pairs: Sequence[Pair],
        members: Mapping[str, Member],
        mapping_version: str,
    ) -> dict[Pair, dict[str, Any] | None] | None:
        """The records of these pairs folded in the child from the facts `reader` reads
        there (`projections.worker.ProjectionWorker.recompute`); None when no child runs (none
        started by a large slice, not configured, or it failed: see `child_running`): the
        caller folds them itself."""
        pool = self._pool
        if pool is None or not self.has_child:  # none started by a large slice, or failed
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, _fold_in_child, reader, pairs, members, mapping_version
            )
        except Exception as exc:  # died, could not start, or the reader failed there
            self._give_up(exc, "folding")
            return None

    @property
    def has_child(self) -> bool:
        """Whether work may go to a child: one is configured and none has failed."""
        return self._processes >= 1 and not self._failed

    @property
    def child_running(self) -> bool:
        """Whether a child runs (started by a large slice's mapping) and may fold records."""
        return self.has_child and self._pool is not None

    def _to_child(self, size: int) -> bool:
        """Whether a slice of `size` claimed statements goes (in part) to the child."""
        return self.has_child and size >= self._least

    def _child_failed(
        self, exc: Exception, statements: Sequence[StoredStatement]
    ) -> list[Assessment]:
        self._give_up(exc, "mapping")
        return assess_here(self._projector, statements)

    def _give_up(self, exc: Exception, doing: str) -> None:
        """A child failed: stop it, and do everything in this process from now on."""
        log.warning("%s in a child process failed (%s); %s in this one", doing, exc, doing)
        self._failed = True
        self.close()

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
