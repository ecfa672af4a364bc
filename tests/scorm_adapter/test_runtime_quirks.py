"""What real runtimes send: scorm-again's `params` bodies, unknown names, an echoed empty entry."""

from __future__ import annotations

import json

import pytest

from scorm_adapter.request_bodies import read_commit_body
from scorm_adapter.vocabulary import SUSPEND_DATA_STATE_ID
from tests.scorm_adapter.conftest import LEARNER, SCO, ScormClient
from tests.scorm_adapter.test_http import verb_names

FORM = "application/x-www-form-urlencoded"

# Rendered by scorm-again 3.4.3 (`renderCommitCMI` with dataCommitFormat "params", after
# LMSInitialize, score.raw 80, lesson_status passed, suspend_data "a=1&b=2+%"): the fields
# joined with "&", values not URL-encoded, empty collections as "[object Object]".
PARAMS_12 = (
    "cmi.suspend_data=a=1&b=2+%&cmi.launch_data=&cmi.comments=&cmi.comments_from_lms="
    "&cmi.core.student_id=&cmi.core.student_name=&cmi.core.lesson_location=&cmi.core.credit="
    "&cmi.core.lesson_status=passed&cmi.core.entry=&cmi.core.lesson_mode=normal&cmi.core.exit="
    "&cmi.core.session_time=00:00:00&cmi.core.score.raw=80&cmi.core.score.min="
    "&cmi.core.score.max=100&cmi.objectives=[object Object]&cmi.student_data.mastery_score="
    "&cmi.student_data.max_time_allowed=&cmi.student_data.time_limit_action="
    "&cmi.student_preference.audio=&cmi.student_preference.language="
    "&cmi.student_preference.speed=&cmi.student_preference.text="
    "&cmi.interactions=[object Object]"
)
# The same for SCORM 2004 (score.scaled 0.8, success_status passed).
PARAMS_2004 = (
    "cmi.comments_from_learner=[object Object]&cmi.comments_from_lms=[object Object]"
    "&cmi.completion_status=unknown&cmi.completion_threshold=&cmi.credit=credit&cmi.entry="
    "&cmi.exit=&cmi.interactions=[object Object]&cmi.launch_data=&cmi.learner_id="
    "&cmi.learner_name=&cmi.learner_preference.audio_level=1&cmi.learner_preference.language="
    "&cmi.learner_preference.delivery_speed=1&cmi.learner_preference.audio_captioning=0"
    "&cmi.location=&cmi.max_time_allowed=&cmi.mode=normal&cmi.objectives=[object Object]"
    "&cmi.progress_measure=&cmi.scaled_passing_score=&cmi.score.scaled=0.8&cmi.score.raw="
    "&cmi.score.min=&cmi.score.max=&cmi.session_time=PT0H0M0S&cmi.success_status=passed"
    "&cmi.suspend_data=a=1&b=2+%&cmi.time_limit_action=continue,no message"
)


# --- parsing -------------------------------------------------------------------------------


def test_unencoded_params_keep_their_values_as_sent() -> None:
    commit = read_commit_body(PARAMS_12.encode(), FORM, {}).commit("1.2")
    assert commit.elements["cmi.suspend_data"] == "a=1&b=2+%"
    assert commit.elements["cmi.core.session_time"] == "00:00:00"
    assert "cmi.objectives" not in commit.elements and "cmi.interactions" not in commit.elements
    assert commit.left_out == ()


def test_unencoded_2004_params_drop_every_collection_placeholder() -> None:
    commit = read_commit_body(PARAMS_2004.encode(), FORM, {}).commit("2004")
    assert commit.elements["cmi.time_limit_action"] == "continue,no message"
    assert commit.elements["cmi.suspend_data"] == "a=1&b=2+%"
    assert not [name for name in commit.elements if "[object" in commit.elements[name]]
    assert commit.left_out == ()


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("cmi.suspend_data=a%3D1%26b%3D2%2B%25&cmi.core.lesson_status=passed", "a=1&b=2+%"),
        ("cmi.suspend_data=two+words&cmi.core.lesson_status=passed", "two words"),
        ("cmi%5Bsuspend_data%5D=x%20y", "x y"),
    ],
)
def test_url_encoded_form_fields_are_still_decoded(body: str, value: str) -> None:
    commit = read_commit_body(body.encode(), FORM, {}).commit("1.2")
    assert commit.elements["cmi.suspend_data"] == value


def test_placeholders_of_nested_collections_are_dropped() -> None:
    body = "cmi.interactions.0.id=q1&cmi.interactions.0.objectives=[object Object]"
    body += "&cmi.interactions.0.correct_responses=&cmi.interactions.0.type=true-false"
    commit = read_commit_body(body.encode(), FORM, {}).commit("1.2")
    assert commit.elements == {
        "cmi.interactions.0.id": "q1",
        "cmi.interactions.0.type": "true-false",
    }


