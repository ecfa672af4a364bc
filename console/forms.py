"""Reading the console's forms: the values of ticked checkboxes and typed lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ticked(form: Mapping[str, Any], name: str) -> list[str]:
    """Every non-empty value of a repeated field (checkboxes of one name)."""
    values = form.getall(name, []) if hasattr(form, "getall") else form.get(name, [])
    if isinstance(values, str):
        values = [values]
    return [str(v).strip() for v in values if str(v).strip()]
