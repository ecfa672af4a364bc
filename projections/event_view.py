"""What a webhook subscription with scopes receives of an event.

A subscription is made by an operator (admin), but its receiver may be a system that should
not see everything a record holds: a skills catalogue that needs completions but not scores.
`--scope` on a subscription gives it the fields those OAuth scopes open (`projections.scopes.
FieldView`, the rule the API's reads follow); without one it gets whole records, as before.

Record events are cut to the visible fields: `data` as `FieldView.record` gives it, `changes`
and `tags` without the hidden fields' names. A `learning.updated` whose visible changes are
none (a score change to a subscription without `read:scores`) is not sent to it at all. Member
lifecycle events carry `employment_status`, a profile field: they go to subscriptions that see
profile fields; `member.erased` goes to every subscription (it says "drop this member").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from projections.member_events import REHIRED, TERMINATED
from projections.scopes import FieldView

# the record field behind each tag of `aggregates.change_tags`
TAG_FIELDS = {
    "learning.completed": "learning_completed",
    "learning.uncompleted": "learning_completed",
    "badge.awarded": "badge_awarded",
    "badge.revoked": "badge_awarded",
    "score.changed": "score",
    "enrollment.changed": "enrollment_state",
    "certificate.changed": "certificate_ref",
}
_LEARNING = ("learning.created", "learning.updated", "learning.removed")
_NOT_A_CHANGE = frozenset({"provenance"})  # moves with any field, hidden ones included


def view_of(scopes: Sequence[str]) -> FieldView | None:
    """The view of a subscription with these scopes; None for one without (everything)."""
    if not scopes:
        return None
    view = FieldView.of(scopes)
    return None if view.everything else view


def hidden_tags(view: FieldView) -> list[str]:
    """The tags (event-type filters) whose field the view hides."""
    return [tag for tag, field in TAG_FIELDS.items() if field in view.hidden_record_fields]


def visible_event(event: dict[str, Any], view: FieldView | None) -> dict[str, Any] | None:
    """The event as a subscription with this view gets it; None: nothing for it to get."""
    if view is None:
        return event
    hidden = view.hidden_record_fields
    kind = event.get("type")
    if kind in (TERMINATED, REHIRED):
        return None if "employment_status" in hidden else event
    if kind not in _LEARNING:
        return event
    changes = [c for c in event.get("changes", ()) if c not in hidden]
    if kind == "learning.updated" and not set(changes) - _NOT_A_CHANGE:
        return None
    data = event.get("data")
    return {
        **event,
        "tags": [t for t in event.get("tags", ()) if TAG_FIELDS.get(t) not in hidden],
        "changes": changes,
        "data": view.record(data) if isinstance(data, dict) else data,
    }


def body_for(body: bytes, view: FieldView | None) -> bytes:
    """The delivery body for a subscription with this view (the stored one when it sees all)."""
    if view is None or not body:
        return body
    event = orjson.loads(body)
    visible = visible_event(event, view)  # None only if made before the view: tell nothing
    return orjson.dumps(visible or {**event, "tags": [], "changes": [], "data": None})
