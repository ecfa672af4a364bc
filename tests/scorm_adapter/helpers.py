"""Shared test helpers: contexts, fixture loading, and validation of every produced statement."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from scorm_adapter import AttemptContext, convert_attempt

FIXTURES = Path(__file__).parent / "fixtures"
PROFILE = FIXTURES / "profile"
REPO = Path(__file__).resolve().parents[2]

ACCOUNT = {"account": {"homePage": "http://lms.adlnet.gov/", "name": "500-627-490"}}
COURSE = "http://adlnet.gov/courses/compsci/CS204/"
SCO = "http://adlnet.gov/courses/compsci/CS204/lesson01/01"
ATTEMPT = SCO + "?attemptId=50fd6961-ab6c-4e75-e6c7-ca42dce50dd6"
STAMP = "2014-08-01T15:05:04-04:00"


def make_context(**overrides: Any) -> AttemptContext:
    """The profile's running example (learner 500-627-490, CS204 lesson 01) as a context."""
    fields: dict[str, Any] = {
        "learner": ACCOUNT,
        "course_iri": COURSE,
        "sco_iri": SCO,
        "attempt": ATTEMPT,
        "version": "2004",
        "timestamp": STAMP,
    }
    fields.update(overrides)
    return AttemptContext(**fields)


def convert(
    ctx: AttemptContext,
    elements: Mapping[str, str],
    previous: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """convert_attempt, with every statement checked against xAPI 1.0.3 and the profile."""
    statements = convert_attempt(ctx, elements, previous)
    for statement in statements:
        assert_valid_xapi(statement)
    return statements


def assert_valid_xapi(statement: dict[str, Any]) -> None:
    """Validate with the project's xAPI 1.0.3 schema and, once it exists, its validator."""
    _xapi_schema().validate(statement)
    validate = _lead_validator()
    if validate is not None:
        validate(copy.deepcopy(statement), version="1.0.3")


def load_profile_example(path: str) -> dict[str, Any]:
    """A statement copied from the profile (path as in the profile repository)."""
    return json.loads((PROFILE / path).read_text(encoding="utf-8"))


def by_verb(statements: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The statements whose verb is the ADL verb `name`."""
    return [s for s in statements if s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/" + name]


def one(statements: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The single statement with verb `name`."""
    found = by_verb(statements, name)
    assert len(found) == 1, [s["verb"]["id"] for s in statements]
    return found[0]


def verbs(statements: list[dict[str, Any]]) -> list[str]:
    """Verb names in order."""
    return [s["verb"]["id"].rsplit("/", 1)[1] for s in statements]


@cache
def _xapi_schema() -> jsonschema.Draft7Validator:
    schema = json.loads((REPO / "spec" / "xapi-1.0.3.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


@cache
def _lead_validator() -> Any:
    try:
        from lrs.xapi.validation import validate_statement  # type: ignore[attr-defined]
    except ModuleNotFoundError as exc:
        if exc.name not in ("lrs.xapi.validation", "lrs.xapi", "lrs"):
            raise
        return None
    return validate_statement


@cache
def _document_schema(name: str) -> jsonschema.Draft4Validator:
    path = PROFILE / "document-schemas" / f"scorm.profile.{name}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def valid_document(name: str, document: Any) -> Any:
    """`document`, after checking it against the profile's data-object schema `name`
    (attempt.state, activity.state, agent.profile, activity.profile)."""
    _document_schema(name).validate(document)
    return document
