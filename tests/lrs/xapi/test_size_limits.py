"""The depth and length limits decide the same with and without their fast paths.

Both checks skip their walk when the serialised JSON proves nothing can be over the limit, so
these tests compare them with a plain recursive reference on values made to sit near the edges:
brackets inside strings, exactly the limit, batches, values orjson cannot serialise.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrs.errors import ValidationError
from lrs.xapi.depth import nests_deeper_than
from lrs.xapi.lengths import MAX_IRI_CHARS, check_lengths


def reference_depth(value: Any) -> int:
    """Levels of containers in `value`, the obvious way."""
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet="{[]}ab\"'", max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, limit=st.integers(min_value=0, max_value=8))
def test_depth_matches_the_reference(value: Any, limit: int) -> None:
    assert nests_deeper_than(value, limit) == (reference_depth(value) > limit)


@pytest.mark.parametrize("levels", [99, 100, 101, 300])
def test_depth_at_the_limit_in_a_batch(levels: int) -> None:
    batch = [nested(1), nested(levels - 1), nested(2)]  # the list adds one level
    assert nests_deeper_than(batch, 100) == (levels > 100)


def test_brackets_inside_strings_do_not_make_a_value_deep() -> None:
    value = {"a": "[" * 500, "b": "{" * 500}
    assert not nests_deeper_than(value, 2)


def test_a_value_orjson_cannot_serialise_is_still_walked() -> None:
    value = {"when": object(), "deep": nested(5)}
    assert nests_deeper_than(value, 4)
    assert not nests_deeper_than(value, 6)


def _statement(activity_id: str, extension: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": activity_id},
    }
    if extension is not None:
        statement["context"] = {"extensions": {"http://example.com/x": extension}}
    return statement


@pytest.mark.parametrize("extra", [0, 1, 10])
def test_an_iri_just_over_the_limit_is_refused(extra: int) -> None:
    iri = "http://example.com/" + "a" * (MAX_IRI_CHARS - 19 + extra)
    if extra == 0:
        check_lengths(_statement(iri))
    else:
        with pytest.raises(ValidationError, match=r"object\.id"):
            check_lengths(_statement(iri))


def test_a_multibyte_iri_is_counted_in_characters() -> None:
    iri = "http://example.com/" + "é" * (MAX_IRI_CHARS - 19)  # 2 bytes each, within the limit
    check_lengths(_statement(iri))


def test_a_long_value_beside_an_unserialisable_one_is_found() -> None:
    statement = _statement("http://example.com/" + "a" * MAX_IRI_CHARS, extension=object())
    with pytest.raises(ValidationError, match=r"object\.id"):
        check_lengths(statement)
