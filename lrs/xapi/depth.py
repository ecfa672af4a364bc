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

from lrs.errors import BadRequest

MAX_JSON_DEPTH = 100


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether containers (objects, arrays) nest more than `limit` levels in `value`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def check_depth(value: Any, what: str) -> None:
    """A 400 when `value` nests more than MAX_JSON_DEPTH levels."""
    if isinstance(value, dict | list) and nests_deeper_than(value, MAX_JSON_DEPTH):
        raise BadRequest(f"{what} nests more than {MAX_JSON_DEPTH} levels of JSON")
