"""SCORM 1.2: every mapped data element, one at a time."""

from __future__ import annotations

import pytest

from scorm_adapter import ScormDataError
from tests.scorm_adapter.helpers import SCO, convert, make_context, one, verbs


def ctx12(**overrides):
    return make_context(version="1.2", **overrides)


@pytest.mark.parametrize(
    ("entry", "expected"), [("ab-initio", ["initialized"]), ("resume", ["resumed"]), ("", [])]
)
def test_core_entry(entry: str, expected: list[str]) -> None:
    assert verbs(convert(ctx12(), {"cmi.core.entry": entry})) == expected


@pytest.mark.parametrize(
    ("exit_value", "ended", "expected"),
    [
        ("suspend", True, ["suspended"]),
        ("", True, ["terminated"]),  # profile §6 Exit: SCORM 1.2 cmi.core.exit = "" terminates
        ("logout", True, ["terminated"]),
        ("time-out", True, ["terminated"]),
        (None, True, ["terminated"]),
        ("suspend", None, ["suspended"]),
        ("logout", None, ["terminated"]),
        ("time-out", None, ["terminated"]),
        ("", None, []),  # mid-session "" is just the initial value
        ("suspend", False, []),
        ("logout", False, []),
    ],
)
def test_core_exit(exit_value: str | None, ended: bool | None, expected: list[str]) -> None:
    data = {} if exit_value is None else {"cmi.core.exit": exit_value}
    assert verbs(convert(ctx12(session_ended=ended), data)) == expected


def test_core_exit_normal_is_not_scorm_12() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.core\.exit: expected one of"):
        convert(ctx12(), {"cmi.core.exit": "normal"})


@pytest.mark.parametrize(
    ("status", "expected_verbs", "overall"),
    [
        ("passed", ["passed"], {"success": True}),
        ("failed", ["failed"], {"success": False}),
        ("completed", ["completed"], {"completion": True}),
        ("incomplete", [], {"completion": False}),
        ("browsed", [], None),
        ("not attempted", [], None),
    ],
)
def test_core_lesson_status(status: str, expected_verbs: list[str], overall: dict | None) -> None:
    statements = convert(ctx12(session_ended=True), {"cmi.core.lesson_status": status})
    assert verbs(statements) == [*expected_verbs, "terminated"]
    assert one(statements, "terminated").get("result") == overall


def test_core_lesson_status_unknown_value() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.core\.lesson_status: expected one of"):
        convert(ctx12(), {"cmi.core.lesson_status": "done"})


@pytest.mark.parametrize(
    ("data", "score"),
    [
        ({"cmi.core.score.raw": "95"}, {"scaled": 0.95, "raw": 95}),
        (
            {"cmi.core.score.raw": "8", "cmi.core.score.min": "0", "cmi.core.score.max": "10"},
            {"scaled": 0.8, "raw": 8, "min": 0, "max": 10},
        ),
        ({"cmi.core.score.raw": "72.5"}, {"scaled": 0.725, "raw": 72.5}),
        ({"cmi.core.score.raw": "0"}, {"scaled": 0, "raw": 0}),
    ],
)
def test_core_score(data: dict[str, str], score: dict) -> None:
    statement = one(convert(ctx12(), data), "scored")
    assert statement["result"] == {"score": score}
    assert statement["object"]["id"] == SCO


def test_core_score_min_max_without_raw_is_no_scored_statement() -> None:
    data = {"cmi.core.score.min": "0", "cmi.core.score.max": "100"}
    statements = convert(ctx12(session_ended=True), data)
    assert verbs(statements) == ["terminated"]
    assert statements[0]["result"] == {"score": {"min": 0, "max": 100}}


def test_core_score_empty_string_is_not_set() -> None:
    assert convert(ctx12(), {"cmi.core.score.raw": ""}) == []


