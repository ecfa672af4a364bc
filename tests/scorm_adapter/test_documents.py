"""CMI elements → the profile's documents, each checked against the profile's own schema."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scorm_adapter import ScormDataError
from scorm_adapter.documents import (
    check_lms_elements,
    duration_from_seconds,
    lms_documents,
    sco_documents,
    seconds,
)
from tests.scorm_adapter.helpers import valid_document


def test_sco_documents_2004() -> None:
    docs = sco_documents(
        {
            "cmi.location": "page-3",
            "cmi.suspend_data": "x=1",
            "cmi.learner_preference.audio_level": "1.5",
            "cmi.learner_preference.language": "en-us",
            "cmi.learner_preference.delivery_speed": "1",
            "cmi.learner_preference.audio_captioning": "-1",
            "adl.data.0.id": "com.example.notes",
            "adl.data.0.store": "my notes",
            "cmi.completion_status": "completed",
        },
        "2004",
    )
    assert valid_document("attempt.state", docs.attempt_state) == {
        "location": "page-3",
        "preferences": {
            "audio_level": 1.5,
            "language": "en-US",
            "delivery_speed": 1,
            "audio_captioning": -1,
        },
    }
    assert docs.suspend_data == "x=1"
    assert docs.adl_data == {"com.example.notes": "my notes"}
    assert docs.agent_profile == {} and docs.activity_profile == {} and docs.left_out == ()


def test_sco_documents_ignore_what_the_lms_provides() -> None:
    docs = sco_documents(
        {
            "cmi.core.credit": "credit",
            "cmi.launch_data": "x",
            "cmi.core.student_id": "E1",
            "cmi.core.total_time": "0001:00:00",
        },
        "1.2",
    )
    assert docs == type(docs)()


def test_values_without_a_place_in_the_profile_are_left_out_and_named() -> None:
    docs = sco_documents(
        {
            "cmi.student_preference.audio": "-1",
            "cmi.student_preference.speed": "-50",
            "cmi.student_preference.text": "1",
            "cmi.student_preference.language": "english please",
        },
        "1.2",
    )
    assert valid_document("attempt.state", docs.attempt_state) == {
        "preferences": {"audio_captioning": 1}
    }
    assert [note.split(":")[0] for note in docs.left_out] == [
        "cmi.student_preference.audio",
        "cmi.student_preference.language",
        "cmi.student_preference.speed",
    ]


def test_lms_documents_12() -> None:
    docs = lms_documents(
        {
            "cmi.core.student_id": "E1",
            "cmi.core.student_name": "Lovelace, Ada",
            "cmi.core.credit": "no-credit",
            "cmi.core.lesson_mode": "review",
            "cmi.core.total_time": "0001:30:00",
            "cmi.comments_from_lms": "Well done",
            "cmi.launch_data": "chapter=2",
            "cmi.student_data.mastery_score": "80",
            "cmi.student_data.max_time_allowed": "0000:45:00",
            "cmi.student_data.time_limit_action": "exit,message",
        },
        "1.2",
    )
    assert valid_document("attempt.state", docs.attempt_state) == {
        "credit": "no-credit",
        "mode": "review",
        "comments_from_lms": [{"comment": "Well done"}],
        "total_time": "PT1H30M",
    }
    assert valid_document("agent.profile", docs.agent_profile) == {
        "learner_id": "E1",
        "learner_name": "Lovelace, Ada",
    }
    assert valid_document("activity.profile", docs.activity_profile) == {
        "launch_data": "chapter=2",
        "scaled_passing_score": 0.8,
        "max_time_allowed": 2700,
        "time_limit_action": "exit,message",
    }


def test_lms_documents_2004() -> None:
    docs = lms_documents(
        {
            "cmi.comments_from_lms.0.comment": "{lang=en}Read chapter 2",
            "cmi.comments_from_lms.0.location": "p2",
            "cmi.comments_from_lms.0.timestamp": "2024-03-01T10:00:00Z",
            "cmi.comments_from_lms.1.comment": "No zone",
            "cmi.comments_from_lms.1.timestamp": "2024-03-01T10:00:00",
            "cmi.completion_threshold": "0.75",
            "cmi.scaled_passing_score": "-0.5",
            "cmi.learner_preference.language": "de",
        },
        "2004",
    )
    assert valid_document("attempt.state", docs.attempt_state) == {
        "comments_from_lms": [
            {
                "comment": "{lang=en}Read chapter 2",
                "location": "p2",
                "timestamp": "2024-03-01T10:00:00Z",
            },
            {"comment": "No zone"},
        ]
    }
    assert valid_document("agent.profile", docs.agent_profile) == {
        "preferences": {"language": "de"}
    }
    assert valid_document("activity.profile", docs.activity_profile) == {
        "completion_threshold": 0.75,
        "scaled_passing_score": -0.5,
    }


def test_out_of_range_lms_values_are_left_out_not_clamped() -> None:
    docs = lms_documents(
        {
            "cmi.student_data.mastery_score": "150",
            "cmi.core.credit": "maybe",
            "cmi.student_data.time_limit_action": "explode",
        },
        "1.2",
    )
    assert docs.activity_profile == {} and docs.attempt_state == {}
    assert len(docs.left_out) == 3


@pytest.mark.parametrize(
    "name",
    ["cmi.core.lesson_status", "cmi.core.score.raw", "cmi.interactions.0.id", "cmi.core.exit"],
)
def test_lms_data_refuses_learner_results(name: str) -> None:
    with pytest.raises(ScormDataError) as error:
        check_lms_elements({name: "x"}, "1.2")
    assert error.value.element == name


def test_lms_data_takes_what_has_a_document_home() -> None:
    check_lms_elements(
        {
            "cmi.core.student_id": "E1",
            "cmi.comments_from_lms": "hi",
            "cmi.student_preference.audio": "3",
            "cmi.suspend_data": "x",
        },
        "1.2",
    )
    check_lms_elements({"adl.data.0.id": "d", "cmi.comments_from_lms.0.comment": "c"}, "2004")


def test_adl_data_store_needs_its_id() -> None:
    with pytest.raises(ScormDataError) as error:
        sco_documents({"adl.data.0.store": "x"}, "2004")
    assert error.value.element == "adl.data.0.id"


def test_time_helpers() -> None:
    assert seconds("t", "0001:02:03.5", "1.2") == Decimal("3723.5")
    assert seconds("t", "P1DT1S", "2004") == Decimal(86401)
    assert seconds("t", "P1M", "2004") is None
    assert duration_from_seconds(Decimal("3723.50")) == "PT1H2M3.5S"
    assert duration_from_seconds(Decimal(0)) == "PT0S"
    assert duration_from_seconds(Decimal("0.004")) == "PT0S"
