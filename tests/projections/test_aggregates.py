"""The record rules (projections.aggregates), one by one, on facts made by the shipped mapping."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import orjson
import pytest

from projections.aggregates import change_event, change_tags, fold, summarize
from projections.facts import Projector
from projections.store.base import Fact
from tests.projections.conftest import COURSE, at, mbox_actor, statement

BADGE_EXT = "urn:lrs-marketplace:extension:badge"


@pytest.fixture
def facts(projector: Projector):  # type: ignore[no-untyped-def]
    """Facts of statements, in the order given (each gets a stored time)."""

    def make(*statements: dict[str, Any]) -> list[Fact]:
        made = []
        for n, s in enumerate(statements, start=1):
            body = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, orjson.dumps(s).decode())), **s}
            contribution = projector.contribution(body, stored_us=n)
            assert contribution is not None
            made.append(contribution.fact("E1", voided=False))
        return made

    return make


def rec(facts: list[Fact], **options: Any) -> dict[str, Any]:
    record = fold("E1", COURSE, facts, mapping_version="1", **options)
    assert record is not None
    return record


def test_no_facts_no_record() -> None:
    assert fold("E1", COURSE, []) is None


def test_completion_and_completed_at_is_the_first(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(
        statement("attempted", timestamp=at(1)),
        statement("completed", timestamp=at(5)),
        statement("completed", timestamp=at(9)),
    )
    r = rec(made)
    assert r["learning_completed"] is True
    assert r["completed_at"] == "2024-03-01T00:00:05.000000Z"
    assert r["provenance"]["completed_at"] == [made[1].statement_id]
    assert r["provenance"]["learning_completed"] == [made[1].statement_id, made[2].statement_id]
    assert rec(made[:1])["learning_completed"] is False
    assert rec(made[:1])["completed_at"] is None


def test_passed_counts_as_completed(facts) -> None:  # type: ignore[no-untyped-def]
    r = rec(facts(statement("passed")))
    assert r["learning_completed"] is True and r["success"] == "passed"
    assert r["enrollment_state"] == "completed"


def test_failed_after_passed_keeps_passed(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(statement("passed", timestamp=at(1)), statement("failed", timestamp=at(2)))
    r = rec(made)
    assert r["success"] == "passed" and r["learning_completed"] is True
    assert r["provenance"]["success"] == [made[0].statement_id]
    only_failed = rec(made[1:])
    assert only_failed["success"] == "failed" and only_failed["learning_completed"] is False


def test_best_and_latest_score(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(
        statement("scored", timestamp=at(1), result={"score": {"raw": 6, "min": 0, "max": 10}}),
        statement("scored", timestamp=at(2), result={"score": {"scaled": 0.9}}),
        statement("scored", timestamp=at(3), result={"score": {"raw": 70}}),
        statement("scored", timestamp=at(4), result={"score": {"scaled": 0.9}}),
    )
    score = rec(made)["score"]
    assert score["value"] == 90.0 and score["scaled"] == 0.9
    assert score["statement_id"] == made[1].statement_id  # ties: the earliest
    assert score["latest"] == {"value": 90.0, "scaled": 0.9, "statement_id": made[3].statement_id}
    assert rec(made)["provenance"]["score"] == [made[1].statement_id, made[3].statement_id]
    assert rec(facts(statement("attempted")))["score"] is None


def test_order_is_by_timestamp_not_arrival(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(
        statement("scored", timestamp=at(50), result={"score": {"raw": 10}}),
        statement("scored", timestamp=at(40), result={"score": {"raw": 20}}),
    )
    r = rec(made)
    assert r["score"]["latest"]["value"] == 10.0
    assert r["last_activity_at"] == "2024-03-01T00:00:50.000000Z"


def test_enrollment_state(facts) -> None:  # type: ignore[no-untyped-def]
    abandoned = "https://w3id.org/xapi/adl/verbs/abandoned"
    active_then_dropped = facts(
        statement("registered", timestamp=at(1)), statement(abandoned, timestamp=at(2))
    )
    assert rec(active_then_dropped)["enrollment_state"] == "dropped"
    dropped_then_resumed = facts(
        statement(abandoned, timestamp=at(1)), statement("resumed", timestamp=at(2))
    )
    assert rec(dropped_then_resumed)["enrollment_state"] == "active"
    completed_then_dropped = facts(
        statement("completed", timestamp=at(1)), statement(abandoned, timestamp=at(2))
    )
    assert rec(completed_then_dropped)["enrollment_state"] == "completed"  # sticky
    assert rec(facts(statement("experienced")))["enrollment_state"] is None


def test_badges_one_per_id_earliest_award(facts) -> None:  # type: ignore[no-untyped-def]
    earned = "http://specification.openbadges.org/xapi/verbs/earned"

    def award(badge: str, second: int, level: int) -> dict[str, Any]:
        result = {"extensions": {BADGE_EXT: {"id": badge, "metadata": {"level": level}}}}
        return statement(earned, timestamp=at(second), result=result)

    made = facts(award("b2", 5, 1), award("b1", 3, 1), award("b2", 1, 2))
    badges = rec(made)["badge_awarded"]
    assert badges == [
        {
            "badge_id": "b2",
            "metadata": {"level": 2},
            "issued_at": "2024-03-01T00:00:01.000000Z",
            "statement_id": made[2].statement_id,
        },
        {
            "badge_id": "b1",
            "metadata": {"level": 1},
            "issued_at": "2024-03-01T00:00:03.000000Z",
            "statement_id": made[1].statement_id,
        },
    ]
    assert rec(facts(statement("completed")))["badge_awarded"] == []


def test_certificate_is_the_latest(facts) -> None:  # type: ignore[no-untyped-def]
    ext = "urn:lrs-marketplace:extension:certificate"
    made = facts(
        statement("completed", timestamp=at(1), result={"extensions": {ext: "https://c/1"}}),
        statement("completed", timestamp=at(2), result={"extensions": {ext: "https://c/2"}}),
        statement("attempted", timestamp=at(3)),
    )
    r = rec(made)
    assert r["certificate_ref"] == "https://c/2"
    assert r["provenance"]["certificate_ref"] == [made[1].statement_id]


def test_email_from_the_identity_map_else_the_statements(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(statement("attempted", actor=mbox_actor("Ada@Example.com")))
    assert rec(made)["email"] == "ada@example.com"
    assert rec(made)["provenance"]["email"] == [made[0].statement_id]
    with_map = rec(made, member_email="ada.l@example.com")
    assert with_map["email"] == "ada.l@example.com" and "email" not in with_map["provenance"]


def test_voided_facts_unwind(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(
        statement("attempted", timestamp=at(1), result={"score": {"raw": 30}}),
        statement("passed", timestamp=at(2), result={"score": {"raw": 95}}),
    )
    voided = [made[0], replace(made[1], voided=True)]
    assert rec(voided) == rec(made[:1])
    assert fold("E1", COURSE, [replace(f, voided=True) for f in made]) is None


def test_the_fold_is_order_independent_and_pure(facts) -> None:  # type: ignore[no-untyped-def]
    made = facts(*(statement("scored", result={"score": {"raw": n}}) for n in (5, 50, 7)))
    assert rec(made) == rec(list(reversed(made))) == rec(made + made)


def test_summary_rolls_up(facts) -> None:  # type: ignore[no-untyped-def]
    one = rec(facts(statement("passed", timestamp=at(1), result={"score": {"raw": 80}})))
    two = {
        **rec(facts(statement("attempted", timestamp=at(2), result={"score": {"raw": 60}}))),
        "activity_id": "https://lms.example.com/c2",
    }
    summary = summarize("E1", [one, two])
    assert summary["activities"] == 2
    assert summary["activities_completed"] == 1 and summary["activities_active"] == 1
    assert summary["activities_passed"] == 1
    assert summary["average_best_score"] == 70.0
    assert summary["completed_activity_ids"] == [COURSE]
    assert summary["last_activity_at"] == "2024-03-01T00:00:02.000000Z"
    assert summarize("E1", [])["average_best_score"] is None


def test_change_events_and_tags(facts) -> None:  # type: ignore[no-untyped-def]
    before = rec(facts(statement("attempted", timestamp=at(1))))
    after = rec(facts(statement("attempted", timestamp=at(1)), statement("completed")))
    assert change_event("E1", COURSE, before, before, version=2, now_us=1) is None
    event = change_event("E1", COURSE, before, after, version=2, now_us=1_700_000_000_000_000)
    assert event is not None
    body = orjson.loads(event.body)
    assert body["type"] == "learning.updated" and body["version"] == 2
    assert "learning.completed" in body["tags"] and "enrollment.changed" in body["tags"]
    assert "learning_completed" in body["changes"] and body["data"] == after
    assert body["id"] == event.id and body["occurred_at"].endswith("Z")
    created = change_event("E1", COURSE, None, before, version=1, now_us=1)
    removed = change_event("E1", COURSE, after, None, version=3, now_us=1)
    assert created is not None and orjson.loads(created.body)["type"] == "learning.created"
    assert removed is not None and orjson.loads(removed.body)["data"] is None
    assert "learning.uncompleted" in change_tags(after, before)
