"""SCORM 2004: every mapped data element, one at a time."""

from __future__ import annotations

import pytest

from scorm_adapter import ScormDataError
from tests.scorm_adapter.helpers import SCO, STAMP, convert, make_context, one, verbs


@pytest.mark.parametrize(
    ("entry", "expected"), [("ab-initio", ["initialized"]), ("resume", ["resumed"]), ("", [])]
)
def test_entry(entry: str, expected: list[str]) -> None:
    assert verbs(convert(make_context(), {"cmi.entry": entry})) == expected


@pytest.mark.parametrize(
    ("exit_value", "ended", "expected"),
    [
        ("suspend", True, ["suspended"]),
        ("normal", True, ["terminated"]),
        ("logout", True, ["terminated"]),
        ("time-out", True, ["terminated"]),
        ("", True, ["terminated"]),
        ("normal", None, ["terminated"]),
        ("suspend", None, ["suspended"]),
        ("", None, []),
        ("normal", False, []),
    ],
)
def test_exit(exit_value: str, ended: bool | None, expected: list[str]) -> None:
    assert verbs(convert(make_context(session_ended=ended), {"cmi.exit": exit_value})) == expected


def test_exit_unknown_value() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.exit: expected one of"):
        convert(make_context(), {"cmi.exit": "quit"})


@pytest.mark.parametrize(
    ("status", "expected", "completion"),
    [
        ("completed", ["completed"], True),
        ("incomplete", [], False),
        ("not attempted", [], None),
        ("unknown", [], None),
    ],
)
def test_completion_status(status: str, expected: list[str], completion: bool | None) -> None:
    statements = convert(make_context(session_ended=True), {"cmi.completion_status": status})
    assert verbs(statements) == [*expected, "terminated"]
    overall = one(statements, "terminated").get("result") or {}
    assert overall.get("completion") == completion


@pytest.mark.parametrize(
    ("status", "expected", "success"),
    [("passed", ["passed"], True), ("failed", ["failed"], False), ("unknown", [], None)],
)
def test_success_status(status: str, expected: list[str], success: bool | None) -> None:
    statements = convert(make_context(session_ended=True), {"cmi.success_status": status})
    assert verbs(statements) == [*expected, "terminated"]
    overall = one(statements, "terminated").get("result") or {}
    assert overall.get("success") == success


@pytest.mark.parametrize(
    ("data", "score"),
    [
        ({"cmi.score.scaled": "0.95"}, {"scaled": 0.95}),
        ({"cmi.score.scaled": "-1"}, {"scaled": -1}),
        (
            {"cmi.score.raw": "30", "cmi.score.min": "10", "cmi.score.max": "50"},
            {"scaled": 0.5, "raw": 30, "min": 10, "max": 50},
        ),
        (
            {
                "cmi.score.scaled": "0.1",
                "cmi.score.raw": "30",
                "cmi.score.min": "10",
                "cmi.score.max": "50",
            },
            {"scaled": 0.1, "raw": 30, "min": 10, "max": 50},
        ),
    ],
)
def test_score(data: dict[str, str], score: dict) -> None:
    assert one(convert(make_context(), data), "scored")["result"] == {"score": score}


def test_raw_score_without_range_is_only_in_the_overall_result() -> None:
    statements = convert(make_context(session_ended=True), {"cmi.score.raw": "17"})
    assert verbs(statements) == ["terminated"]
    assert statements[0]["result"] == {"score": {"raw": 17}}


@pytest.mark.parametrize("value", ["0", "0.5", "1"])
def test_progress_measure(value: str) -> None:
    statement = one(convert(make_context(), {"cmi.progress_measure": value}), "progressed")
    assert statement["result"] == {
        "score": {"scaled": float(value) if "." in value else int(value)}
    }
    assert statement["object"]["id"] == SCO


@pytest.mark.parametrize("value", ["1.5", "-0.1", "half"])
def test_progress_measure_invalid(value: str) -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.progress_measure: "):
        convert(make_context(), {"cmi.progress_measure": value})


