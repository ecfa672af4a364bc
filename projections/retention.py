"""Retention: the mapping's periods (`P5Y; contract`) applied to what the projection keeps.

A row whose `retention_policy` is a period keeps its target's value for that long after the
learning happened, counted from the statement's `timestamp`, or from when the LRS stored it
if that is earlier (a timestamp in the future does not stretch the period). Past it:

- a target a statement cannot contribute without (activity, verb, time, or a `required` row)
  takes the whole contribution with it: the statement no longer counts for its record;
- any other target is dropped from the contribution, and the record is rebuilt without it.

The rules are part of the projector (`Projector.contribution`), so the worker, `lrs reconcile`
and `--fix` all derive contributions the same way: a statement already past its period when
it is projected (an old import) never counts, and after `lrs retention --apply` reconcile
reports no drift. What was projected earlier stays until `apply` (or the worker's daily run)
re-applies the statements whose contributions went past a period: the records are rebuilt
through the worker's own path, so subscribers get the usual `learning.updated` /
`learning.removed` events, and the facts (the projection's copy) lose the expired values.
Statements themselves are not touched, unless the row says `pseudonymise`
(`P5Y; contract; pseudonymise`): then a member all of whose counted learning is past that
row's period (every fact of theirs older than its cutoff, none newer) has their statements
pseudonymised by `apply`, before the re-applying, as an erasure with
`LRS_ERASURE_STATEMENTS=pseudonymise` does (`ErasureService.pseudonymise_statements`: every
identifier of theirs replaced by a new random account, so nothing links the statements to
them any more, and their xAPI documents deleted; the member stays in the identity map, and
what they learn later projects as usual). A run cut short is finished by the next: the
members not yet done still have their facts. What a member's statements contributed before
an earlier `apply` removed it (or an import too old to project at all) left no fact, so it
does not make them due. On SQLite the file is vacuumed once after the members of a run are
done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from projections.audit import AuditLog
from projections.daily import DAY_US, DailyJob
from projections.mapping import NEEDED
from projections.mapping import Mapping as FieldMapping
from projections.retention_policy import TimedPolicy
from projections.store import ProjectionStores
from projections.store.base import Fact, Pair
from projections.transforms import format_datetime

log = logging.getLogger(__name__)

_PAGE = 1000


def wall_clock_us() -> int:
    """Now, in microseconds since the epoch."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class RetentionRule:
    """One target's period: from the mapping row (its line) that states it."""

    line: int
    target: str
    policy: TimedPolicy
    whole_contribution: bool  # the statement cannot contribute without the target


@dataclass(frozen=True)
class Cutoff:
    """A rule at one instant: values of events before `before_us` are past the period."""

    rule: RetentionRule
    before_us: int
    before: str  # the same instant in the record form, to compare with `last_activity_at`

    def expired(self, data: Mapping[str, Any], stored_us: int) -> bool:
        """Whether a contribution's value for the rule's target is past the period."""
        if not self.rule.whole_contribution and data.get(self.rule.target) is None:
            return False
        return self.past(data, stored_us)

    def past(self, data: Mapping[str, Any], stored_us: int) -> bool:
        """Whether the learning a contribution records happened before the cutoff."""
        happened = data.get("last_activity_at")
        return stored_us < self.before_us or (isinstance(happened, str) and happened < self.before)


