"""Scalar conversions: SCORM time spans, durations, timestamps, localized strings."""

from __future__ import annotations

import pytest

from scorm_adapter import ScormDataError
from scorm_adapter.values import (
    check_iso_duration,
    check_timestamp,
    interval_parts,
    scorm_time_to_timestamp,
    split_language,
    timespan_to_iso,
)


@pytest.mark.parametrize(
    ("timespan", "iso"),
    [
        ("00:00:00", "PT0S"),
        ("00:00:00.00", "PT0S"),
        ("00:00:01.5", "PT1.5S"),
        ("00:00:01.05", "PT1.05S"),
        ("00:01:00", "PT1M"),
        ("10:00:00", "PT10H"),
        ("0100:00:30", "PT100H30S"),
        ("123:04:05.60", "PT123H4M5.6S"),
    ],
)
def test_timespan_to_iso(timespan: str, iso: str) -> None:
    assert timespan_to_iso("e", timespan) == iso


@pytest.mark.parametrize(
    "bad", ["0:00:00", "00000:00:00", "00:61:00", "00:00:60", "00:00", "1h", ""]
)
def test_timespan_invalid(bad: str) -> None:
    with pytest.raises(ScormDataError, match=r"^e: not a SCORM 1\.2 time span"):
        timespan_to_iso("e", bad)


@pytest.mark.parametrize("good", ["PT1H", "P1D", "P1Y", "PT0.25S", "P0Y0M0DT0H0M0S", "PT1000H"])
def test_iso_duration_valid(good: str) -> None:
    assert check_iso_duration("e", good) == good


@pytest.mark.parametrize("bad", ["P", "PT", "P1", "PT1", "1H", "P1W", "PT1H30", "-PT1H"])
def test_iso_duration_invalid(bad: str) -> None:
    with pytest.raises(ScormDataError, match=r"^e: not an ISO 8601 duration"):
        check_iso_duration("e", bad)


def test_interval_parts() -> None:
    assert interval_parts("P1DT2H3M4.5S") == (26, 3, "4.5")
    assert interval_parts("PT5M") == (0, 5, "0")
    assert interval_parts("P1M") is None
    assert interval_parts("nope") is None


def test_scorm_time_precision_and_zones() -> None:
    assert scorm_time_to_timestamp("e", "2024-02-29T23:59:59.99Z") == "2024-02-29T23:59:59.99Z"
    assert scorm_time_to_timestamp("e", "2024-02-29T23+0130") == "2024-02-29T23:00:00+01:30"
    assert scorm_time_to_timestamp("e", "2024-02-29T23:59") is None


@pytest.mark.parametrize(
    "good", ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123+05:30", "2024-01-01T12:00:00-07:00"]
)
def test_check_timestamp(good: str) -> None:
    assert check_timestamp("timestamp", good) == good


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("2024-01-01", "no time part"),
        ("2024-01-01T00:00:00", "needs a time zone"),
        ("2024-01-01T00:00:00-00:00", "needs a time zone"),
        ("yesterday", "not an ISO 8601 timestamp"),
    ],
)
def test_check_timestamp_invalid(bad: str, problem: str) -> None:
    with pytest.raises(ScormDataError, match=problem):
        check_timestamp("timestamp", bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{lang=en-US}Hello", ("en-US", "Hello")),
        ("{lang=fr}", ("fr", "")),
        ("Hello", (None, "Hello")),
        ("{case_matters=true}x", (None, "{case_matters=true}x")),
        ("{lang=not a tag}x", (None, "{lang=not a tag}x")),
    ],
)
def test_split_language(text: str, expected: tuple[str | None, str]) -> None:
    assert split_language(text) == expected
