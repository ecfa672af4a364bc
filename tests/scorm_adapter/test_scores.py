"""Scaled score rules: given, from raw/min/max, raw/100 for SCORM 1.2; reject, never clamp."""

from __future__ import annotations

import pytest

from scorm_adapter import ScormDataError
from scorm_adapter.scores import read_score


def score(version: str, prefix: str = "cmi.score", **parts: str) -> dict | None:
    found = read_score({f"{prefix}.{k}": v for k, v in parts.items()}, prefix, version)  # type: ignore[arg-type]
    return None if found is None else found.as_json()


def test_nothing_set_is_no_score() -> None:
    assert score("2004") is None
    assert score("2004", raw="", min=" ") is None


def test_given_scaled_is_used_as_is() -> None:
    assert score("2004", scaled="0.123", raw="5", min="0", max="10") == {
        "scaled": 0.123,
        "raw": 5,
        "min": 0,
        "max": 10,
    }


def test_scaled_computed_from_raw_min_max() -> None:
    assert score("2004", raw="7", min="0", max="9")["scaled"] == pytest.approx(7 / 9)
    assert score("2004", raw="-5", min="-10", max="10")["scaled"] == 0.25
    assert score("1.2", "cmi.core.score", raw="40", min="20", max="60")["scaled"] == 0.5


def test_scorm_12_raw_alone_is_divided_by_100() -> None:
    assert score("1.2", "cmi.core.score", raw="87.5") == {"scaled": 0.875, "raw": 87.5}


def test_scorm_12_raw_with_only_max_uses_the_profile_rule() -> None:
    assert score("1.2", "cmi.core.score", raw="40", max="50") == {
        "scaled": 0.4,
        "raw": 40,
        "max": 50,
    }


def test_scorm_2004_raw_without_range_has_no_scaled() -> None:
    assert score("2004", raw="40") == {"raw": 40}


def test_scorm_12_has_no_scaled_element() -> None:
    # cmi.core.score.scaled does not exist in SCORM 1.2 (cmi.py refuses it before this point).
    assert score("1.2", "cmi.core.score", scaled="0.5") is None


@pytest.mark.parametrize(
    ("version", "parts", "element", "message"),
    [
        ("2004", {"scaled": "1.01"}, "cmi.score.scaled", "1.01 is outside [-1, 1]"),
        ("2004", {"scaled": "-2"}, "cmi.score.scaled", "-2 is outside [-1, 1]"),
        ("2004", {"raw": "11", "max": "10"}, "cmi.score.raw", "11 is above cmi.score.max (10)"),
        ("2004", {"raw": "-1", "min": "0"}, "cmi.score.raw", "-1 is below cmi.score.min (0)"),
        (
            "2004",
            {"min": "10", "max": "10"},
            "cmi.score.min",
            "10 is not less than cmi.score.max (10)",
        ),
        ("2004", {"raw": "abc"}, "cmi.score.raw", "not a number: 'abc'"),
        ("2004", {"raw": "NaN"}, "cmi.score.raw", "not a number: 'NaN'"),
        ("2004", {"max": "Infinity"}, "cmi.score.max", "not a number: 'Infinity'"),
        ("2004", {"raw": "1e999999999"}, "cmi.score.raw", "too large a number: '1e999999999'"),
        (
            "1.2",
            {"raw": "150"},
            "cmi.score.raw",
            "150 is outside [-100, 100], so raw / 100 is no scaled score",
        ),
    ],
)
def test_out_of_range_is_rejected_not_clamped(
    version: str, parts: dict[str, str], element: str, message: str
) -> None:
    with pytest.raises(ScormDataError) as caught:
        score(version, **parts)
    assert caught.value.element == element
    assert caught.value.problem == message
