"""Reconciliation: rebuild every record from the statements and compare with what is stored.

`reconcile` derives every non-voided statement's contribution again (the mapping and the
identity map as they are now), folds each (member, activity) with the same pure rules as the
worker, and compares with the stored records:

- differing: stored, but not equal to the rebuilt record;
- missing: the statements make a record that is not stored;
- extra: a record is stored that the statements do not make.

Drift is their sum, also as a percentage of the records there should be (or of the stored ones,
when there should be none). Statements still awaiting projection show up as drift until the
worker reaches them, so the report says how many there are.

A stored record that differs from the rebuilt one and carries another `mapping_version` is
not drift but a *rollout pending* (`rollout`): a new mapping was installed and its records are
still to be re-projected (`lrs mapping deploy`, `projections.rollout`), a planned operation, not
"100% drift". `fix` re-projects them too (`reprojected`).

It streams: every read is a page of at most `page` statements, facts, pairs or records, in
id or key order, so its memory is bounded by a page (and by the drift it reports), not by the
store. It takes the stored facts as the index from statements to pairs, and checks them:

1. statements, by stored time: each one's contribution is derived and compared with its
   stored fact. A fact missing or different makes a *correction* of the pair the statement
   counts in now; a stored fact counting where it should not is *wrong* for its pair;
2. counted facts, by statement id: a fact whose statement is gone or voided is wrong;
3. the pairs of counted facts, by key: each pair no correction touches is folded from its
   stored facts (they are right: steps 1 and 2 found nothing against them) and compared with
   its record (differing or missing);
4. live records, by update time: a record no correction touches whose pair has no counted
   facts is extra;
5. each pair a correction touches is folded from its stored facts without the wrong ones,
   plus its corrections, and classified.

`fix` re-applies, a page of drifting pairs at a time, the statements behind them (their
stored facts and corrections) through the worker's own path, so the facts are corrected too
and the corrections reach webhook subscribers as ordinary change events; then it compares
again: pairs found the first time and drifting no more are `fixed`; pairs drifting only the
second time are `arrived` (statements stored during the run, awaiting the worker).

Some drift is not fixed, because fixing it would decide whose learning it is: it is *flagged*
for review (`lrs reconcile flagged`, the run history) and left as it is. A statement is flagged
when its stored fact counts it for member A while the statement, through the identity map as
it is now, still contributes but no longer for A:

- `identity_conflict`: its address or account is now claimed by several members, so it counts
  for nobody; a fix would withdraw the learning from A (resolve the conflict: `lrs identities
  resolve`, which re-projects);
- `member_changed`: it now counts for another member B, or for nobody because no member claims
  its identity any more; the stored facts (A's record) and the statements disagree about whose
  record it is, and a fix would move the learning from A to B (or withdraw it).

Identity changes made through the identity tools (import, link, resolve, merge) re-project
what they move at once, so a flagged case means the map changed beneath the projection in a
way nobody re-projected: worth a look before anything moves. The pairs of a flagged
statement (A's and B's) are left out of `fix`; `fix(include_flagged=True)` (`lrs reconcile
--fix --include-flagged`, after review) fixes them too. Everything else (a new mapping, a
record lost or damaged, a fact missing, a voiding not applied) is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, field
from typing import Any

import orjson

from lrs.model.statements import StatementFilter
from lrs.store.base import StatementStore
from lrs.xapi.timestamps import timestamp_us
from projections.aggregates import fold_for_member
from projections.facts import Contribution, Projector
from projections.identity import IdentityResolver
from projections.store import ProjectionStores
from projections.store.base import Fact, Pair, StoredRecord
from projections.worker import ProjectionWorker

_PAGE = 1000
IDENTITY_CONFLICT, MEMBER_CHANGED = "identity_conflict", "member_changed"


@dataclass(frozen=True)
class Flag:
    """A statement whose fix would move learning between members (see the module doc)."""

    kind: str
    statement_id: str
    actor_key: str
    activity_id: str | None
    counted_for: str  # the member its stored fact counts it for
    now_for: str | None  # the member the identity map names now (None: nobody)

    def pairs(self) -> set[Pair]:
        """The records a fix of this statement would change."""
        found = {(self.counted_for, self.activity_id)} if self.activity_id else set()
        if self.now_for is not None and self.activity_id is not None:
            found.add((self.now_for, self.activity_id))
        return found

    def to_json(self) -> dict[str, Any]:
        """The flagged case as the CLI, the API and the run record show it."""
        return {
            "kind": self.kind,
            "statement_id": self.statement_id,
            "actor_key": self.actor_key,
            "activity_id": self.activity_id,
            "counted_for": self.counted_for,
            "now_for": self.now_for,
        }


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
    # after a fix: drifting pairs the first comparison did not find (statements that arrived
    # during the run and await projection, as a rule)
    arrived: list[Pair] = field(default_factory=list)
    found: int | None = None  # drift before the fix (None: nothing was fixed)
    flagged: list[Flag] = field(default_factory=list)
    # records differing only because they were folded under another mapping version: a
    # planned rollout (`lrs mapping deploy`), not drift
    rollout: list[Pair] = field(default_factory=list)
    reprojected: int = 0  # after a fix: records of the rollout re-projected

    @property
    def drift(self) -> int:
        """Records differing, missing or extra."""
        return len(self.differing) + len(self.missing) + len(self.extra)

    def drifting(self) -> set[Pair]:
        """Every pair differing, missing or extra."""
        return {*self.differing, *self.missing, *self.extra}

    @property
    def unresolved(self) -> int:
        """Drift that is not new since the run began (after a fix: what the fix left)."""
        return self.drift - len(self.arrived)

    @property
    def drift_percent(self) -> float:
        """Drift as a percentage of the records there should be."""
        return self.percent(self.drift)

    @property
    def drift_found(self) -> int:
        """The drift found before any fix (what the marketplace saw)."""
        return self.drift if self.found is None else self.found

    @property
    def records_checked(self) -> int:
        """Every record stored or that should be: the stored ones and the missing ones."""
        return self.stored + len(self.missing)

    def percent(self, drift: int) -> float:
        """`drift` as a percentage of the records there should be (or of the stored ones)."""
        return round(100.0 * drift / max(self.expected or self.stored, 1), 4)

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
            "arrived_during_run": len(self.arrived),
            "drift_found": self.drift_found,
            "drift_found_percent": self.percent(self.drift_found),
            "records_checked": self.records_checked,
            "flagged": len(self.flagged),
            "mapping_rollout_pending": len(self.rollout),
            "mapping_rollout_reprojected": self.reprojected,
            "flagged_cases": [f.to_json() for f in self.flagged[:20]],
            "examples": [list(p) for p in (self.differing + self.missing + self.extra)[:20]],
        }


@dataclass
class FactCheck:
    """Stored facts that disagree with the statements, by the pair they count in (or should)."""

    corrections: dict[Pair, list[Fact]] = field(default_factory=dict)  # facts as they should be
    wrong: dict[Pair, set[str]] = field(default_factory=dict)  # ids counted there wrongly
    flags: list[Flag] = field(default_factory=list)

    def compare(self, expected: Fact | None, stored: Fact | None) -> None:
        """Note where a statement's stored fact differs from the one it makes now."""
        counted = stored.pair if stored is not None and not stored.voided else None
        if expected is not None and expected.pair is not None:
            if stored == expected:
                return
            self.corrections.setdefault(expected.pair, []).append(expected)
        if counted is not None and stored is not None:
            self.wrong.setdefault(counted, set()).add(stored.statement_id)
            if expected is not None and expected.member_id != stored.member_id:
                self.flags.append(_flag(stored, expected))

    def flagged_pairs(self) -> set[Pair]:
        """The records a fix would change by moving learning between members."""
        return {p for f in self.flags for p in f.pairs()}

    def pairs(self) -> set[Pair]:
        """Every pair whose stored facts are not to be trusted as they are."""
        return set(self.corrections) | set(self.wrong)

    def expected_facts(self, pair: Pair, stored: list[Fact]) -> list[Fact]:
        """The pair's facts as the statements make them now."""
        wrong = self.wrong.get(pair, set())
        facts = {f.statement_id: f for f in stored if f.statement_id not in wrong}
        facts.update((f.statement_id, f) for f in self.corrections.get(pair, []))
        return list(facts.values())