@dataclass(frozen=True)
class RetentionRules:
    """The mapping's periods, one rule per target (the first row that names it)."""

    rules: tuple[RetentionRule, ...] = ()

    @classmethod
    def from_mapping(cls, mapping: FieldMapping) -> RetentionRules:
        """The xapi rows' periods (the mapping checked that a target's rows agree)."""
        rules: dict[str, RetentionRule] = {}
        required = {r.target_field for r in mapping.rows_for("xapi") if r.required}
        for row in mapping.rows_for("xapi"):
            if row.retention is not None and row.target_field not in rules:
                whole = row.target_field in NEEDED["xapi"] or row.target_field in required
                rules[row.target_field] = RetentionRule(
                    row.line, row.target_field, row.retention, whole
                )
        return cls(tuple(rules.values()))

    def __bool__(self) -> bool:
        return bool(self.rules)

    def cutoffs(self, now_us: int) -> list[Cutoff]:
        """Each rule's cutoff at `now_us`."""
        found = []
        for rule in self.rules:
            before_us = rule.policy.period.cutoff_us(now_us)
            found.append(Cutoff(rule, before_us, _record_time(before_us)))
        return found

    def trim(self, values: dict[str, Any], stored_us: int, now_us: int) -> dict[str, Any] | None:
        """The contribution without its expired values; None when it no longer contributes."""
        for cutoff in self.cutoffs(now_us):
            if cutoff.expired(values, stored_us):
                if cutoff.rule.whole_contribution:
                    return None
                values = {k: v for k, v in values.items() if k != cutoff.rule.target}
        return values


def _record_time(us: int) -> str:
    try:
        return format_datetime(us)
    except OverflowError:  # before the year 1: no record time is earlier
        return ""


@dataclass
class RuleFindings:
    """What is past one rule's period."""

    cutoff: Cutoff
    statements: set[str] = field(default_factory=set)
    records: set[Pair] = field(default_factory=set)
    unmatched: int = 0
    members_past: set[str] = field(default_factory=set)  # with a fact past the cutoff
    members_current: set[str] = field(default_factory=set)  # with a fact within the period

    def members_to_pseudonymise(self) -> set[str]:
        """The members all of whose facts are past a `pseudonymise` rule's cutoff."""
        if self.cutoff.rule.policy.action != "pseudonymise":
            return set()
        return self.members_past - self.members_current

    def to_json(self, verbose: bool) -> dict[str, Any]:
        """Counts, and the ids when `verbose`."""
        rule = self.cutoff.rule
        data: dict[str, Any] = {
            "mapping_line": rule.line,
            "target_field": rule.target,
            "retention_policy": rule.policy.text,
            "legal_basis": rule.policy.basis,
            "whole_contribution": rule.whole_contribution,
            "past": self.cutoff.before or None,
            "statements": len(self.statements),
            "records": len(self.records),
            "unmatched_statements": self.unmatched,
        }
        if rule.policy.action:
            data["action"] = rule.policy.action
            data["members_to_pseudonymise"] = len(self.members_to_pseudonymise())
        if verbose:
            data["statement_ids"] = sorted(self.statements)
            data["record_ids"] = [list(p) for p in sorted(self.records)]
        return data


@dataclass
class RetentionReport:
    """What retention found (and, once applied, what it did)."""

    now_us: int
    findings: list[RuleFindings]
    applied: bool = False
    records_removed: int = 0
    records_changed: int = 0
    members_pseudonymised: int = 0
    statements_pseudonymised: int = 0

    def members_to_pseudonymise(self) -> list[str]:
        """Every member a `pseudonymise` rule makes due (see the module docstring)."""
        return sorted({m for f in self.findings for m in f.members_to_pseudonymise()})

    def statement_ids(self) -> list[str]:
        """Every statement with a contribution past some period."""
        return sorted({s for f in self.findings for s in f.statements})

    def records(self) -> set[Pair]:
        """Every record some expired contribution counts in."""
        return {p for f in self.findings for p in f.records}

    def to_json(self, verbose: bool = False) -> dict[str, Any]:
        """The report for `--json` (always with ids) and the text form."""
        return {
            "checked_at": format_datetime(self.now_us),
            "applied": self.applied,
            "statements": len(self.statement_ids()),
            "records": len(self.records()),
            "records_removed": self.records_removed,
            "records_changed": self.records_changed,
            "members_to_pseudonymise": len(self.members_to_pseudonymise()),
            "members_pseudonymised": self.members_pseudonymised,
            "statements_pseudonymised": self.statements_pseudonymised,
            "rules": [f.to_json(verbose) for f in self.findings],
        }


Reapply = Callable[[list[str]], Any]
Pseudonymise = Callable[[str], Awaitable[int]]


