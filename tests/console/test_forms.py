"""Reading ticked boxes from a form (`console.forms`), as units."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from console.forms import ticked, ticked_ids
from lrs.errors import BadRequest


def test_ticked_reads_every_value_of_a_field_and_drops_blanks() -> None:
    form = MultiDict([("ids", "a"), ("ids", " b "), ("ids", ""), ("other", "c")])
    assert ticked(form, "ids") == ["a", "b"]
    assert ticked({"ids": "one"}, "ids") == ["one"]  # a plain mapping with one value
    assert ticked(MultiDict(), "ids") == []


def test_ticked_ids_wants_one_to_most_each_once() -> None:
    form = MultiDict([("ids", "a"), ("ids", "a"), ("ids", "b")])
    assert ticked_ids(form, "item", 2) == ["a", "b"]
    with pytest.raises(BadRequest, match="tick at least one item"):
        ticked_ids(MultiDict(), "item", 2)
    with pytest.raises(BadRequest, match="at most 1 items at a time"):
        ticked_ids(form, "item", 1)
