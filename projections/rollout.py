"""Deploying a new mapping version as a planned re-projection: `lrs mapping deploy`.

Once the operator has installed a new mapping (`LRS_MARKETPLACE_MAPPING`), every record still
carries the version it was folded under. Left to `lrs reconcile --fix`, the rollout would look
like "100% drift"; here it is an operation of its own:

1. count the *pending* records: live records whose `mapping_version` is not the current one
   (the pairs of counted facts, by key, a page at a time: that order does not move as records
   are saved, unlike the update order);
2. re-project them a page at a time through the worker's own path (`ProjectionWorker.reapply`
   of the statements behind each pair), so the facts follow the new mapping too. A record whose
   content changes gets its change event; one that changes only in its `mapping_version` is
   saved quietly (no event, version kept: `aggregates.change_event`);
3. reconcile and fix what the record pass cannot see (statements the new mapping brings into
   scope, which had no fact before), recorded as a reconcile run with trigger `rollout`.

A record with a statement the identity map now names another member for is left as it is
(`held`): re-applying it would move learning between members, which reconcile flags for review
rather than fixing (`lrs reconcile flagged`); it stays pending until that is settled.

Cut short, it is resumed by running it again: records already at the current version are not
pending any more and are skipped.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from projections.identity import IdentityResolver
from projections.reconcile import DriftReport
from projections.reconcile_runs import ROLLOUT, ReconcileRuns
from projections.store import ProjectionStores
from projections.store.base import Fact, Pair, StoredRecord
from projections.store.reconcile_runs import ReconcileRun
from projections.worker import ProjectionWorker

_PAGE = 500


@dataclass
class RolloutResult:
    """What a deployment did."""

    version: str
    pending: int = 0  # records found at another version when it began
    reprojected: int = 0
    changed: int = 0  # content changed: one change event each
    quiet: int = 0  # only the mapping version changed: saved without an event
    removed: int = 0  # no record under the new mapping (a removal event each)
    held: int = 0  # left for review: re-applying would move learning between members
    report: DriftReport | None = None
    run: ReconcileRun | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary for `--json`."""
        return {
            "mapping_version": self.version,
            "records_pending": self.pending,
            "records_reprojected": self.reprojected,
            "records_changed": self.changed,
            "records_unchanged": self.quiet,
            "records_removed": self.removed,
            "records_held_for_review": self.held,
            "drift_after": None if self.report is None else self.report.drift,
            "run_id": None if self.run is None else self.run.id,
        }


class RolloutProgress:
    """`re-projected 500/2000 records, 812/s, ETA 2s` redrawn in place on a terminal; nothing
    elsewhere (the caller prints one summary line)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._started = time.monotonic()
        self.total = 0

    def start(self, total: int) -> None:
        """Begin timing `total` records (after they were counted: the rate is of the work)."""
        self.total = total
        self._started = time.monotonic()

    def update(self, done: int) -> None:
        """Redraw with `done` of `total` records."""
        if not self._tty:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate else 0.0
        self._stream.write(
            f"\rre-projected {done}/{self.total} records, {rate:.0f}/s, ETA {eta:.0f}s  "
        )
        self._stream.flush()

    def finish(self) -> None:
        """End the line on a terminal."""
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


class MappingRollout:
    """Re-projects the records of other mapping versions; see the module docstring."""

    def __init__(
        self,
        stores: ProjectionStores,
        worker: ProjectionWorker,
        runs: ReconcileRuns,
        version: str,
        *,
        page: int = _PAGE,
    ) -> None:
        self._stores = stores
        self._worker = worker
        self._runs = runs
        self._version = version
        self._page = page
        self._resolver = IdentityResolver(stores.identities)

    async def pending(self) -> int:
        """How many live records carry another mapping version."""
        count = 0
        async for _found in self._pending_pages():
            count += len(_found)
        return count

    async def deploy(self, progress: RolloutProgress | None = None) -> RolloutResult:
        """Re-project every pending record, then reconcile and fix (recorded as a run)."""
        result = RolloutResult(self._version, pending=await self.pending())
        if progress is not None:
            progress.start(result.pending)
        async for found in self._pending_pages():
            await self._reproject(found, result)
            if progress is not None:
                progress.update(result.reprojected)
        if progress is not None:
            progress.finish()
        result.report, result.run = await self._runs.run(fix=True, trigger=ROLLOUT)
        return result

    async def _pending_pages(self) -> Any:
        """Pages of pending records, by pair (a page read after the previous one is done)."""
        after: Pair | None = None
        while True:
            pairs = await self._stores.facts.counted_pairs(self._page, after)
            if not pairs:
                return
            records = await self._stores.aggregates.get_records(pairs)
            found = [r for p in pairs if self._is_pending(r := records.get(p))]
            if found:
                yield found
            after = pairs[-1]

    async def _moving(self, facts: dict[Pair, list[Fact]]) -> set[Pair]:
        """The pairs with a counted statement the identity map now names another member for:
        re-applying it would move learning between members, which reconcile flags for review
        (`projections.reconcile`) instead; they are left as they are."""
        counted = [f for found in facts.values() for f in found if not f.voided]
        members = await self._resolver.members_for([f.actor_key for f in counted])
        return {p for f in counted if (p := f.pair) and members[f.actor_key] != f.member_id}

    def _is_pending(self, stored: StoredRecord | None) -> bool:
        record = stored.record if stored is not None else None
        return record is not None and record.get("mapping_version") != self._version

    async def _reproject(self, found: list[StoredRecord], result: RolloutResult) -> None:
        """Re-apply the statements behind these records; count what their saves did."""
        pairs = [(r.member_id, r.activity_id) for r in found]
        facts = await self._stores.facts.facts_for_pairs(pairs)
        moving = await self._moving(facts)
        result.held += len(moving)
        found = [r for r in found if (r.member_id, r.activity_id) not in moving]
        pairs = [p for p in pairs if p not in moving]
        facts = {p: f for p, f in facts.items() if p not in moving}
        if not pairs:
            return
        ids = sorted({f.statement_id for listed in facts.values() for f in listed})
        await self._worker.reapply(ids, extra_pairs=pairs)
        await self._stores.aggregates.publish_events()
        after = await self._stores.aggregates.get_records(pairs)
        for before in found:
            now = after.get((before.member_id, before.activity_id))
            result.reprojected += 1
            if now is None or now.record is None:
                result.removed += 1
            elif now.version != before.version:
                result.changed += 1
            else:
                result.quiet += 1
