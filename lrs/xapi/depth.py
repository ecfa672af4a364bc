"""How deeply a JSON value may nest: one limit for statements and JSON documents.

Why 100: the fixed structure of a statement nests at most about 8 levels (statement,
SubStatement object, context, contextActivities, the array, an activity, its definition,
extensions), so 100 leaves over 90 levels for extension values and documents, more than any
real client sends. The limit sits well under what the JSON libraries refuse: orjson serialises
at most 254 levels (so 252-1023 levels were a 500 when a statement was stored) and parses at
most 1023; the stdlib's encoder runs out of recursion near 1000. Above it: a 400.
"""

from __future__ import annotations

from typing import Any

import orjson

from lrs.errors import BadRequest

MAX_JSON_DEPTH = 100


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether containers (objects, arrays) nest more than `limit` levels in `value`.

    Every statement passes here, so the walk is skipped when it cannot find anything: a value
    whose JSON holds at most `limit` opening brackets cannot nest deeper (brackets inside
    strings only raise the count), and orjson counts them far faster than Python walks. A list
    (a batch) is judged item by item, so that each statement of a batch takes the fast path.
    The walk itself visits only containers and stops at the first too-deep one.
    """
    if not isinstance(value, dict | list):
        return False
    if limit < 1:
        return True
    if isinstance(value, list):
        return any(nests_deeper_than(item, limit - 1) for item in value)
    return not _few_brackets(value, limit) and _deeper(value, limit - 1)


def _few_brackets(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether `value` serialises with at most `limit` opening brackets (so nests no deeper)."""
    try:
        dumped = orjson.dumps(value)
    except orjson.JSONEncodeError:  # too deep for orjson, or not JSON (an in-process caller)
        return False
    return dumped.count(b"{") + dumped.count(b"[") <= limit


def _deeper(container: dict[str, Any] | list[Any], budget: int) -> bool:
    """Whether a container below `container` nests more than `budget` further levels."""
    for child in container.values() if isinstance(container, dict) else container:
        if isinstance(child, dict | list) and (budget == 0 or _deeper(child, budget - 1)):
            return True
    return False


def check_depth(value: Any, what: str) -> None:
    """A 400 when `value` nests more than MAX_JSON_DEPTH levels."""
    if isinstance(value, dict | list) and nests_deeper_than(value, MAX_JSON_DEPTH):
        raise BadRequest(f"{what} nests more than {MAX_JSON_DEPTH} levels of JSON")
