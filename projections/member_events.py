"""Member lifecycle events: `member.terminated` when a member's employment status becomes
terminated, `member.rehired` when it leaves terminated (pure rules, plus the outbox write).

An identity change (an import, full or delta, or an HRIS event, all through
`IdentityService.apply`) is compared member by member, before and after; each status
transition makes one event. The event id is derived from the member, the transition and the
state's `effective_at`, so an operation run again after a crash, or the same HRIS state
imported twice, adds the event once (`AggregateStore.add_events` skips ids already there).
The records themselves carry the status (`employment_status`, see `projections.aggregates`):
the worker re-folds the member's records, which sends their usual `learning.updated` events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from projections.store.base import Member, OutboxEvent
from projections.store.kept_json import kept_json
from projections.transforms import format_datetime

TERMINATED = "member.terminated"
REHIRED = "member.rehired"
ERASED = "member.erased"  # sent by `projections.erasure`
MEMBER_EVENT_TYPES = (TERMINATED, REHIRED, ERASED)


def transition(before: Member | None, after: Member) -> str | None:
    """The member event a status change makes, or None (a hire is not a rehire)."""
    if before is None:
        return None
    was, now = before.employment_status == "terminated", after.employment_status == "terminated"
    if now and not was:
        return TERMINATED
    if was and not now:
        return REHIRED
    return None


def transitions(changes: Iterable[tuple[Member | None, Member]]) -> list[tuple[Member, str]]:
    """(member after, event type) for each change that crosses terminated."""
    found = []
    for before, after in changes:
        kind = transition(before, after)
        if kind is not None:
            found.append((after, kind))
    return found


def member_event(member: Member, kind: str, *, public_id: str, now_us: int) -> OutboxEvent:
    """The outbox event of one transition; the body names the member by `public_id`."""
    seed = f"{member.member_id}\0{kind}\0{member.effective_at or ''}".encode()
    event_id = f"evt_{hashlib.sha256(seed).hexdigest()[:32]}"
    body: dict[str, Any] = {
        "id": event_id,
        "type": kind,
        "tags": [],
        "occurred_at": format_datetime(now_us),
        "member_id": public_id,
        "activity_id": None,
        "employment_status": member.employment_status,
        "effective_at": member.effective_at,
        "changes": ["employment_status"],
        "verbs": [],
    }
    return OutboxEvent(
        id=event_id,
        type=kind,
        member_id=member.member_id,
        activity_id="",
        occurred_us=now_us,
        body=kept_json(body),
    )


def member_events(
    found: Iterable[tuple[Member, str]], public: Mapping[str, str], now_us: int
) -> list[OutboxEvent]:
    """The events of `transitions`, each member named by its public id (pseudonym)."""
    return [
        member_event(m, kind, public_id=public.get(m.member_id, m.member_id), now_us=now_us)
        for m, kind in found
    ]
