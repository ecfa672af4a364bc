"""AttemptContext validation and the vocabulary it relies on."""

from __future__ import annotations

import pytest

from scorm_adapter import AttemptContext, ScormDataError
from scorm_adapter import vocabulary as v
from tests.scorm_adapter.helpers import make_context


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"learner": {"name": "no ifi"}}, "learner"),
        ({"learner": {"mbox": "mailto:a@b.c", "openid": "http://x"}}, "learner"),
        ({"learner": {"mbox": "a@b.c"}}, "learner.mbox"),
        ({"learner": {"account": {"homePage": "http://x"}}}, "learner.account"),
        ({"learner": "someone"}, "learner"),
        ({"course_iri": "CS204"}, "course_iri"),
        ({"sco_iri": "lesson 01"}, "sco_iri"),
        ({"attempt": "attempt-1"}, "attempt"),
        ({"attempt": -1}, "attempt"),
        ({"attempt": True}, "attempt"),
        ({"version": "1.3"}, "version"),
        ({"registration": "not-a-uuid"}, "registration"),
        ({"timestamp": "2024-01-01T00:00:00"}, "timestamp"),
    ],
)
def test_invalid_context(overrides: dict, field: str) -> None:
    with pytest.raises(ScormDataError) as caught:
        make_context(**overrides)
    assert caught.value.element == field


def test_registration_and_version_are_normalized() -> None:
    ctx = make_context(
        registration="{C6D3A2B1-0F9E-4D8C-B7A6-958473625140}", version="SCORM 2004 4th Edition"
    )
    assert ctx.registration == "c6d3a2b1-0f9e-4d8c-b7a6-958473625140"
    assert ctx.version == "2004"


def test_context_is_frozen() -> None:
    ctx = make_context()
    with pytest.raises(AttributeError):
        ctx.version = "1.2"  # type: ignore[misc]
    assert isinstance(ctx, AttemptContext)


def test_vocabulary_is_the_profiles() -> None:
    assert v.PROFILE_IRI == "https://w3id.org/xapi/scorm"
    assert v.profile_category() == {
        "id": "https://w3id.org/xapi/scorm",
        "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
    }
    assert v.verb("terminated") == {
        "id": "http://adlnet.gov/expapi/verbs/terminated",
        "display": {"en-US": "terminated"},
    }
    assert set(v.VERBS) == {
        "initialized",
        "resumed",
        "suspended",
        "terminated",
        "completed",
        "passed",
        "failed",
        "scored",
        "progressed",
        "responded",
        "commented",
    }
    assert v.SCO_TYPE == "http://adlnet.gov/expapi/activities/lesson"
    assert v.ATTEMPT_TYPE == "http://adlnet.gov/expapi/activities/attempt"
    assert v.SUSPEND_DATA_STATE_ID == "https://w3id.org/xapi/scorm/types/adl-suspend-data"


def test_verb_returns_a_fresh_object() -> None:
    first = v.verb("passed")
    first["display"]["en-US"] = "changed"
    assert v.verb("passed")["display"] == {"en-US": "passed"}


def test_statements_do_not_share_mutable_parts() -> None:
    from tests.scorm_adapter.helpers import convert

    a, b = convert(
        make_context(), {"cmi.completion_status": "completed", "cmi.success_status": "passed"}
    )
    a["actor"]["account"]["name"] = "changed"
    a["context"]["contextActivities"]["grouping"][0]["id"] = "changed"
    assert b["actor"]["account"]["name"] == "500-627-490"
    assert b["context"]["contextActivities"]["grouping"][0]["id"] != "changed"
    assert make_context().learner["account"]["name"] == "500-627-490"
