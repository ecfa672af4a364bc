"""Every statement of two full attempts, checked against the profile's JSON Schemas (draft 4).

The schemas (copies in fixtures/profile/document-schemas) say which verb, object type, context
activities, timestamp and result each kind of profile statement must have.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import pytest

from tests.scorm_adapter.helpers import PROFILE, convert, make_context, verbs

_SCO_SCHEMAS = {
    "initialized": ["initializing.attempt"],
    "resumed": ["resuming.attempt"],
    "completed": ["completion.status"],
    "passed": ["success.status"],
    "failed": ["success.status"],
    "scored": ["score"],
    "progressed": ["progress.measure"],
    "commented": ["comments.from.learner"],
}

FULL_12 = {
    "cmi.core.entry": "ab-initio",
    "cmi.core.lesson_status": "passed",
    "cmi.core.score.raw": "85",
    "cmi.core.score.min": "0",
    "cmi.core.score.max": "100",
    "cmi.core.session_time": "00:45:10.5",
    "cmi.core.exit": "",
    "cmi.comments": "Too long.",
    "cmi.objectives.0.id": "obj-1",
    "cmi.objectives.0.status": "completed",
    "cmi.objectives.0.score.raw": "7",
    "cmi.objectives.0.score.min": "0",
    "cmi.objectives.0.score.max": "10",
    "cmi.interactions.0.id": "q1",
    "cmi.interactions.0.type": "true-false",
    "cmi.interactions.0.student_response": "t",
    "cmi.interactions.0.correct_responses.0.pattern": "t",
    "cmi.interactions.0.result": "correct",
    "cmi.interactions.0.latency": "00:00:12",
}

FULL_2004 = {
    "cmi.entry": "resume",
    "cmi.completion_status": "completed",
    "cmi.success_status": "failed",
    "cmi.score.scaled": "0.4",
    "cmi.score.raw": "40",
    "cmi.progress_measure": "1",
    "cmi.session_time": "PT10M",
    "cmi.exit": "suspend",
    "cmi.comments_from_learner.0.comment": "{lang=de}Zu lang.",
    "cmi.comments_from_learner.0.timestamp": "2024-05-01T10:00:00Z",
    "cmi.objectives.0.id": "urn:example:obj-1",
    "cmi.objectives.0.success_status": "failed",
    "cmi.objectives.0.completion_status": "completed",
    "cmi.objectives.0.progress_measure": "0.5",
    "cmi.objectives.0.score.scaled": "-0.5",
    "cmi.interactions.0.id": "q1",
    "cmi.interactions.0.type": "matching",
    "cmi.interactions.0.learner_response": "1[.]a[,]2[.]b",
    "cmi.interactions.0.correct_responses.0.pattern": "1[.]b[,]2[.]a",
    "cmi.interactions.0.result": "incorrect",
    "cmi.interactions.0.timestamp": "2024-05-01T09:59:00Z",
}


@cache
def _schema(name: str) -> jsonschema.Draft4Validator:
    path = PROFILE / "document-schemas" / f"scorm.profile.{name}.schema.json"
    return jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8")))


def _schemas_for(statement: dict[str, Any]) -> list[str]:
    verb = statement["verb"]["id"].rsplit("/", 1)[1]
    on_sco = statement["object"]["definition"]["type"].endswith("/lesson")
    if verb in ("suspended", "terminated"):
        names = ["suspending.attempt" if verb == "suspended" else "terminating.attempt"]
        if "duration" in statement.get("result", {}):
            names.append("session.time")
        return names
    if on_sco:
        return _SCO_SCHEMAS[verb]
    # responded interactions and objective statements: "something within the SCO"
    return ["reporting.learner.activity.during.attempt"]


@pytest.mark.parametrize(
    ("version", "elements", "expected"),
    [
        (
            "1.2",
            FULL_12,
            [
                "initialized",
                "responded",
                "completed",
                "scored",
                "passed",
                "scored",
                "commented",
                "terminated",
            ],
        ),
        (
            "2004",
            FULL_2004,
            [
                "resumed",
                "responded",
                "completed",
                "failed",
                "scored",
                "progressed",
                "completed",
                "failed",
                "scored",
                "progressed",
                "commented",
                "suspended",
            ],
        ),
    ],
)
def test_every_statement_meets_its_profile_schema(
    version: str, elements: dict[str, str], expected: list[str]
) -> None:
    statements = convert(make_context(version=version, session_ended=True), elements)
    assert verbs(statements) == expected
    for statement in statements:
        for name in _schemas_for(statement):
            _schema(name).validate(statement)