def test_core_score_raw_not_a_number() -> None:
    with pytest.raises(ScormDataError) as caught:
        convert(ctx12(), {"cmi.core.score.raw": "ninety"})
    assert str(caught.value) == "cmi.core.score.raw: not a number: 'ninety'"
    assert caught.value.element == "cmi.core.score.raw"


@pytest.mark.parametrize(
    ("session_time", "duration"),
    [
        ("0002:30:05", "PT2H30M5S"),
        ("00:00:00", "PT0S"),
        ("00:12:30.5", "PT12M30.5S"),
        ("01:00:00.00", "PT1H"),
        ("9999:59:59.99", "PT9999H59M59.99S"),
    ],
)
def test_core_session_time(session_time: str, duration: str) -> None:
    statement = one(
        convert(ctx12(session_ended=True), {"cmi.core.session_time": session_time}), "terminated"
    )
    assert statement["result"] == {"duration": duration}


@pytest.mark.parametrize("bad", ["2:30:05", "00:60:00", "PT1H", "00:00:05.123", "abc"])
def test_core_session_time_invalid(bad: str) -> None:
    with pytest.raises(
        ScormDataError, match=r"^cmi\.core\.session_time: not a SCORM 1\.2 time span"
    ):
        convert(ctx12(session_ended=True), {"cmi.core.session_time": bad})


def test_comments() -> None:
    statement = one(convert(ctx12(), {"cmi.comments": "Great course"}), "commented")
    assert statement["result"] == {"response": "Great course"}
    assert statement["object"]["id"] == SCO
    assert "language" not in statement["context"]


def test_empty_comments_are_nothing() -> None:
    assert convert(ctx12(), {"cmi.comments": ""}) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("passed", ["passed"]),
        ("failed", ["failed"]),
        ("completed", ["completed"]),
        ("incomplete", []),
        ("browsed", []),
        ("not attempted", []),
    ],
)
def test_objectives_status(status: str, expected: list[str]) -> None:
    data = {"cmi.objectives.0.id": "obj-1", "cmi.objectives.0.status": status}
    statements = convert(ctx12(), data)
    assert verbs(statements) == expected
    for statement in statements:
        assert statement["object"] == {
            "id": SCO + "/objective/obj-1",
            "definition": {"type": "http://adlnet.gov/expapi/activities/objective"},
        }
        assert [a["id"] for a in statement["context"]["contextActivities"]["parent"]] == [SCO]


def test_objectives_score() -> None:
    data = {"cmi.objectives.3.id": "obj 3/b", "cmi.objectives.3.score.raw": "40"}
    statement = one(convert(ctx12(), data), "scored")
    assert statement["object"]["id"] == SCO + "/objective/obj%203%2Fb"
    assert statement["result"] == {"score": {"scaled": 0.4, "raw": 40}}


def test_objective_without_id_is_an_error() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.objectives\.0\.id: missing"):
        convert(ctx12(), {"cmi.objectives.0.status": "passed"})


def test_elements_that_are_documents_not_statements() -> None:
    # Profile §6 "Providing support data": these belong in state/profile documents.
    data = {
        "cmi.core.student_id": "E1",
        "cmi.core.student_name": "Doe, Jane",
        "cmi.core.lesson_location": "p3",
        "cmi.core.credit": "credit",
        "cmi.core.lesson_mode": "normal",
        "cmi.core.total_time": "0001:00:00",
        "cmi.suspend_data": "x",
        "cmi.launch_data": "y",
        "cmi.comments_from_lms": "hi",
        "cmi.student_data.mastery_score": "80",
        "cmi.student_preference.audio": "0",
        "cmi.interactions.0.weighting": "1",
        "cmi.interactions.0.id": "q",
        "cmi.interactions.0.time": "10:00:00",
    }
    assert convert(ctx12(), data) == []


def test_scorm_2004_element_in_a_12_snapshot() -> None:
    with pytest.raises(
        ScormDataError, match=r"^cmi\.completion_status: not a SCORM 1\.2 data model element"
    ):
        convert(ctx12(), {"cmi.completion_status": "completed"})