def test_commit_sequence_is_read_as_seq() -> None:
    body = read_commit_body(b"cmi.core.exit=&commitSequence=4", FORM, {})
    assert body.seq == 4 and body.commit("1.2").elements == {"cmi.core.exit": ""}


def test_a_placeholder_under_an_element_that_holds_data_is_a_value() -> None:
    commit = read_commit_body(b'{"cmi.suspend_data": "[object Object]"}', "text/plain", {})
    assert commit.commit("1.2").elements == {"cmi.suspend_data": "[object Object]"}


# --- over HTTP -----------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "body"), [("1.2", PARAMS_12), ("2004", PARAMS_2004)])
async def test_a_scorm_again_params_commit_is_applied(
    scorm: ScormClient, version: str, body: str
) -> None:
    opened = await scorm.open(scormVersion=version)
    answer = await scorm.commit(opened["commitUrl"], body, content_type=FORM)
    assert answer["status"] == "applied" and "leftOut" not in answer
    assert verb_names(await scorm.statements(activity=SCO)) == ["initialized", "passed", "scored"]
    status, suspend = await scorm.document(
        "/xapi/activities/state",
        activityId=opened["attempt"],
        agent=json.dumps(LEARNER),
        stateId=SUSPEND_DATA_STATE_ID,
    )
    assert (status, suspend) == (200, "a=1&b=2+%")


async def test_unknown_names_are_left_out_and_named_the_rest_applied(scorm: ScormClient) -> None:
    opened = await scorm.open()
    commit = {"cmi.core.lesson_status": "passed", "cmi.core.bogus": "1", "cmi.extra.x": "y"}
    answer = await scorm.commit(opened["commitUrl"], commit)
    assert answer["status"] == "applied"
    assert answer["leftOut"] == [
        "cmi.core.bogus: not a SCORM 1.2 data model element",
        "cmi.extra.x: not a SCORM 1.2 data model element",
    ]
    assert verb_names(await scorm.statements(activity=SCO)) == ["initialized", "passed"]


async def test_an_element_of_the_other_version_still_rejects_the_commit(
    scorm: ScormClient,
) -> None:
    opened = await scorm.open()
    commit = {"cmi.core.lesson_status": "passed", "cmi.success_status": "failed"}
    answer = await scorm.commit(opened["commitUrl"], commit, expect=400)
    assert answer["element"] == "cmi.success_status"
    assert await scorm.statements(activity=SCO) == []


async def test_a_bad_value_beside_a_placeholder_still_rejects_the_commit(
    scorm: ScormClient,
) -> None:
    opened = await scorm.open()
    body = "cmi.objectives=[object Object]&cmi.core.score.raw=120&cmi.core.score.max=100"
    body += "&cmi.core.lesson_status=passed"
    answer = await scorm.commit(opened["commitUrl"], body, content_type=FORM, expect=400)
    assert answer["element"] == "cmi.core.score.raw"
    assert await scorm.statements(activity=SCO) == []


# --- entry from the attempt's lifecycle ------------------------------------------------------


@pytest.mark.parametrize(("version", "entry"), [("1.2", "cmi.core.entry"), ("2004", "cmi.entry")])
async def test_an_echoed_empty_entry_follows_the_attempts_lifecycle(
    scorm: ScormClient, version: str, entry: str
) -> None:
    first = await scorm.open(scormVersion=version, attempt=1)
    await scorm.commit(first["commitUrl"], {entry: ""})
    assert verb_names(await scorm.statements(activity=SCO)) == ["initialized"]
    second = await scorm.open(expect=200, scormVersion=version, attempt=1)
    await scorm.commit(second["commitUrl"], {entry: ""})
    third = await scorm.open(expect=200, scormVersion=version, attempt=1)
    await scorm.commit(third["commitUrl"], {entry: "ab-initio"})  # the SCO cannot set entry
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == ["initialized", "resumed", "resumed"]


async def test_a_commit_without_entry_still_initializes(scorm: ScormClient) -> None:
    opened = await scorm.open()
    await scorm.commit(opened["commitUrl"], {"cmi.core.lesson_location": "p1"})
    assert verb_names(await scorm.statements(activity=SCO)) == ["initialized"]


@pytest.mark.parametrize(("given", "verbs"), [("resume", ["resumed"]), ("", [])])
async def test_an_explicit_lms_entry_wins(scorm: ScormClient, given: str, verbs: list[str]) -> None:
    opened = await scorm.open(lmsData={"cmi.core.entry": given})
    await scorm.commit(opened["commitUrl"], {"cmi.core.entry": "ab-initio"})
    assert verb_names(await scorm.statements(activity=SCO)) == verbs


async def test_a_bad_lms_entry_is_400(scorm: ScormClient) -> None:
    answer = await scorm.open(expect=400, lmsData={"cmi.core.entry": "again"})
    assert answer["element"] == "cmi.core.entry"
