"""SCORM scores → xAPI `result.score`, with the scaled score computed when the SCO gave none.

Rules (xAPI 1.0.3 Part 2 §2.4.5.1 Score; profile §6 Score):

- `scaled` given (SCORM 2004 cmi.score.scaled, cmi.objectives.n.score.scaled) is used as is.
- Otherwise, when raw, min and max are all present, scaled = (raw - min) / (max - min).
- Otherwise, for SCORM 1.2 only, scaled = raw / 100 (profile §6 Score, NOTE: "the value of
  SCORM 1.2 cmi.core.score.raw divided by 100 ... should be reported to xAPI as score.scaled";
  SCORM 1.2 scores are on a 0-100 scale unless min and max say otherwise).
- Otherwise (SCORM 2004 raw without min and max) there is no scaled score; raw/min/max are
  reported as given.

Out-of-range values are REJECTED, never clamped: a ScormDataError names the element. xAPI
requires min < max, min ≤ raw ≤ max and -1 ≤ scaled ≤ 1, and SCORM 2004 itself refuses a scaled
score outside [-1, 1]; a value outside these bounds is corrupt data, and clamping it would
report a score the learner did not get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scorm_adapter.cmi import ScormVersion
from scorm_adapter.errors import ScormDataError
from scorm_adapter.values import json_number, parse_decimal

_ONE = Decimal(1)


@dataclass(frozen=True)
class Score:
    """A score as xAPI reports it; absent parts stay None."""

    scaled: Decimal | None = None
    raw: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        """The `result.score` object: only the parts that are known."""
        parts = {"scaled": self.scaled, "raw": self.raw, "min": self.min, "max": self.max}
        return {key: json_number(value) for key, value in parts.items() if value is not None}


def read_score(elements: Mapping[str, str], prefix: str, version: ScormVersion) -> Score | None:
    """The score under `prefix` (e.g. "cmi.core.score"), or None when no part is set."""
    raw, low, high = (_part(elements, f"{prefix}.{name}") for name in ("raw", "min", "max"))
    scaled = _part(elements, f"{prefix}.scaled") if version == "2004" else None
    if raw is low is high is scaled is None:
        return None
    if low is not None and high is not None and not low < high:
        raise ScormDataError(f"{prefix}.min", f"{low} is not less than {prefix}.max ({high})")
    if raw is not None:
        _check_raw(prefix, raw, low, high)
    if scaled is not None:
        _check_scaled(f"{prefix}.scaled", scaled)
    elif raw is not None:
        scaled = _computed_scaled(prefix, raw, low, high, version)
    return Score(scaled=scaled, raw=raw, min=low, max=high)


def _part(elements: Mapping[str, str], name: str) -> Decimal | None:
    value = elements.get(name)
    if value is None or not value.strip():
        return None  # SCORM's empty string means "not set"
    return parse_decimal(name, value)


def _check_raw(prefix: str, raw: Decimal, low: Decimal | None, high: Decimal | None) -> None:
    if low is not None and raw < low:
        raise ScormDataError(f"{prefix}.raw", f"{raw} is below {prefix}.min ({low})")
    if high is not None and raw > high:
        raise ScormDataError(f"{prefix}.raw", f"{raw} is above {prefix}.max ({high})")


def _check_scaled(name: str, scaled: Decimal) -> None:
    if not -_ONE <= scaled <= _ONE:
        raise ScormDataError(name, f"{scaled} is outside [-1, 1]")


def _computed_scaled(
    prefix: str, raw: Decimal, low: Decimal | None, high: Decimal | None, version: ScormVersion
) -> Decimal | None:
    if low is not None and high is not None:
        return (raw - low) / (high - low)  # within [0, 1]: raw was checked against min and max
    if version != "1.2":
        return None
    scaled = raw / 100
    if not -_ONE <= scaled <= _ONE:
        raise ScormDataError(
            f"{prefix}.raw", f"{raw} is outside [-100, 100], so raw / 100 is no scaled score"
        )
    return scaled