@pytest.mark.parametrize("value", ["PT2H30M5S", "P1DT2H", "PT0.5S", "P1Y2M3DT4H5M6.78S", "PT0S"])
def test_session_time_is_kept(value: str) -> None:
    statement = one(
        convert(make_context(session_ended=True), {"cmi.session_time": value}), "terminated"
    )
    assert statement["result"] == {"duration": value}


@pytest.mark.parametrize("value", ["P", "PT", "02:30:05", "PT-5S", "P1H", "PT1.5M"])
def test_session_time_invalid(value: str) -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.session_time: not an ISO 8601 duration"):
        convert(make_context(session_ended=True), {"cmi.session_time": value})


def test_comments_from_learner() -> None:
    data = {
        "cmi.comments_from_learner.0.comment": "{lang=de-CH}Gut",
        "cmi.comments_from_learner.0.location": "p2",
        "cmi.comments_from_learner.0.timestamp": "2024-02-03T04:05:06+02:00",
        "cmi.comments_from_learner.1.comment": "No language",
    }
    first, second = convert(make_context(), data)
    assert first["result"] == {"response": "Gut"}
    assert first["context"]["language"] == "de-CH"
    assert first["timestamp"] == "2024-02-03T04:05:06+02:00"
    assert second["result"] == {"response": "No language"}
    assert "language" not in second["context"]
    assert second["timestamp"] == STAMP


def test_objectives() -> None:
    data = {
        "cmi.objectives.0.id": "urn:acme:obj:1",
        "cmi.objectives.0.description": "{lang=en-US}Knows the exits",
        "cmi.objectives.0.completion_status": "completed",
        "cmi.objectives.0.success_status": "failed",
        "cmi.objectives.0.score.raw": "3",
        "cmi.objectives.0.score.min": "0",
        "cmi.objectives.0.score.max": "4",
        "cmi.objectives.0.progress_measure": "0.25",
    }
    statements = convert(make_context(), data)
    assert verbs(statements) == ["completed", "failed", "scored", "progressed"]
    for statement in statements:
        assert statement["object"] == {
            "id": SCO + "/objective/urn%3Aacme%3Aobj%3A1",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/objective",
                "description": {"en-US": "Knows the exits"},
            },
        }
        assert statement["context"]["contextActivities"]["parent"][0]["id"] == SCO
    assert statements[2]["result"] == {"score": {"scaled": 0.75, "raw": 3, "min": 0, "max": 4}}
    assert statements[3]["result"] == {"score": {"scaled": 0.25}}


def test_objective_description_defaults_to_english() -> None:
    # SCORM 2004 RTE: a localized string without {lang=} is English.
    data = {
        "cmi.objectives.0.id": "o",
        "cmi.objectives.0.description": "Exits",
        "cmi.objectives.0.success_status": "passed",
    }
    statement = one(convert(make_context(), data), "passed")
    assert statement["object"]["definition"]["description"] == {"en": "Exits"}


def test_objective_bad_status() -> None:
    data = {"cmi.objectives.0.id": "o", "cmi.objectives.0.success_status": "ok"}
    with pytest.raises(ScormDataError, match=r"^cmi\.objectives\.0\.success_status: expected"):
        convert(make_context(), data)


def test_scorm_12_element_in_a_2004_snapshot() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.core\.lesson_status: not a SCORM 2004"):
        convert(make_context(), {"cmi.core.lesson_status": "passed"})


def test_elements_that_are_documents_not_statements() -> None:
    data = {
        "cmi.learner_id": "E1",
        "cmi.learner_name": "Doe, Jane",
        "cmi.location": "p3",
        "cmi.credit": "credit",
        "cmi.mode": "normal",
        "cmi.total_time": "PT1H",
        "cmi.suspend_data": "x",
        "cmi.launch_data": "y",
        "cmi.comments_from_lms.0.comment": "hi",
        "cmi.completion_threshold": "0.8",
        "cmi.scaled_passing_score": "0.7",
        "cmi.max_time_allowed": "PT1H",
        "cmi.time_limit_action": "continue,no message",
        "cmi.learner_preference.audio_level": "1",
        "adl.nav.request": "continue",
        "adl.nav.request_valid.choice.{target=sco2}": "true",
        "adl.data.0.id": "bucket",
    }
    assert convert(make_context(), data) == []
