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
- provenance: per field, the statement ids its value comes from; `statements` lists all.
- Voiding a statement removes its fact; the record is recomputed without it, so every value
  falls back to what the remaining statements say. No facts left: the record is removed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson

from projections.store.base import Fact, OutboxEvent
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
)


class FieldValue(NamedTuple):
    """One record field's value and the statement ids it comes from (its provenance)."""

    value: Any
    sources: list[str]


def _order(fact: Fact) -> tuple[str, int, str]:
    return (fact.data.get("last_activity_at", ""), fact.stored_us, fact.statement_id)


def _latest(facts: Sequence[Fact], key: str) -> Fact | None:
    return next((f for f in reversed(facts) if f.data.get(key) is not None), None)


def _ids(facts: Sequence[Fact | None]) -> list[str]:
    return [f.statement_id for f in facts if f is not None]


def _completing(facts: Sequence[Fact]) -> list[Fact]:
    return [f for f in facts if f.data.get("learning_completed") is True]


def learning_completed(facts: Sequence[Fact]) -> FieldValue:
    """True when any fact completes (a pass counts); every completing fact is a source."""
    completing = _completing(facts)
    return FieldValue(bool(completing), _ids(completing))


def completed_at(facts: Sequence[Fact]) -> FieldValue:
    """The earliest completing fact's completion time (its activity time when it has none)."""
    first = next(iter(_completing(facts)), None)
    if first is None:
        return FieldValue(None, [])
    when = first.data.get("completed_at") or first.data["last_activity_at"]
    return FieldValue(when, [first.statement_id])


def success(facts: Sequence[Fact]) -> FieldValue:
    """`passed` if any fact passed (retakes cannot lower it), else `failed` if any failed."""
    passed = [f for f in facts if f.data.get("success") == "passed"]
    failed = [f for f in facts if f.data.get("success") == "failed"]
    value = "passed" if passed else "failed" if failed else None
    return FieldValue(value, _ids(passed or failed))


def score(facts: Sequence[Fact]) -> FieldValue:
    """The best normalised score (ties: the earliest) with the most recent one as `latest`."""
    scored = [f for f in facts if isinstance(f.data.get("score"), dict)]
    if not scored:
        return FieldValue(None, [])
    top = max(f.data["score"]["value"] for f in scored)
    best = next(f for f in scored if f.data["score"]["value"] == top)  # ties: the earliest
    latest = scored[-1]
    value = {**best.data["score"], "statement_id": best.statement_id}
    value["latest"] = {**latest.data["score"], "statement_id": latest.statement_id}
    return FieldValue(value, list(dict.fromkeys([best.statement_id, latest.statement_id])))


def badge_awarded(facts: Sequence[Fact]) -> FieldValue:
    """One entry per badge id, its earliest award, ordered by issue time then id."""
    badges: dict[str, dict[str, Any]] = {}
    for fact in facts:
        badge_id = fact.data.get("badge_awarded.badge_id")
        if badge_id is None or badge_id in badges:
            continue
        badges[badge_id] = {
            "badge_id": badge_id,
            "metadata": fact.data.get("badge_awarded.metadata") or {},
            "issued_at": fact.data.get("badge_awarded.issued_at")
            or fact.data.get("last_activity_at"),
            "statement_id": fact.statement_id,
        }
    value = sorted(badges.values(), key=lambda b: (b["issued_at"] or "", b["badge_id"]))
    return FieldValue(value, [b["statement_id"] for b in value])


def enrollment_state(facts: Sequence[Fact]) -> FieldValue:
    """`completed` once completed; else the state of the most recent fact that has one."""
    completing = _completing(facts)
    if completing:
        return FieldValue("completed", _ids(completing[:1]))
    latest = _latest(facts, "enrollment_state")
    return FieldValue(latest.data["enrollment_state"] if latest else None, _ids([latest]))


def certificate_ref(facts: Sequence[Fact]) -> FieldValue:
    """The certificate of the most recent fact that has one."""
    latest = _latest(facts, "certificate_ref")
    return FieldValue(latest.data["certificate_ref"] if latest else None, _ids([latest]))


def last_activity_at(facts: Sequence[Fact]) -> FieldValue:
    """The newest fact's time."""
    newest = facts[-1]
    return FieldValue(newest.data["last_activity_at"], [newest.statement_id])


def email(facts: Sequence[Fact], member_email: str | None) -> FieldValue:
    """The identity map's primary email, else the newest fact's (only that one is a source)."""
    latest = _latest(facts, "email")
    value = member_email or (latest.data["email"] if latest else None)
    return FieldValue(value, _ids([latest]) if member_email is None else [])


def verbs(facts: Sequence[Fact]) -> list[str]:
    """Every verb the facts used, sorted."""
    return sorted({f.data["verb_id"] for f in facts if f.data.get("verb_id")})


# The record fields derived from the facts alone, in record (and provenance) order.
FIELD_RULES: tuple[tuple[str, Callable[[Sequence[Fact]], FieldValue]], ...] = (
    ("learning_completed", learning_completed),
    ("completed_at", completed_at),
    ("success", success),
    ("score", score),
    ("badge_awarded", badge_awarded),
    ("enrollment_state", enrollment_state),
    ("certificate_ref", certificate_ref),
    ("last_activity_at", last_activity_at),
)


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
) -> dict[str, Any] | None:
    """The record of one (member, activity) from its non-voided facts; None when none."""
    counted = counted_facts(facts)
    if not counted:
        return None
    fields = {name: rule(counted) for name, rule in FIELD_RULES}
    fields["email"] = email(counted, member_email)
    provenance = {name: field.sources for name, field in fields.items() if field.sources}
    provenance["statements"] = _ids(counted)
    return {
        "member_id": member_id,
        "activity_id": activity_id,
        "email": fields["email"].value,
        **{name: fields[name].value for name, _rule in FIELD_RULES},
        "verbs": verbs(counted),
        "provenance": provenance,
        "mapping_version": mapping_version,
    }


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
    tags = []
    was_done = bool((old or {}).get("learning_completed"))
    is_done = bool((new or {}).get("learning_completed"))
    if is_done and not was_done:
        tags.append("learning.completed")
    if was_done and not is_done:
        tags.append("learning.uncompleted")
    if _badge_ids(new) - _badge_ids(old):
        tags.append("badge.awarded")
    if _badge_ids(old) - _badge_ids(new):
        tags.append("badge.revoked")
    for field, tag in (
        ("score", "score.changed"),
        ("enrollment_state", "enrollment.changed"),
        ("certificate_ref", "certificate.changed"),
    ):
        if (old or {}).get(field) != (new or {}).get(field):
            tags.append(tag)
    return tags


def change_event(
    member_id: str,
    activity_id: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    *,
    version: int,
    now_us: int,
) -> OutboxEvent | None:
    """The event for a record going from `old` to `new`, or None when nothing changed."""
    if old == new:
        return None
    kind = "learning.created" if old is None else "learning.removed" if new is None else ""
    kind = kind or "learning.updated"
    changes = [f for f in FIELDS if (old or {}).get(f) != (new or {}).get(f)]
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": kind,
        "tags": change_tags(old, new),
        "occurred_at": format_datetime(now_us),
        "member_id": member_id,
        "activity_id": activity_id,
        "version": version,
        "changes": changes,
        "verbs": sorted(set((old or {}).get("verbs", [])) | set((new or {}).get("verbs", []))),
        "data": new,
    }
    return OutboxEvent(
        id=event_id,
        type=kind,
        member_id=member_id,
        activity_id=activity_id,
        occurred_us=now_us,
        body=orjson.dumps(body),
    )
