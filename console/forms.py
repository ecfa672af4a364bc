"""Reading the console's forms: the values of ticked checkboxes and typed lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrs.errors import BadRequest


def ticked(form: Mapping[str, Any], name: str) -> list[str]:
    """Every non-empty value of a repeated field (checkboxes of one name)."""
    values = form.getall(name, []) if hasattr(form, "getall") else form.get(name, [])
    if isinstance(values, str):
        values = [values]
    return [str(v).strip() for v in values if str(v).strip()]


def ticked_ids(form: Mapping[str, Any], what: str, most: int) -> list[str]:
    """The ids ticked in the field `ids`, each once: at least one, at most `most` (400)."""
    ids = list(dict.fromkeys(ticked(form, "ids")))
    if not ids:
        raise BadRequest(f"tick at least one {what}", field="ids")
    if len(ids) > most:
        raise BadRequest(f"at most {most} {what}s at a time", field="ids")
    return ids
