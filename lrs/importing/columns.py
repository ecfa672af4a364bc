"""`--columns`: a file's own headers for an import's field names, shared by the importers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


class ColumnsError(ValueError):
    """A `--columns` value that is neither `our=theirs` pairs nor a JSON object file."""


def parse_columns(value: str) -> dict[str, str]:
    """`our=theirs,...` pairs, or the path of a JSON file holding `{"our": "theirs"}`."""
    if "=" not in value:  # no pair: the name of a JSON file
        try:
            mapping = json.loads(Path(value).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ColumnsError(
                f"neither our=theirs pairs nor a readable JSON file: {exc}"
            ) from None
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise ColumnsError(f"{value} must hold a JSON object of strings")
        return mapping
    columns: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ColumnsError(f"{pair!r} is not our=theirs")
        columns[ours.strip()] = theirs.strip()
    return columns


def check_fields(columns: dict[str, str], known: Iterable[str]) -> None:
    """Refuse a mapping of a field the import does not have."""
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ColumnsError(f"unknown fields {unknown}; known: {list(known)}")
