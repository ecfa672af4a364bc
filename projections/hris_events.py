"""HRIS events as received: the JSON body read into `HrisEvent`s, or every problem named (pure).

An event (spec/hris-events-openapi.json):

    {"event_id": "evt-1", "type": "hire", "effective_at": "2026-03-01T09:00:00Z",
     "member": {"employee_id": "E1", "email": "ada@example.com", ...}}

`member` carries the fields of the identity import (`projections.identity_rows`, parsed by
the same code): employee_id (required), email, secondary_emails, name, department, manager,
employment_status, worker_type, lms_accounts. A field left out keeps the member's value.
The type sets the employment status: `hire` and `rehire` make the member active (or
on_leave, if given), `terminate` terminated; `change` sets what it gives; `erase` needs only
the employee id. The body is one event or an array of at most MAX_BATCH of them, read all or
nothing: one bad event refuses the whole body (`MalformedEvent`, every problem listed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from projections.hris_errors import MalformedEvent
from projections.identity_rows import IMPORT_FIELDS, IdentityRow, RejectedRow, parse_row

EVENT_TYPES = ("hire", "change", "terminate", "rehire", "erase")
EVENT_FIELDS = ("event_id", "type", "effective_at", "member")
MEMBER_FIELDS = tuple(f for f in IMPORT_FIELDS if f != "effective_at")
MAX_BATCH = 500
MAX_EVENT_ID = 200
_ACTIVE = {"hire": "active", "rehire": "active", "terminate": "terminated"}
_ALLOWED_STATUS = {"hire": ("active", "on_leave"), "rehire": ("active", "on_leave")}


@dataclass(frozen=True)
class HrisEvent:
    """One valid event: the member row it applies (its values include `effective_at`)."""

    index: int
    event_id: str
    type: str
    effective_at: str
    row: IdentityRow
    digest: str

    @property
    def member_id(self) -> str:
        """The employee id."""
        return self.row.member_id


def read_events(body: bytes, aliases: Mapping[str, str]) -> tuple[list[HrisEvent], bool]:
    """The events of a body, and whether it was an array; MalformedEvent naming every problem."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(
            "the body is not JSON", problems=[_problem(None, None, str(exc))]
        ) from None
    batch = isinstance(value, list)
    items = value if batch else [value]
    if batch and not 1 <= len(items) <= MAX_BATCH:
        raise MalformedEvent(
            f"an array of events holds 1 to {MAX_BATCH} events",
            problems=[_problem(None, None, f"{len(items)} events")],
        )
    events: list[HrisEvent] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        found = read_event(index, item, aliases)
        if isinstance(found, HrisEvent):
            events.append(found)
        else:
            problems += found
    problems += _duplicates(events)
    if problems:
        raise MalformedEvent(
            f"{len(problems)} problem(s) in the events; none applied", problems=problems
        )
    return events, batch


def read_event(index: int, item: Any, aliases: Mapping[str, str]) -> HrisEvent | list[dict]:
    """One event, or its problems."""
    if not isinstance(item, dict):
        return [_problem(index, None, "an event is a JSON object")]
    problems = [
        _problem(index, key, "not an event field") for key in item if key not in EVENT_FIELDS
    ]
    event_id, kind, member = item.get("event_id"), item.get("type"), item.get("member")
    if not isinstance(event_id, str) or not 0 < len(event_id.strip()) <= MAX_EVENT_ID:
        problems.append(_problem(index, "event_id", f"text of 1 to {MAX_EVENT_ID} characters"))
    if kind not in EVENT_TYPES:
        problems.append(_problem(index, "type", f"one of {', '.join(EVENT_TYPES)}"))
    if not isinstance(item.get("effective_at"), str):
        problems.append(_problem(index, "effective_at", "an ISO 8601 date-time is required"))
    if not isinstance(member, dict):
        problems.append(_problem(index, "member", "an object with the employee_id is required"))
    if problems:
        return problems
    return _with_member(index, item, aliases)


def _with_member(index: int, item: dict[str, Any], aliases: Mapping[str, str]) -> Any:
    member, kind = item["member"], item["type"]
    problems = [
        _problem(index, f"member.{key}", "not a member field")
        for key in member
        if key not in MEMBER_FIELDS
    ]
    fields = {k: v for k, v in member.items() if k in MEMBER_FIELDS}
    parsed = parse_row(index, {**fields, "effective_at": item["effective_at"]}, aliases)
    if isinstance(parsed, RejectedRow):
        return [*problems, _problem(index, "member", parsed.reason)]
    if parsed.values.get("effective_at") is None:
        problems.append(_problem(index, "effective_at", "an ISO 8601 date-time is required"))
    if problems:
        return problems
    status = parsed.values.get("employment_status")
    allowed = _ALLOWED_STATUS.get(kind, (_ACTIVE[kind],) if kind in _ACTIVE else None)
    if status is not None and allowed is not None and status not in allowed:
        return [_problem(index, "member.employment_status", f"a {kind} cannot set {status}")]
    values = dict(parsed.values)
    if status is None and kind in _ACTIVE:
        values["employment_status"] = _ACTIVE[kind]
    return HrisEvent(
        index=index,
        event_id=item["event_id"],
        type=kind,
        effective_at=values["effective_at"],
        row=IdentityRow(index, parsed.member_id, values),
        digest=digest(item),
    )


def digest(item: Any) -> str:
    """SHA-256 of the event's canonical JSON: a repeat has the same, a reused id another."""
    return hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _duplicates(events: list[HrisEvent]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    problems = []
    for event in events:
        if event.event_id in seen:
            problems.append(_problem(event.index, "event_id", "given twice in this body"))
        seen.add(event.event_id)
    return problems


def _problem(index: int | None, field: str | None, problem: str) -> dict[str, Any]:
    return {"index": index, "field": field, "problem": problem}
