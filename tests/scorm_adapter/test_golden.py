"""Golden tests: a whole commit in, the exact statements out (ids included).

Inputs and expected outputs live in fixtures/golden. The expected ids pin the natural-key
scheme: if one changes, re-imports would stop being idempotent, so it must not change.
"""

from __future__ import annotations

import json

import pytest

from scorm_adapter import AttemptContext, parse_json_commit
from tests.scorm_adapter.helpers import FIXTURES, convert

CASES = ["scorm12_resumed_suspended", "scorm2004_completed_passed"]


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    given = json.loads((FIXTURES / "golden" / f"{name}.input.json").read_text(encoding="utf-8"))
    expected = json.loads(
        (FIXTURES / "golden" / f"{name}.expected.json").read_text(encoding="utf-8")
    )
    commit = parse_json_commit(given["commit"])
    ctx = AttemptContext(**given["context"])
    assert commit.version == ctx.version
    assert convert(ctx, commit.elements) == expected


@pytest.mark.parametrize("name", CASES)
def test_golden_is_stable_when_converted_twice(name: str) -> None:
    given = json.loads((FIXTURES / "golden" / f"{name}.input.json").read_text(encoding="utf-8"))
    first = convert(AttemptContext(**given["context"]), parse_json_commit(given["commit"]).elements)
    second = convert(
        AttemptContext(**given["context"]), parse_json_commit(given["commit"]).elements
    )
    assert first == second


def test_inline_golden_completed_12() -> None:
    """The smallest case spelled out in full: SCORM 1.2 lesson_status = completed."""
    ctx = AttemptContext(
        learner={"account": {"homePage": "https://hr.example.com/", "name": "E7"}},
        course_iri="https://lms.example.com/c",
        sco_iri="https://lms.example.com/c/s",
        attempt="https://lms.example.com/c/s?attemptId=1f0e9a8b-7c6d-4e5f-8a9b-0c1d2e3f4a5b",
        version="1.2",
        timestamp="2024-01-02T03:04:05Z",
    )
    assert convert(ctx, {"cmi.core.lesson_status": "completed"}) == [
        {
            "id": "8514bf39-f862-52a8-9712-c102b0a29bc5",
            "actor": {"account": {"homePage": "https://hr.example.com/", "name": "E7"}},
            "verb": {
                "id": "http://adlnet.gov/expapi/verbs/completed",
                "display": {"en-US": "completed"},
            },
            "object": {
                "id": "https://lms.example.com/c/s",
                "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"},
            },
            "context": {
                "contextActivities": {
                    "grouping": [
                        {
                            "id": "https://lms.example.com/c",
                            "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                        },
                        {
                            "id": "https://lms.example.com/c/s?attemptId=1f0e9a8b-7c6d-4e5f-8a9b-0c1d2e3f4a5b",
                            "definition": {"type": "http://adlnet.gov/expapi/activities/attempt"},
                        },
                    ],
                    "category": [
                        {
                            "id": "https://w3id.org/xapi/scorm",
                            "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
                        }
                    ],
                }
            },
            "timestamp": "2024-01-02T03:04:05Z",
        }
    ]
