"""What a statement contributed to the marketplace, as the console's statement page says it.

The projection keeps one fact per statement id (`FactStore.get_facts`): the member and activity
it counts towards and the values the mapping took from it. A statement without a fact is
explained by running the mapping on it again (`Projector.stored_assessment`, pure): either it
makes no contribution (out of the mapping's scope, a voiding statement, a Group's, no mapped
value), or it does and the worker has not applied it yet. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.store.base import StatementStore
from projections.identity_ops import describe_key
from projections.service import Projection
from projections.store.base import Fact

COUNTED, UNMATCHED, VOIDED, PENDING, NONE = "counted", "unmatched", "voided", "pending", "none"


@dataclass(frozen=True)
class Effect:
    """A statement's part in the marketplace records: its state and, when it has one, what it
    gave (field name, value as JSON text) to which (member, activity)."""

    state: str
    summary: str
    member_id: str | None = None
    activity_id: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)


def _values(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, orjson.dumps(data[name]).decode()) for name in sorted(data)]


def _actor(key: str) -> str:
    """An actor key as operators read it."""
    if key.startswith("hris:"):
        return f"employee id {key[5:]}"
    if key.startswith(("email:", "account:")):
        return describe_key(key)
    return key


def from_fact(fact: Fact) -> Effect:
    """The effect the stored fact records."""
    if fact.activity_id is None:
        return Effect(VOIDED, "voided before it was projected: it contributes nothing")
    if fact.voided:
        return Effect(
            VOIDED,
            "voided: its contribution was withdrawn from the record",
            fact.member_id,
            fact.activity_id,
            _values(fact.data),
        )
    if fact.member_id is None:
        return Effect(
            UNMATCHED,
            f"held: unmatched actor ({_actor(fact.actor_key)}); it is projected once the "
            "identity map knows who that is",
            None,
            fact.activity_id,
            _values(fact.data),
        )
    return Effect(
        COUNTED,
        "counted in the member's record",
        fact.member_id,
        fact.activity_id,
        _values(fact.data),
    )


async def statement_effect(
    projection: Projection, statements: StatementStore, statement_id: str
) -> Effect:
    """What the statement contributed (its fact), else why it contributes nothing."""
    sid = statement_id.lower()
    fact = (await projection.stores.facts.get_facts([sid])).get(sid)
    if fact is not None:
        return from_fact(fact)
    stored = (await statements.get_statements([sid])).get(sid)
    if stored is None:
        return Effect(NONE, "no such statement")
    if stored.voids is not None:
        return Effect(NONE, f"a voiding statement: it withdraws {stored.voids}, gives nothing")
    assessed = projection.projector.stored_assessment(stored)
    issues = [f"{i.reason}: {i.field}" for i in assessed.issues]
    if assessed.contribution is None:
        return Effect(NONE, "out of scope: the mapping takes nothing from it", issues=issues)
    made = assessed.contribution
    return Effect(
        PENDING,
        "not projected yet: the worker has not applied it",
        None,
        made.activity_id,
        _values(made.data),
        issues,
    )
