"""The MongoDB query plans: each shape names an index whose keys are its equality then its
sort, so the server walks it in stored order with no in-memory sort (docs/query-plans.md).

What mongomock cannot show (the plan the server picks, the keys it examines) is why the plan
is a hint; these tests hold the hint, the sort and the created indexes to each other.
"""

from __future__ import annotations

import pytest
from pymongo import ASCENDING, DESCENDING

from lrs.model.statements import INDEX_KINDS, StatementFilter
from lrs.store.mongo_query import (
    SELECTIVITY,
    STORED_INDEX,
    index_keys,
    kind_index,
    query_plan,
)

SHAPES = {
    "newest page": (StatementFilter(), None),
    "since": (StatementFilter(since_us=5), None),
    "until, ascending": (StatementFilter(until_us=5, ascending=True), None),
    "more page": (StatementFilter(after="5:abc"), None),
    "verb": (StatementFilter(verb="v"), "verbs"),
    "activity": (StatementFilter(activity="x"), "activities"),
    "course, related": (
        StatementFilter(activity="c", related_activities=True),
        "related_activities",
    ),
    "agent": (StatementFilter(agent="a"), "agents"),
    "agent, related": (StatementFilter(agent="a", related_agents=True), "related_agents"),
    "registration": (StatementFilter(registration="r"), "registrations"),
    "mine": (StatementFilter(authority="u"), "authorities"),
    "agent, verb, since": (StatementFilter(agent="a", verb="v", since_us=5), "agents"),
    "verb, mine, more": (StatementFilter(verb="v", authority="u", after="5:abc"), "verbs"),
    "course, verb, ascending": (
        StatementFilter(activity="c", related_activities=True, verb="v", ascending=True),
        "related_activities",
    ),
    "registration, agent, activity": (
        StatementFilter(registration="r", agent="a", activity="x"),
        "registrations",
    ),
}


def test_every_kind_has_a_rank() -> None:
    assert sorted(SELECTIVITY) == sorted(INDEX_KINDS)


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_hints_the_index_of_its_most_selective_key(shape: str) -> None:
    query, driver = SHAPES[shape]
    plan = query_plan(query)
    assert plan.hint == (STORED_INDEX if driver is None else kind_index(driver))


@pytest.mark.parametrize("shape", SHAPES)
def test_the_hinted_index_is_the_equality_then_the_sort(shape: str) -> None:
    """Walked forwards or backwards, the index yields the sort: no in-memory sort."""
    query, driver = SHAPES[shape]
    plan = query_plan(query)
    keys = index_keys(plan.hint)
    equality = [] if driver is None else [(f"idx.{driver}", ASCENDING)]
    assert keys[: len(equality)] == equality
    direction = ASCENDING if query.ascending else DESCENDING
    assert plan.sort == [("stored_us", direction), ("_id", direction)]
    assert [name for name, _ in keys[len(equality) :]] == [name for name, _ in plan.sort]
    assert {order for _, order in keys[len(equality) :]} == {ASCENDING}
    if driver is not None:  # the filter pins the index's first key to one value
        assert {f"idx.{driver}": getattr(query, _field(driver))} in plan.filter["$and"]


def _field(kind: str) -> str:
    return {
        "agents": "agent",
        "related_agents": "agent",
        "verbs": "verb",
        "activities": "activity",
        "related_activities": "activity",
        "registrations": "registration",
        "authorities": "authority",
    }[kind]
