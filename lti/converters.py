"""Grades → xAPI statements, for both LTI versions: pure functions, deterministic ids.

The rules (docs/lti.md, "Scores become statements", says the same):

- actor: an Agent with an `account` whose `homePage` is the user home page of the tool (LTI 1.3)
  or consumer (LTI 1.1), default `LRS_LTI_USER_HOME_PAGE`, else the LRS's public base URL, and
  whose `name` is the LTI user id. Set the home page to the HRIS home page when the LMS's user
  ids are employee ids, and the projection matches learners directly (DESIGN.md, Identity).
- object: the graded thing as an Activity of type `assessment`: the AGS line item
  (`<base>/lti/tools/<tool>/lineitems/<id>`, named by its label) or the LTI 1.1 resource link
  (`<base>/lti/1.1/consumers/<key>/links/<resource link id>`); context grouping: the tool or
  consumer (`<base>/lti/tools/<tool>`, `<base>/lti/1.1/consumers/<key>`).
- `scored` when the score counts (AGS: gradingProgress FullyGraded with a scoreGiven; LTI 1.1:
  always), with result.score {scaled: given/maximum, raw: given, min: 0, max: maximum}. Extra
  credit (given > maximum): scaled is capped at 1.0 and `max` left out, since xAPI requires
  raw <= max; the score as sent stays in the result extension.
- `completed` when the grade is final (AGS: activityProgress Completed and gradingProgress
  FullyGraded; LTI 1.1: always, a replaced result is a final grade), result.completion true.
- `passed` or `failed` beside `completed` when the grade is final, the score counts and a
  passing threshold applies: the line item's `urn:lrs-marketplace:lti:passingThreshold`
  property, else the tool's (consumer's) registered threshold. Passed when given/maximum
  (uncapped) >= threshold; result.success and the score as for `scored`.
- nothing for a score that neither counts nor is final (e.g. Pending, InProgress): the result is
  still recorded and readable through the results service.
- timestamp: the AGS score's timestamp; for LTI 1.1 (which has none) the moment the platform
  accepted the result, kept with it so a re-sent result reuses it.
- id: UUIDv5 (namespace `LTI_NAMESPACE`) of the canonical JSON of the natural key
  [source, tool client id or consumer key, line item id or resource link id, user id, timestamp
  in µs, verb IRI], so a re-sent score yields the same statements and the LRS stores them once.
- voiding (LTI 1.1 deleteResult): one `voided` statement per statement of the result, actor the
  consumer's authority agent, id UUIDv5 of ["void", target id], no timestamp (so a repeated
  delete is the same statement).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.xapi.voiding import VOIDED_VERB
from lti import vocabulary as v

LTI_NAMESPACE = uuid.UUID("0d3f5b8e-2c44-4f5e-9a51-6c1e1d0b7a2f")
AGS_SOURCE = "lti-ags"
OUTCOMES_SOURCE = "lti-basic-outcomes"
_DISPLAY = {v.SCORED: "scored", v.COMPLETED: "completed", v.PASSED: "passed", v.FAILED: "failed"}


@dataclass(frozen=True)
class Grade:
    """One grade from either LTI version, in the terms the statements need."""

    source: str
    registration: str  # the tool's client id or the consumer key
    item: str  # the line item id or the resource link id
    user_id: str
    user_home_page: str
    activity: dict[str, Any]
    grouping: str
    timestamp: str
    timestamp_us: int
    given: float | None  # None when the score does not count
    maximum: float | None
    final: bool
    threshold: float | None
    extensions: dict[str, Any] = field(default_factory=dict)


def statement_id(grade: Grade, verb: str) -> str:
    """The deterministic id of the grade's statement with this verb."""
    key = [grade.source, grade.registration, grade.item, grade.user_id, grade.timestamp_us, verb]
    return str(uuid.uuid5(LTI_NAMESPACE, orjson.dumps(key).decode()))


def verbs_for(grade: Grade) -> list[str]:
    """The verbs a grade becomes, per the module docstring."""
    verbs = []
    if grade.given is not None:
        verbs.append(v.SCORED)
    if grade.final:
        verbs.append(v.COMPLETED)
        if grade.given is not None and grade.threshold is not None:
            verbs.append(v.PASSED if _scaled(grade) >= grade.threshold else v.FAILED)
    return verbs


def grade_statements(grade: Grade) -> list[dict[str, Any]]:
    """The statements of a grade, in verb order."""
    return [_statement(grade, verb) for verb in verbs_for(grade)]


def _scaled(grade: Grade) -> float:
    assert grade.given is not None and grade.maximum
    return grade.given / grade.maximum


def _score(grade: Grade) -> dict[str, Any]:
    assert grade.given is not None and grade.maximum is not None
    scaled = _scaled(grade)
    if scaled > 1:  # extra credit: xAPI allows scaled <= 1 and raw <= max only
        return {"scaled": 1.0, "raw": grade.given, "min": 0}
    return {"scaled": scaled, "raw": grade.given, "min": 0, "max": grade.maximum}


def _result(grade: Grade, verb: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if verb != v.COMPLETED:
        result["score"] = _score(grade)
    if verb in (v.PASSED, v.FAILED):
        result["success"] = verb == v.PASSED
    if verb != v.SCORED:
        result["completion"] = True
    if grade.extensions:
        result["extensions"] = grade.extensions
    return result


def _statement(grade: Grade, verb: str) -> dict[str, Any]:
    return {
        "id": statement_id(grade, verb),
        "actor": learner(grade.user_id, grade.user_home_page),
        "verb": {"id": verb, "display": {"en-US": _DISPLAY[verb]}},
        "object": grade.activity,
        "result": _result(grade, verb),
        "context": {
            "contextActivities": {"grouping": [{"objectType": "Activity", "id": grade.grouping}]}
        },
        "timestamp": grade.timestamp,
    }


def learner(user_id: str, home_page: str) -> dict[str, Any]:
    """The xAPI Agent for an LTI user id."""
    return {"objectType": "Agent", "account": {"homePage": home_page, "name": user_id}}


def activity(iri: str, name: str | None = None) -> dict[str, Any]:
    """An assessment Activity, named when a name is known."""
    definition: dict[str, Any] = {"type": v.ASSESSMENT}
    if name:
        definition["name"] = {"und": name}
    return {"objectType": "Activity", "id": iri, "definition": definition}


def voiding_statements(target_ids: list[str], actor: dict[str, Any]) -> list[dict[str, Any]]:
    """One voiding statement per target (xAPI 1.0.3 Part 2 §2.3.2), deterministic ids."""
    return [
        {
            "id": str(uuid.uuid5(LTI_NAMESPACE, orjson.dumps(["void", target]).decode())),
            "actor": actor,
            "verb": {"id": VOIDED_VERB, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target},
        }
        for target in target_ids
    ]
