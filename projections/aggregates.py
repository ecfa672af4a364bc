"""The marketplace record of one (member, activity), rebuilt from its facts. Pure rules.

A record is never incremented: whenever one of a pair's statements changes (stored, voided,
matched to the member), the record is recomputed from all of that pair's non-voided facts.
That is what makes a statement count exactly once, however often it is applied, and what makes
voiding retract it. Facts are taken in the order they happened: `last_activity_at` (the
statement's timestamp), then stored time, then statement id.

Rules (see also the README, "Marketplace projection"):
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
from collections.abc import Sequence
from typing import Any

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


def _order(fact: Fact) -> tuple[str, int, str]:
    return (fact.data.get("last_activity_at", ""), fact.stored_us, fact.statement_id)


def _latest(facts: Sequence[Fact], key: str) -> Fact | None:
    return next((f for f in reversed(facts) if f.data.get(key) is not None), None)


def _score(facts: Sequence[Fact]) -> tuple[dict[str, Any] | None, list[str]]:
    scored = [f for f in facts if isinstance(f.data.get("score"), dict)]
    if not scored:
        return None, []
    top = max(f.data["score"]["value"] for f in scored)
    best = next(f for f in scored if f.data["score"]["value"] == top)  # ties: the earliest
    latest = scored[-1]
    score = {**best.data["score"], "statement_id": best.statement_id}
    score["latest"] = {**latest.data["score"], "statement_id": latest.statement_id}
    return score, list(dict.fromkeys([best.statement_id, latest.statement_id]))


def _badges(facts: Sequence[Fact]) -> list[dict[str, Any]]:
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
    return sorted(badges.values(), key=lambda b: (b["issued_at"] or "", b["badge_id"]))


def fold(
    member_id: str,
    activity_id: str,
    facts: Sequence[Fact],
    *,
    member_email: str | None = None,
    mapping_version: str = "",
) -> dict[str, Any] | None:
    """The record of one (member, activity) from its non-voided facts; None when none."""
    unique = {f.statement_id: f for f in facts if not f.voided}  # each statement counts once
    facts = sorted(unique.values(), key=_order)
    if not facts:
        return None
    provenance: dict[str, list[str]] = {}

    def source(field: str, chosen: Sequence[Fact]) -> None:
        if chosen:
            provenance[field] = [f.statement_id for f in chosen]

    completing = [f for f in facts if f.data.get("learning_completed") is True]
    source("learning_completed", completing)
    first_completion = completing[0] if completing else None
    source("completed_at", [first_completion] if first_completion else [])
    passed = [f for f in facts if f.data.get("success") == "passed"]
    failed = [f for f in facts if f.data.get("success") == "failed"]
    source("success", passed or failed)
    score, score_ids = _score(facts)
    if score_ids:
        provenance["score"] = score_ids
    badges = _badges(facts)
    if badges:
        provenance["badge_awarded"] = [b["statement_id"] for b in badges]
    state_fact = _latest(facts, "enrollment_state")
    if completing:
        state: str | None = "completed"
        source("enrollment_state", completing[:1])
    else:
        state = state_fact.data["enrollment_state"] if state_fact else None
        source("enrollment_state", [state_fact] if state_fact else [])
    certificate = _latest(facts, "certificate_ref")
    source("certificate_ref", [certificate] if certificate else [])
    newest = facts[-1]
    source("last_activity_at", [newest])
    email_fact = _latest(facts, "email")
    if member_email is None and email_fact is not None:
        source("email", [email_fact])
    provenance["statements"] = [f.statement_id for f in facts]
    return {
        "member_id": member_id,
        "activity_id": activity_id,
        "email": member_email or (email_fact.data["email"] if email_fact else None),
        "learning_completed": bool(completing),
        "completed_at": (
            first_completion.data.get("completed_at") or first_completion.data["last_activity_at"]
            if first_completion
            else None
        ),
        "success": "passed" if passed else "failed" if failed else None,
        "score": score,
        "badge_awarded": badges,
        "enrollment_state": state,
        "certificate_ref": certificate.data["certificate_ref"] if certificate else None,
        "last_activity_at": newest.data["last_activity_at"],
        "verbs": sorted({f.data["verb_id"] for f in facts if f.data.get("verb_id")}),
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
