"""Voiding as plain functions (xAPI 1.0.3 Part 2 §2.3.2)."""

from __future__ import annotations

import pytest

from lrs.errors import BadRequest, ValidationError
from lrs.xapi.voiding import (
    VOIDED_VERB,
    check_voidable,
    check_voiding_object,
    is_voiding,
    voided_ids,
    voided_target,
)
from tests.factories import make_statement

TARGET = "E05AA883-ACAF-40AD-BF54-02C8CE485FB0"


def voiding(target: str = TARGET) -> dict:
    return make_statement(
        verb={"id": VOIDED_VERB, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target},
    )


def test_a_voiding_statement_is_one_with_the_voided_verb() -> None:
    assert is_voiding(voiding())
    assert not is_voiding(make_statement())


def test_the_target_is_the_statement_ref_id_lower_cased() -> None:
    assert voided_target(voiding()) == TARGET.lower()


def test_a_statement_ref_with_another_verb_voids_nothing() -> None:
    referring = make_statement(object={"objectType": "StatementRef", "id": TARGET})
    assert voided_target(referring) is None
    assert voided_target(make_statement()) is None


def test_the_object_of_a_voiding_statement_must_be_a_statement_ref() -> None:
    check_voiding_object(voiding(), "")
    bad = voiding() | {"object": {"objectType": "Activity", "id": "http://example.com/a"}}
    with pytest.raises(ValidationError) as caught:
        check_voiding_object(bad, "[2]")
    assert caught.value.path == "[2].object"
    with pytest.raises(ValidationError) as caught:
        check_voiding_object(bad, "")
    assert caught.value.path == "object"
    check_voiding_object(bad | {"verb": {"id": "http://example.com/verb"}}, "")


def test_voiding_a_voiding_statement_is_refused() -> None:
    check_voidable({"b": "a", "c": None}, {"a": None})
    check_voidable({"b": "a"}, {})  # a target not stored yet is no reason to refuse
    with pytest.raises(BadRequest, match="statement a is a voiding"):
        check_voidable({"b": "a"}, {"a": "x"})  # stored voiding statement
    with pytest.raises(BadRequest, match="statement a is a voiding"):
        check_voidable({"a": "x", "b": "a"}, {})  # voiding statement in the same batch


def test_voided_are_the_stored_targets_that_void_nothing() -> None:
    voids_of = {"a": None, "b": "z", "c": None}
    assert voided_ids(["c", "a", "b", "missing", "a"], voids_of) == ["a", "c"]
    assert voided_ids([], voids_of) == []
