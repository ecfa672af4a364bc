"""Our statements against the profile's own example statements (copies in fixtures/profile).

For each example, the context is taken from the example itself (actor, course, SCO, attempt,
timestamp, names), the matching SCORM data is converted, and the statement with the example's
verb must equal the example, apart from what the SCORM data cannot supply: the attempt
activity's name/description and the objective's name (the profile's own invention), the
`objectType: Activity` some examples spell out, and the LRS-assigned id/stored/authority/version.
The category is compared by id because the example files leave out the definition that the
profile text (§3.2, Context Activities) gives it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scorm_adapter.mapping import objective_iri
from scorm_adapter.vocabulary import PROFILE_IRI
from tests.scorm_adapter.helpers import convert, load_profile_example, make_context, one

_ASSIGNED = ("id", "stored", "authority", "version")


def _normalize(statement: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(statement)
    for key in _ASSIGNED:
        result.pop(key, None)
    result["object"].pop("objectType", None)
    activities = result["context"]["contextActivities"]
    for kind in ("parent", "grouping", "other"):
        for activity in activities.get(kind, []):
            activity.pop("objectType", None)
            if activity["definition"]["type"].endswith("/attempt"):
                activity["definition"] = {"type": activity["definition"]["type"]}
    activities["category"] = [activity["id"] for activity in activities["category"]]
    return result


def _context_from(example: dict[str, Any], **overrides: Any):
    activities = example["context"]["contextActivities"]
    course = next(a for a in activities["grouping"] if a["definition"]["type"].endswith("course"))
    attempt = next(a for a in activities["grouping"] if a["definition"]["type"].endswith("attempt"))
    sco = activities["parent"][0] if "parent" in activities else example["object"]
    fields: dict[str, Any] = {
        "learner": example["actor"],
        "course_iri": course["id"],
        "sco_iri": sco["id"],
        "attempt": attempt["id"],
        "timestamp": example.get("timestamp"),
        "course_name": course["definition"].get("name"),
        "course_description": course["definition"].get("description"),
        "sco_name": sco["definition"].get("name"),
        "sco_description": sco["definition"].get("description"),
    }
    fields.update(overrides)
    return make_context(**fields)


def _check(path: str, verb: str, elements: dict[str, str], **ctx: Any) -> None:
    example = load_profile_example(path)
    ours = one(convert(_context_from(example, **ctx), elements), verb)
    assert _normalize(ours) == _normalize(example)
    assert PROFILE_IRI in ours["context"]["contextActivities"]["category"][0]["id"]


INIT = "statements/scorm.profile.initializing.attempt.schema/"
RESUME = "statements/scorm.profile.resuming.attempt.schema/"
SUSPEND = "statements/scorm.profile.suspending.attempt.schema/"
TERMINATE = "statements/scorm.profile.terminating.attempt.schema/"
COMPLETED = "statements/scorm.profile.completion.status.schema/"
SUCCESS = "statements/scorm.profile.session.time.schema/"  # sic: the profile swapped two folders
COMMENT = (
    "statements/scorm.profile.comments.from.learner.schema/"
    "scorm.profile.mapping.stmt.learner.comment.json"
)
GREAT = "This is a great lesson. You do such a wonderful job teaching!"


@pytest.mark.parametrize("version", ["1.2", "2004"])
@pytest.mark.parametrize(
    "path",
    [INIT + "profile.appendix.stmt.initialized.json", INIT + "ang.roses.stmt1.initialized.json"],
)
def test_initialized(path: str, version: str) -> None:
    entry = "cmi.core.entry" if version == "1.2" else "cmi.entry"
    _check(path, "initialized", {entry: "ab-initio"}, version=version)


@pytest.mark.parametrize("version", ["1.2", "2004"])
@pytest.mark.parametrize(
    "path",
    [RESUME + "profile.appendix.stmt.resumed.json", RESUME + "ang.roses.stmt48.resumed.json"],
)
def test_resumed(path: str, version: str) -> None:
    entry = "cmi.core.entry" if version == "1.2" else "cmi.entry"
    _check(path, "resumed", {entry: "resume"}, version=version)


@pytest.mark.parametrize("version", ["1.2", "2004"])
@pytest.mark.parametrize(
    "path",
    [SUSPEND + "profile.appendix.stmt.suspended.json", SUSPEND + "ang.roses.stmt47.suspended.json"],
)
def test_suspended(path: str, version: str) -> None:
    exit_element = "cmi.core.exit" if version == "1.2" else "cmi.exit"
    _check(path, "suspended", {exit_element: "suspend"}, version=version, session_ended=True)


def test_terminated_with_overall_result_2004() -> None:
    elements = {
        "cmi.exit": "normal",
        "cmi.success_status": "passed",
        "cmi.completion_status": "completed",
        "cmi.score.scaled": "0.95",
    }
    _check(TERMINATE + "profile.appendixstmt.terminated.json", "terminated", elements)


def test_terminated_roses_2004() -> None:
    elements = {"cmi.success_status": "passed", "cmi.completion_status": "completed"}
    path = TERMINATE + "ang.roses.stmt9.terminated.json"
    _check(path, "terminated", elements, session_ended=True)


def test_terminated_with_session_time_12() -> None:
    # SCORM 1.2: cmi.core.exit = "" at LMSFinish terminates (profile §6 Exit).
    path = "statements/scorm.profile.success.status.schema/profile.schema.stmt.session.time.json"
    elements = {"cmi.core.exit": "", "cmi.core.session_time": "0002:30:05"}
    _check(path, "terminated", elements, version="1.2", session_ended=True)


def test_terminated_with_session_time_2004() -> None:
    path = "statements/scorm.profile.success.status.schema/profile.schema.stmt.session.time.json"
    _check(path, "terminated", {"cmi.exit": "normal", "cmi.session_time": "PT2H30M5S"})


@pytest.mark.parametrize(
    ("version", "elements"),
    [
        ("1.2", {"cmi.core.lesson_status": "completed"}),
        ("2004", {"cmi.completion_status": "completed"}),
    ],
)
def test_completed(version: str, elements: dict[str, str]) -> None:
    path = COMPLETED + "scorm.profile.stmt.completion.status.json"
    _check(path, "completed", elements, version=version)


@pytest.mark.parametrize("verb", ["passed", "failed"])
@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_passed_failed(verb: str, version: str) -> None:
    path = SUCCESS + f"profile.schema.stmt.success.status.{verb}.json"
    element = "cmi.core.lesson_status" if version == "1.2" else "cmi.success_status"
    _check(path, verb, {element: verb}, version=version)


def test_scored_2004() -> None:
    path = "statements/scorm.profile.score.schema/profile.schema.stmt.score.json"
    _check(path, "scored", {"cmi.score.scaled": "0.95"})


def test_scored_12_reports_raw_over_100_as_scaled() -> None:
    # Profile §6 Score NOTE: SCORM 1.2 raw / 100 is score.scaled; raw "may be reported directly".
    example = load_profile_example(
        "statements/scorm.profile.score.schema/profile.schema.stmt.score.json"
    )
    ours = one(
        convert(_context_from(example, version="1.2"), {"cmi.core.score.raw": "95"}), "scored"
    )
    assert ours["result"] == {"score": {"scaled": 0.95, "raw": 95}}
    ours["result"] = example["result"]
    assert _normalize(ours) == _normalize(example)


def test_progressed() -> None:
    path = (
        "statements/scorm.profile.progress.measure.schema/profile.schema.stmt.progress.measure.json"
    )
    _check(path, "progressed", {"cmi.progress_measure": "0.75"})


def test_commented_2004_uses_the_comment_timestamp() -> None:
    elements = {
        "cmi.comments_from_learner.0.comment": GREAT,
        "cmi.comments_from_learner.0.timestamp": "2014-09-29T18:18:24.316Z",
    }
    _check(COMMENT, "commented", elements, timestamp="2020-01-01T00:00:00Z")


def test_commented_12() -> None:
    _check(COMMENT, "commented", {"cmi.comments": GREAT}, version="1.2")


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_local_objective_passed(version: str) -> None:
    path = "statements/scorm.profile.objectives.schema/scorm.profile.stmt.local.objective.json"
    example = load_profile_example(path)
    assert example["object"]["id"] == objective_iri(
        example["context"]["contextActivities"]["parent"][0]["id"], "obj-if-else"
    )
    elements = {"cmi.objectives.0.id": "obj-if-else"}
    if version == "1.2":
        elements["cmi.objectives.0.status"] = "passed"
        del example["object"]["definition"]["description"]  # SCORM 1.2 has no description
    else:
        elements["cmi.objectives.0.success_status"] = "passed"
        elements["cmi.objectives.0.description"] = (
            "{lang=en-US}Show proficiency in creating if-else blocks"
        )
    del example["object"]["definition"]["name"]  # SCORM has no objective name
    ours = one(convert(_context_from(example, version=version), elements), "passed")
    assert _normalize(ours) == _normalize(example)
