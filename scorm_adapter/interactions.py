"""SCORM interaction types and responses → xAPI interactionType and response strings.

xAPI 1.0.3 Part 2 §2.4.4.1 "Response Patterns" took its formats from SCORM 2004 4th Edition
(RTE §4.2.9.1-2): `[,]` between items, `[.]` inside matching pairs and performance steps,
`[:]` for numeric ranges, `{case_matters=..}{order_matters=..}{lang=..}` parameters. So SCORM
2004 values are checked and kept as they are.

SCORM 1.2 (RTE §3.4.4, CMIFeedback) is older and looser; its values are converted:

| type       | SCORM 1.2                          | xAPI                       |
| ---------- | ---------------------------------- | -------------------------- |
| true-false | `0`, `1`, `t`, `f` (first char)    | `false` / `true`           |
| choice     | `a,b` or `{a,b}`                   | `a[,]b`                    |
| sequencing | `a,b,c`                            | `a[,]b[,]c`                |
| matching   | `1.a,2.b` or `{1.a,2.b}`           | `1[.]a[,]2[.]b`            |
| fill-in    | a string                           | unchanged                  |
| likert     | an identifier                      | unchanged                  |
| numeric    | a decimal                          | unchanged (checked)        |
| performance| free text, no defined structure    | interactionType `other`    |

SCORM 1.2 performance responses have no defined structure, while the xAPI `performance` format
requires `step[.]answer` pairs, so they are reported as `other`, whose format is free.
"""

from __future__ import annotations

from decimal import Decimal

from scorm_adapter.cmi import ScormVersion
from scorm_adapter.errors import ScormDataError
from scorm_adapter.values import parse_decimal
from scorm_adapter.vocabulary import INTERACTION_TYPES

_TYPES_12 = {
    "true-false": "true-false",
    "choice": "choice",
    "fill-in": "fill-in",
    "matching": "matching",
    "performance": "other",
    "sequencing": "sequencing",
    "likert": "likert",
    "numeric": "numeric",
}
# cmi.interactions.n.result: value → result.success (None: no success claim).
_RESULTS: dict[ScormVersion, dict[str, bool | None]] = {
    "1.2": {"correct": True, "wrong": False, "unanticipated": None, "neutral": None},
    "2004": {"correct": True, "incorrect": False, "unanticipated": None, "neutral": None},
}


def interaction_type(element: str, value: str, version: ScormVersion) -> str:
    """cmi.interactions.n.type → the xAPI interactionType."""
    kind = value.strip()
    if version == "1.2":
        if kind not in _TYPES_12:
            raise ScormDataError(element, f"not a SCORM 1.2 interaction type: {value!r}")
        return _TYPES_12[kind]
    if kind not in INTERACTION_TYPES:
        raise ScormDataError(element, f"not a SCORM 2004 interaction type: {value!r}")
    return kind


def convert_response(element: str, value: str, kind: str | None, version: ScormVersion) -> str:
    """A learner response or correct-response pattern → the xAPI format for `kind`.

    `kind` is the xAPI interactionType (None when the SCO did not set a type: the value is
    then kept as it is, since its format is unknown).
    """
    if kind is None:
        return value
    if version == "2004":
        return _check_2004(element, value, kind)
    return _convert_12(element, value, kind)


def interaction_result(
    element: str, value: str, version: ScormVersion
) -> tuple[bool | None, Decimal | None]:
    """cmi.interactions.n.result → (result.success, result.score.raw).

    "correct" → success true; "wrong" (1.2) / "incorrect" (2004) → false; "unanticipated" and
    "neutral" make no claim; a number is reported as score.raw, with no success claim.
    """
    text = value.strip()
    table = _RESULTS[version]
    if text in table:
        return table[text], None
    try:
        return None, parse_decimal(element, text)
    except ScormDataError:
        words = ", ".join(table)
        raise ScormDataError(element, f"expected {words} or a number, got {value!r}") from None


def _check_2004(element: str, value: str, kind: str) -> str:
    if kind == "true-false" and value not in ("true", "false"):
        raise ScormDataError(element, f"a true-false value must be true or false: {value!r}")
    if kind == "numeric" and "[:]" not in value and value.strip():
        parse_decimal(element, value)
    return value


def _convert_12(element: str, value: str, kind: str) -> str:
    text = value.strip()
    if kind == "true-false":
        first = text[:1].lower()
        if first in ("1", "t"):
            return "true"
        if first in ("0", "f"):
            return "false"
        raise ScormDataError(element, f"a SCORM 1.2 true-false value is 0, 1, t or f: {value!r}")
    if kind in ("choice", "sequencing"):
        return "[,]".join(_items(text))
    if kind == "matching":
        return "[,]".join(_pair(element, item) for item in _items(text))
    if kind == "numeric":
        parse_decimal(element, text)
        return text
    return value  # fill-in, likert, other (1.2 performance): no structure to convert


def _items(text: str) -> list[str]:
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return [item.strip() for item in text.split(",") if item.strip()]


def _pair(element: str, item: str) -> str:
    source, dot, target = item.partition(".")
    if not dot or not source.strip() or not target.strip():
        raise ScormDataError(element, f"a matching pair must be source.target: {item!r}")
    return f"{source.strip()}[.]{target.strip()}"
