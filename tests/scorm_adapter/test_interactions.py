"""cmi.interactions.n → responded: types, response formats of both versions, results."""

from __future__ import annotations

from typing import Any

import pytest

from scorm_adapter import ScormDataError
from tests.scorm_adapter.helpers import SCO, STAMP, convert, make_context, one


def _responded(version: str, fields: dict[str, str]) -> dict[str, Any]:
    elements = {f"cmi.interactions.0.{key}": value for key, value in fields.items()}
    elements.setdefault("cmi.interactions.0.id", "q1")
    return one(convert(make_context(version=version), elements), "responded")


@pytest.mark.parametrize(
    ("kind", "response", "pattern", "xapi_kind", "xapi_response", "xapi_pattern"),
    [
        ("true-false", "1", "t", "true-false", "true", "true"),
        ("true-false", "f", "0", "true-false", "false", "false"),
        ("true-false", "true", "false", "true-false", "true", "false"),
        ("choice", "a", "a", "choice", "a", "a"),
        ("choice", "{a,c}", "a, b", "choice", "a[,]c", "a[,]b"),
        ("fill-in", "Paris, France", "Paris", "fill-in", "Paris, France", "Paris"),
        ("matching", "{1.a,2.b}", "1.b,2.a", "matching", "1[.]a[,]2[.]b", "1[.]b[,]2[.]a"),
        ("performance", "step one done", "anything", "other", "step one done", "anything"),
        ("sequencing", "c,a,b", "a,b,c", "sequencing", "c[,]a[,]b", "a[,]b[,]c"),
        ("likert", "3", "5", "likert", "3", "5"),
        ("numeric", "42.5", "42.5", "numeric", "42.5", "42.5"),
    ],
)
def test_scorm_12_types_and_formats(
    kind: str, response: str, pattern: str, xapi_kind: str, xapi_response: str, xapi_pattern: str
) -> None:
    fields = {"type": kind, "student_response": response, "correct_responses.0.pattern": pattern}
    statement = _responded("1.2", fields)
    assert statement["object"]["definition"] == {
        "type": "http://adlnet.gov/expapi/activities/interaction",
        "interactionType": xapi_kind,
        "correctResponsesPattern": [xapi_pattern],
    }
    assert statement["result"]["response"] == xapi_response


@pytest.mark.parametrize(
    ("kind", "response", "pattern"),
    [
        ("true-false", "true", "false"),
        ("choice", "a[,]c", "a[,]b"),
        ("fill-in", "{lang=en}Paris", "{case_matters=true}{order_matters=false}Paris[,]France"),
        ("long-fill-in", "A long essay.", "{case_matters=false}{lang=en}essay"),
        ("likert", "agree", "strongly_agree"),
        ("matching", "1[.]a[,]2[.]b", "1[.]a[,]2[.]b"),
        (
            "performance",
            "step1[.]10[,]step2[.]x",
            "{order_matters=false}step1[.]5[:]15[,]step2[.]x",
        ),
        ("sequencing", "c[,]a[,]b", "a[,]b[,]c"),
        ("numeric", "3.14", "3[:]4"),
        ("other", "anything {at} all", "anything"),
    ],
)
def test_scorm_2004_types_keep_their_format(kind: str, response: str, pattern: str) -> None:
    fields = {"type": kind, "learner_response": response, "correct_responses.0.pattern": pattern}
    statement = _responded("2004", fields)
    assert statement["object"]["definition"]["interactionType"] == kind
    assert statement["object"]["definition"]["correctResponsesPattern"] == [pattern]
    assert statement["result"]["response"] == response


@pytest.mark.parametrize(
    ("version", "result", "expected"),
    [
        ("1.2", "correct", {"success": True}),
        ("1.2", "wrong", {"success": False}),
        ("1.2", "unanticipated", {}),
        ("1.2", "neutral", {}),
        ("1.2", "0.5", {"score": {"raw": 0.5}}),
        ("2004", "correct", {"success": True}),
        ("2004", "incorrect", {"success": False}),
        ("2004", "unanticipated", {}),
        ("2004", "neutral", {}),
        ("2004", "-3", {"score": {"raw": -3}}),
    ],
)
def test_result(version: str, result: str, expected: dict[str, Any]) -> None:
    response = "student_response" if version == "1.2" else "learner_response"
    statement = _responded(version, {"type": "likert", response: "x", "result": result})
    assert statement["result"] == {"response": "x", **expected}


@pytest.mark.parametrize(
    ("version", "result"), [("1.2", "incorrect"), ("2004", "wrong"), ("2004", "maybe")]
)
def test_result_of_the_other_version_is_an_error(version: str, result: str) -> None:
    response = "student_response" if version == "1.2" else "learner_response"
    with pytest.raises(ScormDataError, match=r"^cmi\.interactions\.0\.result: expected"):
        _responded(version, {"type": "likert", response: "x", "result": result})


@pytest.mark.parametrize(("version", "latency"), [("1.2", "00:01:02.5"), ("2004", "PT1M2.5S")])
def test_latency_is_the_duration(version: str, latency: str) -> None:
    response = "student_response" if version == "1.2" else "learner_response"
    statement = _responded(version, {"type": "likert", response: "x", "latency": latency})
    expected = "PT1M2.5S"
    assert statement["result"]["duration"] == expected