class Retention:
    """Finds (dry run) and removes (apply) what is past its period; see the module doc."""

    def __init__(
        self,
        stores: ProjectionStores,
        rules: RetentionRules,
        reapply: Callable[[list[str]], Any],
        clock: Callable[[], int],
        audit: AuditLog,
        *,
        pseudonymise: Pseudonymise | None = None,
    ) -> None:
        self._stores = stores
        self._pseudonymise = pseudonymise  # a member's statements; how many
        self._rules = rules
        self._reapply = reapply  # ProjectionWorker.reapply: the worker's own path
        self._clock = clock
        self._audit = audit

    async def dry_run(self) -> RetentionReport:
        """What is past its period now, per rule; writes nothing."""
        now = self._clock()
        findings = [RuleFindings(c) for c in self._rules.cutoffs(now)]
        if findings:
            await self._scan(self._stores.facts.counted_facts, findings)
            await self._scan(self._stores.facts.unmatched_facts, findings)
        return RetentionReport(now, findings)

    async def apply(self, actor: str = "cli") -> RetentionReport:
        """Re-apply the statements past a period, so the records lose what expired."""
        report = await self.dry_run()
        await self._pseudonymise_due(report)
        ids = report.statement_ids()
        for start in range(0, len(ids), _PAGE):
            await self._reapply(ids[start : start + _PAGE])
        await self._stores.aggregates.publish_events()
        pairs = sorted(report.records())
        after = await self._stores.aggregates.get_records(pairs)
        report.records_removed = sum(1 for p in pairs if p in after and after[p].record is None)
        report.records_changed = len(pairs) - report.records_removed
        report.applied = True
        details = {"statements": len(ids), "records": len(pairs)}
        if report.members_pseudonymised:  # counts only: the entry names nobody
            details["members_pseudonymised"] = report.members_pseudonymised
            details["statements_pseudonymised"] = report.statements_pseudonymised
        await self._audit.append(
            "retention.applied", actor=actor, subject="projection", details=details
        )
        return report

    async def _pseudonymise_due(self, report: RetentionReport) -> None:
        """Pseudonymise the statements of the members a `pseudonymise` rule makes due."""
        members, pseudonymise = report.members_to_pseudonymise(), self._pseudonymise
        if not members:
            return
        if pseudonymise is None:
            raise RuntimeError("this retention service was built without pseudonymisation")
        for member_id in members:
            report.statements_pseudonymised += await pseudonymise(member_id)
            report.members_pseudonymised += 1
        # once for the lot: on SQLite the file is rebuilt, so the statements as they were
        # stay in no free page (a rewrite of the whole file: not once per member)
        await self._stores.aggregates.settle_erasure()

    async def _scan(
        self, read: Callable[[int, str | None], Any], findings: list[RuleFindings]
    ) -> None:
        after = None
        while True:
            facts: list[Fact] = await read(_PAGE, after)
            if not facts:
                return
            for fact in facts:
                _note(fact, findings)
            after = facts[-1].statement_id


def _note(fact: Fact, findings: Iterable[RuleFindings]) -> None:
    for found in findings:
        if found.cutoff.rule.policy.action and fact.member_id is not None:
            past = found.cutoff.past(fact.data, fact.stored_us)
            (found.members_past if past else found.members_current).add(fact.member_id)
        if found.cutoff.expired(fact.data, fact.stored_us):
            found.statements.add(fact.statement_id)
            if fact.pair is None:
                found.unmatched += 1
            else:
                found.records.add(fact.pair)


class DailyRetention(DailyJob[RetentionReport]):
    """Runs `Retention.apply` once a day in a worker process (`lrs worker --retention-daily`).

    The first run is at start; the day is counted in this process (each worker that runs it
    applies it: harmless, the second finds nothing).
    """

    name = "retention run"

    def __init__(
        self, retention: Retention, clock: Callable[[], int], every_us: int = DAY_US
    ) -> None:
        super().__init__(lambda: retention.apply(actor="worker"), clock, every_us)

    def report(self, result: RetentionReport) -> None:
        """A line when something was past its period."""
        if result.statement_ids():
            log.info("retention applied: %s", result.to_json())
