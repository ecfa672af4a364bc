"""The marketplace record of one (member, activity), rebuilt from its facts. Pure rules.

A record is never incremented: whenever one of a pair's statements changes (stored, voided,
matched to the member), the record is recomputed from all of that pair's non-voided facts.
That is what makes a statement count exactly once, however often it is applied, and what makes
voiding retract it. Facts are taken in the order they happened: `last_activity_at` (the
statement's timestamp), then stored time, then statement id.

Rules (see also docs/marketplace.md):
- learning_completed: true when any fact completes (a verb the verb table marks `completes`,
  e.g. completed or passed, or `result.completion: true`). A pass counts as completion.
  completed_at is the earliest completing fact's time.
- success: `passed` if any fact passed; otherwise `failed` if any failed. A failed after a
  passed changes nothing: a pass once earned stays earned (retakes cannot lower it).
- score: the best normalised score (ties: the earliest) with its original scale, plus `latest`,
  the most recent score. Best is what the marketplace ranks by; latest shows the trend.
- enrollment_state: `completed` once learning_completed; otherwise the state of the most
  recent fact that has one (active or dropped).
- badge_awarded: one entry per badge id, the earliest award (its metadata and issued_at).
- certificate_ref: from the most recent fact that has one.
- last_activity_at: the newest fact's time.
- email: the member's primary email from the identity map, else the newest fact's.
- employment_status: the member's, from the identity map (active / on_leave / terminated;
  None for a member the map does not hold). A terminate marks every record of the member,
  deletes none; a rehire clears it.
- provenance: per field, the statement ids its value comes from; `statements` lists all.
- Voiding a statement removes its fact; the record is recomputed without it, so every value
  falls back to what the remaining statements say. No facts left: the record is removed.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from projections.pseudonyms import disclose_record
from projections.store.base import Fact, Member, OutboxEvent, Pair
from projections.store.kept_json import kept_json
from projections.transforms import format_datetime

FIELDS = (
    "email",
    "learning_completed",
    "completed_at",
    "success",
    "score",
    "badge_awarded",
    "enrollment_state",
    "certificate_ref",
    "last_activity_at",
    "employment_status",
)


class FieldValue(NamedTuple):
    """One record field's value and the statement ids it comes from (its provenance)."""

    value: Any
    sources: list[str]


def _order(fact: Fact) -> tuple[str, int, str]:
    return (fact.data.get("last_activity_at", ""), fact.stored_us, fact.statement_id)


# What an event's `changes` may name: every field of the record but its identity and the
# mapping version (the version alone moving is no change for the marketplace).
CHANGE_FIELDS = (*FIELDS, "verbs", "provenance")
# The record fields derived from the facts alone (not `email` nor `employment_status`, the
# member's), in order.
FACT_FIELDS = FIELDS[1:-1]


class _Scan:
    """What the rules need from a pair's counted facts, gathered in one pass over them.

    Every rule of the module docstring reads the facts in the order they happened, so one
    walk collects the firsts, the lasts and the lists; `fields` then states the values.
    """

    def __init__(self, counted: Sequence[Fact]) -> None:
        self.completing: list[str] = []
        self.first_completing: Fact | None = None
        self.passed: list[str] = []
        self.failed: list[str] = []
        self.best: Fact | None = None
        self.latest_score: Fact | None = None
        self.latest: dict[str, Fact] = {}  # enrollment_state / certificate_ref / email
        self.badges: dict[str, dict[str, Any]] = {}
        self.verbs: set[str] = set()
        for fact in counted:
            self._add(fact)

    def _add(self, fact: Fact) -> None:
        data, sid = fact.data, fact.statement_id
        if data.get("learning_completed") is True:
            self.completing.append(sid)
            self.first_completing = self.first_completing or fact
        outcome = data.get("success")
        if outcome == "passed":
            self.passed.append(sid)
        elif outcome == "failed":
            self.failed.append(sid)
        if isinstance(data.get("score"), dict):
            best = self.best
            if best is None or data["score"]["value"] > best.data["score"]["value"]:
                self.best = fact  # ties: the earliest stays
            self.latest_score = fact
        for key in ("enrollment_state", "certificate_ref", "email"):
            if data.get(key) is not None:
                self.latest[key] = fact
        badge_id = data.get("badge_awarded.badge_id")
        if badge_id is not None and badge_id not in self.badges:
            self.badges[badge_id] = {
                "badge_id": badge_id,
                "metadata": data.get("badge_awarded.metadata") or {},
                "issued_at": data.get("badge_awarded.issued_at") or data.get("last_activity_at"),
                "statement_id": sid,
            }
        if data.get("verb_id"):
            self.verbs.add(data["verb_id"])

    def fields(self, newest: Fact) -> dict[str, FieldValue]:
        """The fact-derived fields (FACT_FIELDS order), as the module docstring rules them."""
        first = self.first_completing
        completed_at = None
        if first is not None:
            completed_at = first.data.get("completed_at") or first.data["last_activity_at"]
        latest_state = self.latest.get("enrollment_state")
        certificate = self.latest.get("certificate_ref")
        badges = sorted(self.badges.values(), key=lambda b: (b["issued_at"] or "", b["badge_id"]))
        return {
            "learning_completed": FieldValue(bool(self.completing), self.completing),
            "completed_at": FieldValue(completed_at, self.completing[:1]),
            "success": FieldValue(
                "passed" if self.passed else "failed" if self.failed else None,
                self.passed or self.failed,
            ),
            "score": self._score(),
            "badge_awarded": FieldValue(badges, [b["statement_id"] for b in badges]),
            "enrollment_state": FieldValue("completed", self.completing[:1])
            if self.completing
            else _latest_value(latest_state, "enrollment_state"),
            "certificate_ref": _latest_value(certificate, "certificate_ref"),
            "last_activity_at": FieldValue(newest.data["last_activity_at"], [newest.statement_id]),
        }

    def _score(self) -> FieldValue:
        """The best normalised score (ties: the earliest) with the most recent one as `latest`."""
        best, latest = self.best, self.latest_score
        if best is None or latest is None:
            return FieldValue(None, [])
        value = {**best.data["score"], "statement_id": best.statement_id}
        value["latest"] = {**latest.data["score"], "statement_id": latest.statement_id}
        return FieldValue(value, list(dict.fromkeys([best.statement_id, latest.statement_id])))

    def email(self, member_email: str | None) -> FieldValue:
        """The identity map's primary email, else the newest fact's (only that one a source)."""
        latest = self.latest.get("email")
        if member_email is not None:
            return FieldValue(member_email or (latest.data["email"] if latest else None), [])
        return FieldValue(latest.data["email"] if latest else None, _ids([latest]))


