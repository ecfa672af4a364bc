"""Deterministic statement ids, and `previous`: only what changed produces statements."""

from __future__ import annotations

import uuid

from scorm_adapter import SCORM_NAMESPACE
from scorm_adapter.context import canonical_json
from tests.scorm_adapter.helpers import (
    ATTEMPT,
    COURSE,
    SCO,
    by_verb,
    convert,
    make_context,
    one,
    verbs,
)

STATUS_2004 = {
    "cmi.completion_status": "completed",
    "cmi.success_status": "passed",
    "cmi.score.scaled": "0.8",
}


def test_id_is_uuid5_of_the_natural_key() -> None:
    statement = one(convert(make_context(), {"cmi.completion_status": "completed"}), "completed")
    key = [
        "statement",
        ["account", "http://lms.adlnet.gov/", "500-627-490"],
        COURSE,
        SCO,
        ATTEMPT,
        None,
        "completed",
        SCO,
        "cmi.completion_status",
        ["completed"],
        None,
    ]
    assert statement["id"] == str(uuid.uuid5(SCORM_NAMESPACE, canonical_json(key)))
    assert uuid.UUID(statement["id"]).version == 5


def test_same_input_same_ids() -> None:
    first = [s["id"] for s in convert(make_context(), STATUS_2004)]
    second = [s["id"] for s in convert(make_context(), dict(STATUS_2004))]
    assert first == second
    assert len(set(first)) == len(first)


def test_timestamp_is_not_part_of_the_key() -> None:
    first = convert(make_context(timestamp="2024-01-01T00:00:00Z"), STATUS_2004)
    second = convert(make_context(timestamp="2024-06-01T00:00:00Z"), STATUS_2004)
    assert [s["id"] for s in first] == [s["id"] for s in second]


def test_every_part_of_the_natural_key_changes_the_id() -> None:
    base = {s["id"] for s in convert(make_context(), STATUS_2004)}
    variants = [
        make_context(learner={"mbox": "mailto:someone@example.com"}),
        make_context(course_iri="http://adlnet.gov/courses/compsci/CS205/"),
        make_context(sco_iri=SCO + "b"),
        make_context(attempt=ATTEMPT + "b"),
        make_context(registration="6f4bba28-9b94-4c6a-9dc9-5d0a1c2f0c11"),
    ]
    for ctx in variants:
        assert base.isdisjoint(s["id"] for s in convert(ctx, STATUS_2004))


def test_the_value_is_part_of_the_key() -> None:
    passed = one(convert(make_context(), {"cmi.success_status": "passed"}), "passed")
    failed = one(convert(make_context(), {"cmi.success_status": "failed"}), "failed")
    low = one(convert(make_context(), {"cmi.score.scaled": "0.5"}), "scored")
    high = one(convert(make_context(), {"cmi.score.scaled": "0.6"}), "scored")
    assert passed["id"] != failed["id"]
    assert low["id"] != high["id"]


def test_equal_learner_keys_ignore_email_domain_case() -> None:
    upper = convert(make_context(learner={"mbox": "mailto:ada@EXAMPLE.com"}), STATUS_2004)
    lower = convert(make_context(learner={"mbox": "mailto:ada@example.com"}), STATUS_2004)
    assert [s["id"] for s in upper] == [s["id"] for s in lower]


def test_attempt_number_gives_a_stable_unique_attempt_iri() -> None:
    one_ = make_context(attempt=1).attempt_iri
    assert one_ == make_context(attempt=1).attempt_iri
    assert one_.startswith(SCO + "?attemptId=")
    assert one_ != make_context(attempt=2).attempt_iri
    assert one_ != make_context(attempt=1, learner={"mbox": "mailto:b@example.com"}).attempt_iri
    assert make_context(attempt=1, sco_iri=SCO + "?v=2").attempt_iri.startswith(
        SCO + "?v=2&attemptId="
    )


def test_resumed_and_suspended_ids_are_per_session() -> None:
    data = {"cmi.entry": "resume", "cmi.exit": "suspend"}
    first = convert(make_context(session="s1", session_ended=True), data)
    second = convert(make_context(session="s2", session_ended=True), data)
    assert {s["id"] for s in first}.isdisjoint(s["id"] for s in second)


def test_initialized_and_terminated_ids_are_per_attempt() -> None:
    data = {"cmi.entry": "ab-initio", "cmi.exit": "normal"}
    first = convert(make_context(session="s1"), data)
    second = convert(make_context(session="s2"), data)
    assert [s["id"] for s in first] == [s["id"] for s in second]


def test_previous_snapshot_suppresses_unchanged_statements() -> None:
    before = {
        "cmi.entry": "ab-initio",
        "cmi.completion_status": "completed",
        "cmi.score.scaled": "0.5",
    }
    after = {**before, "cmi.score.scaled": "0.7", "cmi.success_status": "passed"}
    statements = convert(make_context(), after, previous=before)
    assert verbs(statements) == ["passed", "scored"]
    assert one(statements, "scored")["result"] == {"score": {"scaled": 0.7}}


def test_no_second_completed_when_already_completed() -> None:
    data = {"cmi.core.lesson_status": "completed"}
    assert convert(make_context(version="1.2"), data, previous=data) == []


def test_status_change_against_previous_yields_the_new_status() -> None:
    before = {"cmi.core.lesson_status": "incomplete"}
    after = {"cmi.core.lesson_status": "completed"}
    assert verbs(convert(make_context(version="1.2"), after, previous=before)) == ["completed"]


def test_session_end_is_reported_even_if_exit_was_set_before() -> None:
    # The SCO set cmi.exit = suspend early and committed; LMSFinish then ends the session.
    before = {"cmi.entry": "ab-initio", "cmi.exit": "suspend"}
    after = {**before, "cmi.session_time": "PT5M"}
    statements = convert(make_context(session_ended=True), after, previous=before)
    assert verbs(statements) == ["suspended"]
    assert one(statements, "suspended")["result"] == {"duration": "PT5M"}


def test_new_interaction_records_only() -> None:
    first = {
        "cmi.interactions.0.id": "q1",
        "cmi.interactions.0.type": "likert",
        "cmi.interactions.0.learner_response": "agree",
    }
    second = {
        **first,
        "cmi.interactions.1.id": "q2",
        "cmi.interactions.1.type": "likert",
        "cmi.interactions.1.learner_response": "disagree",
    }
    statements = convert(make_context(), second, previous=first)
    assert [s["object"]["id"] for s in by_verb(statements, "responded")] == [
        SCO + "/interaction/q2"
    ]


def test_an_interaction_gaining_a_result_is_reported_again() -> None:
    first = {
        "cmi.interactions.0.id": "q1",
        "cmi.interactions.0.type": "true-false",
        "cmi.interactions.0.learner_response": "true",
    }
    second = {**first, "cmi.interactions.0.result": "correct"}
    [statement] = convert(make_context(), second, previous=first)
    assert statement["result"] == {"response": "true", "success": True}
    assert statement["id"] != convert(make_context(), first)[0]["id"]