def _flag(stored: Fact, expected: Fact) -> Flag:
    """A member change (made an identity conflict later, when the key turns out contested)."""
    assert stored.member_id is not None
    return Flag(
        MEMBER_CHANGED,
        stored.statement_id,
        expected.actor_key,
        stored.activity_id,
        stored.member_id,
        expected.member_id,
    )


class Reconciler:
    """Compares page by page and fixes; see the module docstring."""

    def __init__(
        self,
        statements: StatementStore,
        stores: ProjectionStores,
        projector: Projector,
        worker: ProjectionWorker,
        *,
        page: int = _PAGE,
    ) -> None:
        self._statements = statements
        self._stores = stores
        self._projector = projector
        self._worker = worker
        self._resolver = IdentityResolver(stores.identities)
        self._page = page

    async def reconcile(self, *, fix: bool = False, include_flagged: bool = False) -> DriftReport:
        """Compare (and with `fix`, correct all but the flagged cases, then compare again).

        `fixed` counts the pairs found drifting that no longer drift. It is not the
        difference of the two drifts: statements keep arriving while reconcile runs (each
        drift until the worker projects it), so the second comparison may find drift the
        first did not; those pairs are `arrived`, not fixes undone.
        """
        report, check = await self._compare()
        if fix and (report.drift or report.rollout):
            found = report.drifting()
            found_count = report.drift
            pending = set(report.rollout)
            skip = set() if include_flagged else check.flagged_pairs()
            await self._fix(report, check, skip)
            report, _check = await self._compare()
            left = report.drifting()
            report.found = found_count
            report.fixed = len(found - left)
            report.arrived = sorted(left - found)
            report.reprojected = len(pending - set(report.rollout))
        return report

    async def _compare(self) -> tuple[DriftReport, FactCheck]:
        check = FactCheck()
        await self._check_statements(check)
        await self._check_facts(check)
        report = DriftReport(
            awaiting=await self._statements.count_awaiting_projection(),
            unmatched=await self._stores.facts.count_unmatched(),
        )
        distrusted = check.pairs()
        await self._compare_counted_pairs(report, distrusted)
        await self._find_extra_records(report, distrusted)
        await self._compare_corrected_pairs(report, check)
        report.differing.sort()
        report.missing.sort()
        report.extra.sort()
        report.rollout.sort()
        report.flagged = await self._name_conflicts(check.flags)
        return report, check

    async def _name_conflicts(self, flags: list[Flag]) -> list[Flag]:
        """The flags whose statement counts for nobody because several members claim it."""
        keys = sorted({f.actor_key for f in flags if f.now_for is None})
        claims = await self._stores.identities.claims_for(keys) if keys else {}
        contested = {k for k, found in claims.items() if len({c.member_id for c in found}) > 1}
        named = [
            Flag(IDENTITY_CONFLICT, *astuple(f)[1:]) if f.actor_key in contested else f
            for f in flags
        ]
        return sorted(named, key=lambda f: f.statement_id)

    async def _check_statements(self, check: FactCheck) -> None:
        """Step 1: every non-voided statement's fact, as it should be, against the stored one."""
        after = None
        while True:
            page = await self._statements.query_statements(
                StatementFilter(ascending=True, limit=self._page, after=after)
            )
            expected = await self._expected_facts(page.statements)
            stored = await self._stores.facts.get_facts(list(expected))
            for statement_id, fact in expected.items():
                check.compare(fact, stored.get(statement_id))
            if page.next_position is None:
                return
            after = page.next_position

    async def _expected_facts(self, raws: list[bytes]) -> dict[str, Fact | None]:
        """Each statement's fact as the mapping and identity map make it now (None: none)."""
        contributions: dict[str, Contribution | None] = {}
        for raw in raws:
            statement = orjson.loads(raw)
            stored_us = timestamp_us(statement["stored"], path="stored")
            statement_id = str(statement["id"]).lower()
            contributions[statement_id] = self._projector.contribution(statement, stored_us)
        keys = [c.actor_key for c in contributions.values() if c is not None]
        members = await self._resolver.members_for(keys)
        return {
            statement_id: None if c is None else c.fact(members[c.actor_key], voided=False)
            for statement_id, c in contributions.items()
        }

    async def _check_facts(self, check: FactCheck) -> None:
        """Step 2: counted facts whose statement is gone or voided."""
        after = None
        while True:
            facts = await self._stores.facts.counted_facts(self._page, after)
            if not facts:
                return
            found = await self._statements.get_statements([f.statement_id for f in facts])
            for fact in facts:
                statement = found.get(fact.statement_id)
                if statement is None or statement.voided:
                    check.compare(None, fact)
            after = facts[-1].statement_id

    async def _fold(self, pairs: Sequence[Pair], facts: dict[Pair, list[Fact]]) -> dict[Pair, Any]:
        """The record each pair's facts make (None: no record)."""
        members = await self._stores.identities.get_members(sorted({m for m, _a in pairs}))
        return {
            (m, a): fold_for_member(
                m, a, facts.get((m, a), []), members.get(m), self._projector.mapping.version
            )
            for m, a in pairs
        }

    async def _compare_counted_pairs(self, report: DriftReport, distrusted: set[Pair]) -> None:
        """Step 3: pairs with counted facts (and no correction) against their records."""
        after = None
        while True:
            page = await self._stores.facts.counted_pairs(self._page, after)
            if not page:
                return
            pairs = [p for p in page if p not in distrusted]
            records = await self._stores.aggregates.get_records(pairs)
            expected = await self._fold(pairs, await self._stores.facts.facts_for_pairs(pairs))
            for pair in pairs:
                self._classify(report, pair, expected[pair], records.get(pair))
            after = page[-1]

    async def _find_extra_records(self, report: DriftReport, distrusted: set[Pair]) -> None:
        """Step 4: live records (no correction) without any counted fact."""
        after = None
        while True:
            page = await self._stores.aggregates.page_records(after=after, limit=self._page)
            report.stored += len(page.records)
            pairs = [(r.member_id, r.activity_id) for r in page.records]
            pairs = [p for p in pairs if p not in distrusted]
            counted = await self._stores.facts.facts_for_pairs(pairs)
            report.extra += [p for p in pairs if p not in counted]
            if page.next_position is None:
                return
            after = page.next_position

    async def _compare_corrected_pairs(self, report: DriftReport, check: FactCheck) -> None:
        """Step 5: pairs a correction touches, folded from their facts as they should be."""
        pairs = sorted(check.pairs())
        for start in range(0, len(pairs), self._page):
            chunk = pairs[start : start + self._page]
            stored = await self._stores.facts.facts_for_pairs(chunk)
            facts = {p: check.expected_facts(p, stored.get(p, [])) for p in chunk}
            records = await self._stores.aggregates.get_records(chunk)
            expected = await self._fold(chunk, facts)
            for pair in chunk:
                self._classify(report, pair, expected[pair], records.get(pair))

    async def _fix(self, report: DriftReport, check: FactCheck, skip: set[Pair]) -> None:
        """Re-apply the statements behind the drifting pairs (but `skip`), a page at a time."""
        pairs = sorted((report.drifting() | set(report.rollout)) - skip)
        for start in range(0, len(pairs), self._page):
            chunk = pairs[start : start + self._page]
            current = await self._stores.facts.facts_for_pairs(chunk)
            ids = {f.statement_id for facts in current.values() for f in facts}
            ids.update(f.statement_id for p in chunk for f in check.corrections.get(p, []))
            await self._worker.reapply(sorted(ids), extra_pairs=chunk)

    def _classify(
        self,
        report: DriftReport,
        pair: Pair,
        expected: dict[str, Any] | None,
        stored: StoredRecord | None,
    ) -> None:
        """Count the pair's expected record and file it as differing, missing or extra (or
        as a pending rollout: a record of another mapping version, to be re-projected)."""
        live = stored.record if stored is not None else None
        if expected is not None:
            report.expected += 1
        if expected is None and live is not None:
            report.extra.append(pair)
        elif expected is not None and live is None:
            report.missing.append(pair)
        elif expected != live:
            assert live is not None
            version = live.get("mapping_version")  # (a damaged record may have none)
            pending = bool(version) and version != self._projector.mapping.version
            (report.rollout if pending else report.differing).append(pair)