def _ids(facts: Sequence[Fact | None]) -> list[str]:
    return [f.statement_id for f in facts if f is not None]


def _latest_value(fact: Fact | None, key: str) -> FieldValue:
    return FieldValue(fact.data[key] if fact else None, _ids([fact]))


def counted_facts(facts: Sequence[Fact]) -> list[Fact]:
    """The non-voided facts, each statement once, in the order they happened."""
    unique = {f.statement_id: f for f in facts if not f.voided}
    return sorted(unique.values(), key=_order)


def fold(
    member_id: str,
    activity_id: str,
    facts: Sequence[Fact],
    *,
    member_email: str | None = None,
    mapping_version: str = "",
    employment_status: str | None = None,
) -> dict[str, Any] | None:
    """The record of one (member, activity) from its non-voided facts; None when none."""
    counted = counted_facts(facts)
    if not counted:
        return None
    scan = _Scan(counted)
    fields = scan.fields(counted[-1])
    fields["email"] = scan.email(member_email)
    provenance = {name: field.sources for name, field in fields.items() if field.sources}
    provenance["statements"] = _ids(counted)
    return {
        "member_id": member_id,
        "activity_id": activity_id,
        "email": fields["email"].value,
        **{name: fields[name].value for name in FACT_FIELDS},
        "employment_status": employment_status,
        "verbs": sorted(scan.verbs),
        "provenance": provenance,
        "mapping_version": mapping_version,
    }


def fold_for_member(
    member_id: str,
    activity_id: str,
    facts: Sequence[Fact],
    member: Member | None,
    mapping_version: str,
) -> dict[str, Any] | None:
    """`fold` with what the record takes from the identity map's member (primary email,
    employment status): the worker and the reconciler both fold through here, so they agree."""
    return fold(
        member_id,
        activity_id,
        facts,
        member_email=member.emails[0] if member is not None and member.emails else None,
        mapping_version=mapping_version,
        employment_status=member.employment_status if member is not None else None,
    )


