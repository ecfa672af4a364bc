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
    """Whether containers (objects, arrays) nest more than `limit` levels in `value`.

    Every statement passes here, so only containers are visited (a recursion at most `limit`
    deep that stops at the first too-deep one), never the scalars beside them.
    """
    if not isinstance(value, dict | list):
        return False
    return limit < 1 or _deeper(value, limit - 1)


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
