"""How MongoDB answers GET /statements: the filter, the sort and the index of each query.

Every page is sorted by (stored_us, _id) and read through an index whose keys after the
equality are exactly that sort, so the server walks the index in stored order (forwards or
backwards), fetches each entry's document, drops what the rest of the filter refuses (voided,
pending, the other keys) and stops at limit + 1: no in-memory sort, and work bounded by the
entries walked, not by the collection. docs/query-plans.md lists the plan of each shape.

Which index (`query_plan`):
- no key (the newest page, since, until, `more` pages of those): `stored`
  (stored_us, _id);
- one key or more: `idx_<kind>` (idx.<kind>, stored_us, _id) of the most selective kind among
  them (`SELECTIVITY`: a registration is one attempt, an agent one learner, an activity one
  unit, a verb a large share of everything, an authority often all of it).
The plan is given as a hint: MongoDB's planner would otherwise race the candidate indexes on
the first query of a shape and cache the winner for every later one, whose keys may be far
more or far less common.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lrs.errors import BadRequest
from lrs.model.statements import StatementFilter

STORED_INDEX = "stored"
# Index kinds, the most selective first: the first a query names drives its index walk.
SELECTIVITY = (
    "registrations",
    "agents",
    "activities",
    "related_agents",
    "related_activities",
    "verbs",
    "authorities",
)


def kind_index(kind: str) -> str:
    """The name of the index of one filter kind."""
    return f"idx_{kind}"


def stored_order(direction: int = ASCENDING) -> list[tuple[str, int]]:
    """The order of every page, and the keys every query index ends with."""
    return [("stored_us", direction), ("_id", direction)]


def index_keys(name: str) -> list[tuple[str, int]]:
    """The keys of a query index (`create_indexes` makes them from this)."""
    if name == STORED_INDEX:
        return stored_order()
    kind = name.removeprefix("idx_")
    return [(f"idx.{kind}", ASCENDING), *stored_order()]


@dataclass(frozen=True)
class QueryPlan:
    """A find: its filter, its sort and the index that serves both."""

    filter: dict[str, Any]
    sort: list[tuple[str, int]]
    hint: str


def parse_position(position: str) -> tuple[int, str]:
    """The (stored_us, _id) of a paging position this store gave out."""
    stored, _sep, sid = position.partition(":")
    try:
        return int(stored), sid
    except ValueError:
        raise BadRequest("the paging position is not one this LRS gave out") from None


def query_filter(query: StatementFilter) -> dict[str, Any]:
    """The filter of a query: non-voided, committed statements with every key, in its window."""
    clauses: list[dict[str, Any]] = [{"voided": False}, {"pending": {"$exists": False}}]
    clauses.extend({f"idx.{kind}": key} for kind, key in query.keyed().items())
    if query.since_us is not None:
        clauses.append({"stored_us": {"$gt": query.since_us}})
    if query.until_us is not None:
        clauses.append({"stored_us": {"$lte": query.until_us}})
    if query.after is not None:
        stored_us, sid = parse_position(query.after)
        beyond, reach = ("$gt", "$gte") if query.ascending else ("$lt", "$lte")
        clauses.append({"stored_us": {reach: stored_us}})
        clauses.append({"$or": [{"stored_us": {beyond: stored_us}}, {"_id": {beyond: sid}}]})
    return {"$and": clauses}


def query_plan(query: StatementFilter) -> QueryPlan:
    """The filter, sort and index of one page (see the module docstring)."""
    kinds = query.keyed()
    driver = next((kind for kind in SELECTIVITY if kind in kinds), None)
    return QueryPlan(
        filter=query_filter(query),
        sort=stored_order(ASCENDING if query.ascending else DESCENDING),
        hint=STORED_INDEX if driver is None else kind_index(driver),
    )
