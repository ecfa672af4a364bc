"""A record extended by facts that only add to it, without reading the pair's other facts.

Why: a worker batch rebuilds every record it touches from all of that pair's facts, so on a
large backlog a record is rebuilt many times over a growing list of facts (at 1,000,000
statements about 16 facts read and folded per statement projected). Most batches only add
statements that happened after everything the record already counts; for those the rules of
`projections.aggregates` are a left fold, and the stored record holds every part of the
fold's state that later facts can still change.

`extend` answers only when that is provably the same as `fold` over all facts, else None
(the caller then rebuilds from all facts). It requires:
- the record was made by the current mapping version and restates itself exactly from the
  state read back out of it (a record from other rules, or edited, is rebuilt);
- every new fact is counted (not voided), in this pair, not already in the record, and
  happened strictly after the record's `last_activity_at` (so it sorts after every counted
  fact: a late or same-instant statement is rebuilt);
- where the email comes from the facts and no new fact has one, the record says which fact
  it came from.

State the record does not hold is state no later fact can change: the failed statements once
one passed (`success` stays `passed`), the latest enrollment state once completed (it stays
`completed`), the earliest completing fact beyond its id and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.aggregates import Scan, assemble, happened_order
from projections.store.base import Fact, Member, Pair


def _stand_in(statement_id: str, data: dict[str, Any]) -> Fact:
    """A fact holding only what the scan reads of the fact that made a record's value."""
    return Fact(statement_id, "", None, None, 0, data=data)


def _scan_of(record: dict[str, Any]) -> Scan:
    """The scan state that made `record` (as far as later facts can change it), or None."""
    provenance = record.get("provenance") or {}
    scan = Scan(())
    scan.completing = list(provenance.get("learning_completed", []))
    if scan.completing:
        completed_at = record.get("completed_at")
        scan.first_completing = _stand_in(
            scan.completing[0], {"completed_at": completed_at, "last_activity_at": completed_at}
        )
    outcome = record.get("success")
    if outcome == "passed":
        scan.passed = list(provenance.get("success", []))
    elif outcome == "failed":
        scan.failed = list(provenance.get("success", []))
    score = record.get("score")
    if isinstance(score, dict):
        best = {k: v for k, v in score.items() if k not in ("statement_id", "latest")}
        latest = dict(score.get("latest") or {})
        scan.best = _stand_in(score.get("statement_id", ""), {"score": best})
        scan.latest_score = _stand_in(latest.pop("statement_id", ""), {"score": latest})
    for key in ("enrollment_state", "certificate_ref", "email"):
        sources = provenance.get(key) or []
        if (
            record.get(key) is not None
            and sources
            and not (key == "enrollment_state" and scan.completing)
        ):
            scan.latest[key] = _stand_in(sources[-1], {key: record[key]})
    for badge in record.get("badge_awarded") or ():
        scan.badges[badge["badge_id"]] = dict(badge)
    scan.verbs = set(record.get("verbs") or ())
    return scan


def _email_known(record: dict[str, Any], scan: Scan, member_email: str | None) -> bool:
    """Whether the newest fact email the record counts is known (or not needed)."""
    if member_email:  # the member's own address wins over every fact's
        return True
    return "email" in scan.latest or record.get("email") is None


def extend(
    pair: Pair,
    record: dict[str, Any] | None,
    new: Sequence[Fact],
    member: Member | None,
    mapping_version: str,
) -> dict[str, Any] | None:
    """`record` with the facts `new` added, equal to `fold_for_member` over all the pair's
    facts; None when that cannot be shown from the record (see the module docstring)."""
    if record is None or not new or record.get("mapping_version") != mapping_version:
        return None
    member_id, activity_id = pair
    member_email = member.emails[0] if member is not None and member.emails else None
    status = member.employment_status if member is not None else None
    statements = list((record.get("provenance") or {}).get("statements") or ())
    newest_at = record.get("last_activity_at")
    added = sorted({f.statement_id: f for f in new}.values(), key=happened_order)
    known = set(statements)
    for fact in added:
        at = fact.data.get("last_activity_at")
        if fact.voided or fact.pair != pair or fact.statement_id in known:
            return None
        if not isinstance(at, str) or not isinstance(newest_at, str) or at <= newest_at:
            return None
    if not statements:
        return None
    scan = _scan_of(record)
    last = _stand_in(statements[-1], {"last_activity_at": newest_at})
    # The record as it stands must restate itself from the state read out of it (its email
    # aside: that follows the member, checked below against the rules for fact emails).
    again = assemble(
        member_id,
        activity_id,
        scan,
        last,
        statements,
        member_email=member_email,
        mapping_version=mapping_version,
        employment_status=record.get("employment_status"),
    )
    if not _same_but_email(again, record):
        return None
    for fact in added:
        scan.add(fact)
    if not any(f.data.get("email") is not None for f in added) and not _email_known(
        record, scan, member_email
    ):
        return None
    return assemble(
        member_id,
        activity_id,
        scan,
        added[-1],
        statements + [f.statement_id for f in added],
        member_email=member_email,
        mapping_version=mapping_version,
        employment_status=status,
    )


def _same_but_email(again: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether two records agree on every field and provenance entry but the email's."""
    if any(again[k] != record.get(k) for k in again if k not in ("email", "provenance")):
        return False
    mine = {k: v for k, v in again["provenance"].items() if k != "email"}
    theirs = {k: v for k, v in (record.get("provenance") or {}).items() if k != "email"}
    return mine == theirs


class Growth:
    """Which pairs a batch only added new facts to (and those facts' statement ids), so that
    their records can be `extend`ed; a pair any other change touched (a fact written again or
    moved, a void) is `mixed` and rebuilt from all its facts."""

    def __init__(self) -> None:
        self.added: dict[Pair, list[str]] = {}
        self.mixed: set[Pair] = set()

    def note(self, facts: Sequence[Fact], before: dict[str, Fact], voided: Sequence[Fact]) -> None:
        """A write's facts, the same statements' facts before it, and the facts it voided."""
        for fact in facts:
            pair, old = fact.pair, before.get(fact.statement_id)
            if pair is not None and old is None and not fact.voided:
                self.added.setdefault(pair, []).append(fact.statement_id)
                continue
            self.mixed.update(p for p in (pair, old.pair if old else None) if p is not None)
        self.mixed.update(p for f in voided if (p := f.pair) is not None)

    def merge(self, other: Growth) -> None:
        """Another write of the same batch."""
        for pair, ids in other.added.items():
            self.added.setdefault(pair, []).extend(ids)
        self.mixed |= other.mixed

    def added_to(self, pair: Pair) -> list[str]:
        """The statement ids only added to `pair` ([]: none, or the pair is mixed)."""
        return [] if pair in self.mixed else self.added.get(pair, [])
