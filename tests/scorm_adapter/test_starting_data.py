"""The open-attempt answer's `startingData`: what the runtime loads before it initializes."""

from __future__ import annotations

from decimal import Decimal

from scorm_adapter.starting_data import _time_span, nest
from tests.scorm_adapter.conftest import ScormClient


def test_nest_builds_the_loadfromjson_shape_with_arrays() -> None:
    flat = {
        "cmi.core.entry": "resume",
        "cmi.comments_from_lms.1.comment": "b",
        "cmi.comments_from_lms.0.comment": "a",
        "cmi.core.score.raw": "80",
    }
    assert nest(flat) == {
        "cmi": {
            "comments_from_lms": [{"comment": "a"}, {"comment": "b"}],
            "core": {"entry": "resume", "score": {"raw": "80"}},
        }
    }


def test_nest_makes_arrays_of_ascii_indices_only() -> None:
    # "²".isdigit() is true and int("²") raised ValueError
    assert nest({"cmi.x.²": "a"}) == {"cmi": {"x": {"²": "a"}}}
    assert nest({"cmi.x.\u0660": "a"}) == {"cmi": {"x": {"\u0660": "a"}}}


def test_time_spans_in_each_versions_format() -> None:
    assert _time_span(Decimal("3725.5"), "1.2") == "01:02:05.50"
    assert _time_span(Decimal("3725.5"), "2004") == "PT1H2M5.5S"


async def test_a_new_1_2_attempt_starts_from_the_lms_data_and_ab_initio(
    scorm: ScormClient,
) -> None:
    opened = await scorm.open(
        lmsData={
            "cmi.core.student_name": "Lovelace, Ada",
            "cmi.core.credit": "credit",
            "cmi.core.lesson_mode": "normal",
            "cmi.launch_data": "chapter=1&x",
            "cmi.student_data.mastery_score": "80",
        }
    )
    assert opened["startingData"] == {
        "cmi": {
            "core": {
                "entry": "ab-initio",
                "student_id": "E-1001",
                "student_name": "Lovelace, Ada",
                "credit": "credit",
                "lesson_mode": "normal",
            },
            "launch_data": "chapter=1&x",
            "student_data": {"mastery_score": "80"},
        }
    }


async def test_a_resumed_2004_attempt_starts_where_it_was_left(scorm: ScormClient) -> None:
    learner = {"mbox": "mailto:ada@example.com", "name": "Ada"}
    opened = await scorm.open(
        learner=learner,
        scormVersion="2004",
        attempt=2,
        lmsData={"cmi.scaled_passing_score": "0.7", "cmi.total_time": "PT1M"},
    )
    assert opened["startingData"]["cmi"]["entry"] == "ab-initio"
    commit = {
        "cmi.location": "p4",
        "cmi.suspend_data": "s=1",
        "cmi.completion_status": "incomplete",
        "cmi.score.scaled": "0.5",
        "cmi.exit": "suspend",
        "cmi.session_time": "PT30S",
    }
    await scorm.commit(opened["commitUrl"], commit, params={"finish": "true"})
    again = await scorm.open(
        expect=200, learner=learner, scormVersion="2004", attempt=2, lmsData={"cmi.mode": "review"}
    )
    assert again["startingData"] == {
        "cmi": {
            "entry": "resume",
            "learner_id": "ada@example.com",
            "learner_name": "Ada",
            "mode": "review",
            "location": "p4",
            "suspend_data": "s=1",
            "completion_status": "incomplete",
            "score": {"scaled": "0.5"},
            "total_time": "PT1M30S",
        }
    }


async def test_the_lms_data_wins_over_what_the_attempt_kept(scorm: ScormClient) -> None:
    opened = await scorm.open(attempt=3)
    await scorm.commit(opened["commitUrl"], {"cmi.core.lesson_location": "p9"})
    lms = {"cmi.core.lesson_location": "p1", "cmi.core.student_id": "X-7", "cmi.core.entry": ""}
    again = await scorm.open(expect=200, attempt=3, lmsData=lms)
    core = again["startingData"]["cmi"]["core"]
    assert (core["lesson_location"], core["student_id"], core["entry"]) == ("p1", "X-7", "")
