"""Reading HRIS event bodies (pure): valid events, the status a type sets, every problem named."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from projections.hris_errors import MalformedEvent
from projections.hris_events import MAX_BATCH, read_events
from projections.hris_service import rounds
from tests.projections.hris_support import event


def read(payload: Any) -> tuple[list[Any], bool]:
    return read_events(orjson.dumps(payload), {"googlemail.com": "gmail.com"})


def problems(payload: Any) -> list[dict[str, Any]]:
    with pytest.raises(MalformedEvent) as caught:
        read(payload)
    return caught.value.details["problems"]


def test_an_event_reads_as_a_member_row() -> None:
    given = event(
        "e1",
        "hire",
        "2026-03-01",
        "E7",
        email="Ada+lms@GoogleMail.com",
        secondary_emails=["a@x.com"],
        lms_accounts=[{"homePage": "https://lms.example.com/", "name": "u1"}],
    )
    [found], batch = read(given)
    assert not batch and found.event_id == "e1" and found.member_id == "E7"
    assert found.effective_at == "2026-03-01T00:00:00.000000Z"
    assert found.row.values == {
        "email": "ada@gmail.com",
        "secondary_emails": ("a@x.com",),
        "lms_accounts": (("https://lms.example.com", "u1"),),
        "effective_at": "2026-03-01T00:00:00.000000Z",
        "employment_status": "active",
    }


@pytest.mark.parametrize(
    ("kind", "given", "status"),
    [
        ("hire", None, "active"),
        ("hire", "on leave", "on_leave"),
        ("rehire", None, "active"),
        ("terminate", None, "terminated"),
        ("change", "terminated", "terminated"),
        ("change", None, None),
        ("erase", None, None),
    ],
)
def test_the_type_sets_the_status(kind: str, given: str | None, status: str | None) -> None:
    fields = {"employment_status": given} if given else {}
    [found], _ = read(event("e1", kind, "2026-03-01T10:00:00+02:00", **fields))
    assert found.row.values.get("employment_status") == status
    assert found.effective_at == "2026-03-01T08:00:00.000000Z"


def test_a_repeat_has_the_same_digest_and_other_content_another() -> None:
    [one], _ = read(event("e1", "hire", "2026-03-01", name="A"))
    reordered = {"member": {"name": "A", "employee_id": "H1"}, "type": "hire"}
    [same], _ = read({**reordered, "effective_at": "2026-03-01", "event_id": "e1"})
    [other], _ = read(event("e1", "hire", "2026-03-01", name="B"))
    assert one.digest == same.digest != other.digest


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], None),
        ("text", None),
        ({**event("e1", "hire", "2026-03-01"), "extra": 1}, "extra"),
        ({**event("e1", "hire", "2026-03-01"), "event_id": ""}, "event_id"),
        ({**event("e1", "hire", "2026-03-01"), "event_id": "x" * 201}, "event_id"),
        (event("e1", "promote", "2026-03-01"), "type"),
        (event("e1", "hire", "soon"), "member"),
        ({**event("e1", "hire", "2026-03-01"), "effective_at": ""}, "effective_at"),
        ({**event("e1", "hire", "2026-03-01"), "member": ["E1"]}, "member"),
        ({**event("e1", "hire", "2026-03-01"), "member": {}}, "member"),
        (event("e1", "hire", "2026-03-01", nickname="Al"), "member.nickname"),
        (event("e1", "hire", "2026-03-01", email="nope"), "member"),
        (
            event("e1", "hire", "2026-03-01", employment_status="terminated"),
            "member.employment_status",
        ),
        (
            event("e1", "terminate", "2026-03-01", employment_status="active"),
            "member.employment_status",
        ),
        ([event("e1", "hire", "2026-03-01"), event("e1", "change", "2026-03-02")], "event_id"),
    ],
)
def test_problems_are_named(payload: Any, field: str | None) -> None:
    assert field in [p["field"] for p in problems(payload)]


def test_one_bad_event_refuses_the_batch_and_every_problem_is_listed() -> None:
    found = problems([event("a", "hire", "2026-03-01"), event("b", "fire", "x"), 7])
    assert {(p["index"], p["field"]) for p in found} >= {(1, "type"), (2, None)}
    assert problems([event(str(n), "hire", "2026-03-01") for n in range(MAX_BATCH + 1)])
    with pytest.raises(MalformedEvent, match="not JSON"):
        read_events(b"\xff", {})


def test_rounds_hold_one_event_per_member_in_effective_order() -> None:
    payload = [
        event("a1", "hire", "2026-01-01", "A"),
        event("b1", "hire", "2026-01-02", "B"),
        event("a2", "change", "2026-02-01", "A"),
        event("a3", "terminate", "2026-03-01", "A"),
        event("c1", "erase", "2026-03-02", "C"),
    ]
    found, _ = read(payload)
    assert [[e.event_id for e in r] for r in rounds(found)] == [["a1", "b1", "c1"], ["a2"], ["a3"]]