def summarize(member_id: str, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A member's roll-up across their activity records."""
    completed = [r for r in records if r["learning_completed"]]
    scores = [r["score"]["value"] for r in records if r.get("score")]
    badges = [
        {**{k: b[k] for k in ("badge_id", "issued_at")}, "activity_id": r["activity_id"]}
        for r in records
        for b in r["badge_awarded"]
    ]
    states = [r["enrollment_state"] for r in records]
    times = [r["last_activity_at"] for r in records if r.get("last_activity_at")]
    return {
        "member_id": member_id,
        "activities": len(records),
        "activities_completed": len(completed),
        "activities_active": states.count("active"),
        "activities_dropped": states.count("dropped"),
        "activities_passed": sum(1 for r in records if r.get("success") == "passed"),
        "average_best_score": round(sum(scores) / len(scores), 4) if scores else None,
        "badges": sorted(badges, key=lambda b: (b["issued_at"] or "", b["badge_id"])),
        "certificates": [
            {"activity_id": r["activity_id"], "certificate_ref": r["certificate_ref"]}
            for r in records
            if r.get("certificate_ref")
        ],
        "completed_activity_ids": sorted(r["activity_id"] for r in completed),
        "last_activity_at": max(times) if times else None,
    }


def _badge_ids(record: dict[str, Any] | None) -> set[str]:
    return {b["badge_id"] for b in (record or {}).get("badge_awarded") or ()}


def change_tags(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """Semantic tags of a change, for subscribers' event-type filters."""
    before, after = old or {}, new or {}
    tags = []
    was_done = bool(before.get("learning_completed"))
    is_done = bool(after.get("learning_completed"))
    if is_done and not was_done:
        tags.append("learning.completed")
    if was_done and not is_done:
        tags.append("learning.uncompleted")
    if before.get("badge_awarded") != after.get("badge_awarded"):  # else no badge came or went
        had, has = _badge_ids(old), _badge_ids(new)
        if has - had:
            tags.append("badge.awarded")
        if had - has:
            tags.append("badge.revoked")
    for field, tag in (
        ("score", "score.changed"),
        ("enrollment_state", "enrollment.changed"),
        ("certificate_ref", "certificate.changed"),
    ):
        if before.get(field) != after.get(field):
            tags.append(tag)
    return tags


@dataclass
class Cause:
    """What caused a pair's change: the verbs of the statements behind it, and the earliest
    time one of them was stored (None when none was newly stored: a re-application by
    `reconcile --fix`), from which webhook delivery latency is measured."""

    verbs: set[str] = dataclasses.field(default_factory=set)
    stored_us: int | None = None

    def add(self, verb: str | None, stored_us: int | None) -> None:
        if verb:
            self.verbs.add(verb)
        if stored_us is not None and (self.stored_us is None or stored_us < self.stored_us):
            self.stored_us = stored_us


def change_causes(
    facts: Sequence[Fact],
    before: dict[str, Fact],
    voided: Sequence[Fact],
    *,
    voided_at: Mapping[str, int] | None = None,
) -> dict[Pair, Cause]:
    """What caused each pair's change: the verbs of the statements whose contribution
    changed, and when they were stored.

    `facts` are facts just written and `before` the same statements' facts as they were (a
    fact written again unchanged caused nothing); a changed fact causes a change in the pair
    it counts in now and in the one it left. `voided` are facts just voided: a voiding
    statement's change is caused by the verb it withdraws (a voided pass: `passed`), at the
    time the voiding statement was stored (`voided_at`, by voided statement id). Without
    `voided_at` (statements applied again, not newly stored) no stored time is kept.
    """
    causes: dict[Pair, Cause] = {}
    fresh = voided_at is not None

    def add(fact: Fact, stored_us: int | None) -> None:
        pair = fact.pair
        if pair is not None:
            cause = causes.get(pair)
            if cause is None:  # not setdefault: a Cause built per fact cost more than the rest
                cause = causes[pair] = Cause()
            cause.add(fact.data.get("verb_id"), stored_us)

    for fact in facts:
        old = before.get(fact.statement_id)
        if old != fact:
            add(fact, fact.stored_us if fresh else None)
            if old is not None:
                add(old, fact.stored_us if fresh else None)
    for fact in voided:
        add(fact, voided_at.get(fact.statement_id) if voided_at is not None else None)
    return causes


def change_event(
    member_id: str,
    activity_id: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    *,
    version: int,
    now_us: int,
    public_id: str | None = None,
    verbs: Sequence[str] = (),
    source_stored_us: int | None = None,
) -> OutboxEvent | None:
    """The event for a record going from `old` to `new`, or None when it did not change.

    A record whose content stays as it was but for its `mapping_version` (a new mapping
    version that maps these statements as before) makes no event: receivers got one with
    `changes: []` per record, noise. `changes` names the fields that changed (`verbs` and
    `provenance` included), so it is never empty. `verbs` are those of the statements
    that caused the change (`change_causes`), what a subscription's verb filter matches;
    `source_stored_us` the earliest stored time among them (`source_stored_at`, absent for a
    change no newly stored statement caused), from which delivery latency is measured.
    The body names the member by `public_id` when given (a pseudonym: see
    `projections.pseudonyms`); the outbox row keeps the member id for the LRS's own use.
    """
    if old == new:
        return None
    kind = "learning.created" if old is None else "learning.removed" if new is None else ""
    before, after = old or {}, new or {}
    changes = [f for f in CHANGE_FIELDS if before.get(f) != after.get(f)]
    if not kind and not changes:
        return None
    kind = kind or "learning.updated"
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": kind,
        "tags": change_tags(old, new),
        "occurred_at": format_datetime(now_us),
        "member_id": public_id or member_id,
        "activity_id": activity_id,
        "version": version,
        "changes": changes,
        "verbs": sorted(set(verbs)),
        "data": disclose_record(new, public_id or member_id),
    }
    if source_stored_us is not None:
        body["source_stored_at"] = format_datetime(source_stored_us)
    return OutboxEvent(
        id=event_id,
        type=kind,
        member_id=member_id,
        activity_id=activity_id,
        occurred_us=now_us,
        body=kept_json(body),
    )