@pytest.mark.parametrize(
    ("given", "timestamp"),
    [
        ("2024-03-01T10:05:00.5+01", "2024-03-01T10:05:00.5+01:00"),
        ("2024-03-01T10:05:00Z", "2024-03-01T10:05:00Z"),
        ("2024-03-01T10:05:00.123-0530", "2024-03-01T10:05:00.123-05:30"),
        ("2024-03-01T10Z", "2024-03-01T10:00:00Z"),
        ("2024-03-01T10:05+02:00", "2024-03-01T10:05:00+02:00"),
    ],
)
def test_scorm_2004_interaction_timestamp(given: str, timestamp: str) -> None:
    statement = _responded("2004", {"type": "other", "learner_response": "x", "timestamp": given})
    assert statement["timestamp"] == timestamp


@pytest.mark.parametrize(
    "bad", ["2024-13-01", "2024-02-30T10:00:00", "yesterday", "2024-03-01T25:00"]
)
def test_scorm_2004_interaction_timestamp_invalid(bad: str) -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.interactions\.0\.timestamp: "):
        _responded("2004", {"type": "other", "learner_response": "x", "timestamp": bad})


def test_scorm_12_time_of_day_is_not_a_timestamp() -> None:
    # cmi.interactions.n.time has no date; the statement keeps the context timestamp.
    statement = _responded("1.2", {"type": "likert", "student_response": "x", "time": "10:05:00"})
    assert statement["timestamp"] == STAMP


def test_description_objectives_and_object_id() -> None:
    fields = {
        "id": "urn:acme:q/7",
        "type": "choice",
        "description": "{lang=fr}Quelle sortie ?",
        "learner_response": "b",
        "objectives.0.id": "exits",
        "objectives.1.id": "urn:acme:obj:2",
    }
    statement = _responded("2004", fields)
    assert statement["object"]["id"] == SCO + "/interaction/urn%3Aacme%3Aq%2F7"
    assert statement["object"]["definition"]["description"] == {"fr": "Quelle sortie ?"}
    activities = statement["context"]["contextActivities"]
    assert [a["id"] for a in activities["parent"]] == [SCO]
    assert activities["other"] == [
        {
            "id": SCO + "/objective/exits",
            "definition": {"type": "http://adlnet.gov/expapi/activities/objective"},
        },
        {
            "id": SCO + "/objective/urn%3Aacme%3Aobj%3A2",
            "definition": {"type": "http://adlnet.gov/expapi/activities/objective"},
        },
    ]


def test_several_correct_patterns_keep_their_order() -> None:
    fields = {
        "type": "choice",
        "learner_response": "a",
        "correct_responses.1.pattern": "b",
        "correct_responses.0.pattern": "a",
        "correct_responses.10.pattern": "c",
    }
    statement = _responded("2004", fields)
    assert statement["object"]["definition"]["correctResponsesPattern"] == ["a", "b", "c"]


def test_without_type_the_response_is_kept_and_no_interaction_type_is_claimed() -> None:
    statement = _responded("1.2", {"student_response": "{a,b}", "correct_responses.0.pattern": "a"})
    assert statement["object"]["definition"] == {
        "type": "http://adlnet.gov/expapi/activities/interaction"
    }
    assert statement["result"] == {"response": "{a,b}"}


def test_without_response_there_is_no_responded_statement() -> None:
    elements = {
        "cmi.interactions.0.id": "q1",
        "cmi.interactions.0.type": "choice",
        "cmi.interactions.0.result": "correct",
    }
    assert convert(make_context(), elements) == []


def test_empty_response_is_a_response() -> None:
    statement = _responded("2004", {"type": "choice", "learner_response": ""})
    assert statement["result"] == {"response": ""}


@pytest.mark.parametrize(
    ("version", "fields", "element"),
    [
        ("1.2", {"type": "long-fill-in", "student_response": "x"}, "type"),
        ("2004", {"type": "multiple-choice", "learner_response": "x"}, "type"),
        ("1.2", {"type": "true-false", "student_response": "yes"}, "student_response"),
        ("2004", {"type": "true-false", "learner_response": "t"}, "learner_response"),
        ("1.2", {"type": "matching", "student_response": "1a,2b"}, "student_response"),
        ("1.2", {"type": "numeric", "student_response": "x"}, "student_response"),
        ("2004", {"type": "numeric", "learner_response": "x"}, "learner_response"),
        ("1.2", {"type": "likert", "student_response": "x", "latency": "PT1S"}, "latency"),
        ("2004", {"type": "likert", "learner_response": "x", "latency": "00:00:01"}, "latency"),
        (
            "2004",
            {"type": "choice", "learner_response": "a", "correct_responses.0.pattern": "a"},
            None,
        ),
    ],
)
def test_invalid_values_name_their_element(
    version: str, fields: dict[str, str], element: str | None
) -> None:
    if element is None:
        _responded(version, fields)  # the control case converts
        return
    with pytest.raises(ScormDataError) as caught:
        _responded(version, fields)
    assert caught.value.element == f"cmi.interactions.0.{element}"


def test_interaction_without_id_is_an_error() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.interactions\.2\.id: missing"):
        convert(make_context(), {"cmi.interactions.2.learner_response": "a"})
