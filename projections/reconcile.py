"""Reconciliation: rebuild every record from the statements and compare with what is stored.

`reconcile` reads every non-voided statement (through the statement store, oldest first),
applies the mapping and the identity map as they are now, folds each (member, activity) with
the same pure rules as the worker, and compares with the stored records:

- differing: stored, but not equal to the rebuilt record;
- missing: the statements make a record that is not stored;
- extra: a record is stored that the statements do not make.

Drift is their sum, also as a percentage of the records there should be (or of the stored ones,
when there should be none). Statements still awaiting projection show up as drift until the
worker reaches them, so the report says how many there are.

`fix` re-applies the statements behind every drifting record (and the facts currently stored
for it) through the worker's own path, so the facts are corrected too and the corrections
reach webhook subscribers as ordinary change events. It holds the whole rebuilt projection in
memory: fine for millions of statements, not for billions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.model.statements import StatementFilter
from lrs.store.base import StatementStore
from lrs.xapi.timestamps import timestamp_us
from projections.aggregates import fold
from projections.facts import Projector
from projections.identity import IdentityResolver
from projections.store import ProjectionStores
from projections.store.base import Fact, Pair
from projections.worker import ProjectionWorker

_PAGE = 1000


@dataclass
class DriftReport:
    """What reconciliation found (and fixed)."""

    expected: int = 0
    stored: int = 0
    differing: list[Pair] = field(default_factory=list)
    missing: list[Pair] = field(default_factory=list)
    extra: list[Pair] = field(default_factory=list)
    awaiting: int = 0
    unmatched: int = 0
    fixed: int = 0

    @property
    def drift(self) -> int:
        """Records differing, missing or extra."""
        return len(self.differing) + len(self.missing) + len(self.extra)

    @property
    def drift_percent(self) -> float:
        """Drift as a percentage of the records there should be."""
        return round(100.0 * self.drift / max(self.expected or self.stored, 1), 4)

    def to_json(self) -> dict[str, Any]:
        """The report for `--json` and the API."""
        return {
            "expected_records": self.expected,
            "stored_records": self.stored,
            "differing": len(self.differing),
            "missing": len(self.missing),
            "extra": len(self.extra),
            "drift": self.drift,
            "drift_percent": self.drift_percent,
            "awaiting_projection": self.awaiting,
            "unmatched_statements": self.unmatched,
            "fixed": self.fixed,
            "examples": [list(p) for p in (self.differing + self.missing + self.extra)[:20]],
        }


@dataclass
class Rebuilt:
    """The projection rebuilt from the statements."""

    records: dict[Pair, dict[str, Any]]
    facts: dict[Pair, list[Fact]]


class Reconciler:
    """Rebuilds, compares and fixes; see the module docstring."""

    def __init__(
        self,
        statements: StatementStore,
        stores: ProjectionStores,
        projector: Projector,
        worker: ProjectionWorker,
    ) -> None:
        self._statements = statements
        self._stores = stores
        self._projector = projector
        self._worker = worker
        self._resolver = IdentityResolver(stores.identities)

    async def rebuild(self) -> Rebuilt:
        """Every record as the statements and the identity map make it now."""
        facts: dict[Pair, list[Fact]] = defaultdict(list)
        after = None
        while True:
            page = await self._statements.query_statements(
                StatementFilter(ascending=True, limit=_PAGE, after=after)
            )
            contributions = []
            for raw in page.statements:
                statement = orjson.loads(raw)
                stored_us = timestamp_us(statement["stored"], path="stored")
                contribution = self._projector.contribution(statement, stored_us)
                if contribution is not None:
                    contributions.append(contribution)
            members = await self._resolver.members_for([c.actor_key for c in contributions])
            for contribution in contributions:
                fact = contribution.fact(members[contribution.actor_key], voided=False)
                if fact.pair is not None:
                    facts[fact.pair].append(fact)
            if page.next_position is None:
                break
            after = page.next_position
        records = {}
        for (member_id, activity_id), pair_facts in facts.items():
            member = await self._stores.identities.get_member(member_id)
            record = fold(
                member_id,
                activity_id,
                pair_facts,
                member_email=member.emails[0] if member and member.emails else None,
                mapping_version=self._projector.mapping.version,
            )
            if record is not None:
                records[(member_id, activity_id)] = record
        return Rebuilt(records=records, facts=dict(facts))

    async def stored_records(self) -> dict[Pair, dict[str, Any]]:
        """Every live stored record."""
        found: dict[Pair, dict[str, Any]] = {}
        after = None
        while True:
            page = await self._stores.aggregates.page_records(after=after, limit=_PAGE)
            for r in page.records:
                if r.record is not None:
                    found[(r.member_id, r.activity_id)] = r.record
            if page.next_position is None:
                return found
            after = page.next_position

    async def reconcile(self, *, fix: bool = False) -> DriftReport:
        """Compare (and with `fix`, correct, then compare again)."""
        rebuilt = await self.rebuild()
        report = await self._compare(rebuilt)
        if fix and report.drift:
            fixed = report.drift
            await self._fix(report, rebuilt)
            report = await self._compare(await self.rebuild())
            report.fixed = fixed - report.drift
        return report

    async def _compare(self, rebuilt: Rebuilt) -> DriftReport:
        stored = await self.stored_records()
        expected = rebuilt.records
        return DriftReport(
            expected=len(expected),
            stored=len(stored),
            differing=sorted(
                p for p in expected.keys() & stored.keys() if expected[p] != stored[p]
            ),
            missing=sorted(expected.keys() - stored.keys()),
            extra=sorted(stored.keys() - expected.keys()),
            awaiting=await self._statements.count_awaiting_projection(),
            unmatched=await self._stores.facts.count_unmatched(),
        )

    async def _fix(self, report: DriftReport, rebuilt: Rebuilt) -> None:
        pairs = set(report.differing) | set(report.missing) | set(report.extra)
        ids: set[str] = set()
        for member_id, activity_id in pairs:
            ids.update(f.statement_id for f in rebuilt.facts.get((member_id, activity_id), []))
            current = await self._stores.facts.facts_for_pair(member_id, activity_id)
            ids.update(f.statement_id for f in current)
        await self._worker.reapply(sorted(ids), extra_pairs=pairs)
