"""Every named transform, and the verb table they consult."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.settings import SPEC_DIR
from projections.transforms import (
    TRANSFORMS,
    MappingError,
    TransformContext,
    VerbTable,
    format_datetime,
    load_verb_table,
    normalize_email,
)

VERBS = load_verb_table(SPEC_DIR / "marketplace-verbs.csv")
ADL = "http://adlnet.gov/expapi/verbs/"


def run(name: str, value: object, **ctx: object) -> object:
    statement = ctx.pop("statement", {})
    context = TransformContext(statement=statement, verbs=VERBS, **ctx)  # type: ignore[arg-type]
    return TRANSFORMS[name].func(value, context)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mailto:Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("  MAILTO:ada@example.com ", "ada@example.com"),
        ("ada@example.com", "ada@example.com"),
        ("ada+tag@example.com", "ada+tag@example.com"),  # tags are strip_email_alias's job
        ("no-at-sign", None),
        ("a@b@c", None),
        ("@example.com", None),
        (42, None),
    ],
)
def test_lowercase_email(value: object, expected: object) -> None:
    assert run("lowercase_email", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ada+lms@example.com", "ada@example.com"),
        ("ada+a+b@example.com", "ada@example.com"),
        ("ada@googlemail.com", "ada@gmail.com"),
        ("ada+x@googlemail.com", "ada@gmail.com"),
        ("ada@example.com", "ada@example.com"),
        ("+only@example.com", None),
        ("nothing", None),
    ],
)
def test_strip_email_alias(value: object, expected: object) -> None:
    assert run("strip_email_alias", value, domain_aliases={"googlemail.com": "gmail.com"}) == (
        expected
    )


def test_normalize_email_is_both_in_order() -> None:
    assert normalize_email("mailto:Ada+X@GoogleMail.com", {"googlemail.com": "gmail.com"}) == (
        "ada@gmail.com"
    )


@pytest.mark.parametrize(
    ("score", "value"),
    [
        ({"scaled": 0.85}, 85.0),
        ({"scaled": 0.5, "raw": 7, "min": 0, "max": 10}, 50.0),  # scaled wins
        ({"raw": 17, "min": 0, "max": 20}, 85.0),
        ({"raw": 3, "min": 1, "max": 5}, 50.0),
        ({"raw": 72}, 72.0),  # a bare raw within 0-100 is a percentage
        ({"scaled": -0.5}, 0.0),  # clamped
        ({"raw": 1, "min": 0, "max": 3}, 33.3333),
        ({"raw": 250}, None),  # no scale and not a percentage
        ({"raw": 5, "min": 5, "max": 5}, None),
        ({}, None),
        ("80", None),
        ({"raw": True}, None),
        # min absent: taken as 0 when 0 <= raw <= max and max > 0 (docs/marketplace.md)
        ({"raw": 8, "max": 10}, 80.0),
        ({"raw": 0, "max": 4}, 0.0),
        ({"raw": 250, "max": 500}, 50.0),
        ({"raw": 12, "max": 10}, None),  # raw above max
        ({"raw": -2, "max": 10}, None),  # negative without min
        ({"raw": 0, "max": 0}, None),  # max 0
        ({"raw": -1, "max": -0.5}, None),
        ({"raw": 5, "min": 0}, None),  # min without max: no scale
        ({"scaled": 1.5}, None),  # scaled outside -1..1
        ({"scaled": -1.01}, None),
    ],
)
def test_normalize_score_0_100_keeps_the_original_scale(score: object, value: object) -> None:
    got = run("normalize_score_0_100", score)
    if value is None:
        assert got is None
    else:
        assert got == {"value": value, **score}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00.000000Z"),
        ("2024-03-01T12:00:00.5+02:00", "2024-03-01T10:00:00.500000Z"),
        ("2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00.123456Z"),
        ("2024-03-01T10:00:00", "2024-03-01T10:00:00.000000Z"),  # naive: taken as UTC
        ("yesterday", None),
        (1700000000, None),
    ],
)
def test_parse_iso8601(value: object, expected: object) -> None:
    assert run("parse_iso8601", value) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://certs.example.com/c/1.pdf", True),
        ("http://certs.example.com", True),
        ("ftp://certs.example.com/c", False),
        ("https:///nohost", False),
        ("https://certs.example.com/a b", False),
        ("javascript:alert(1)", False),
        (None, False),
    ],
)
def test_validate_url(value: object, ok: bool) -> None:
    assert run("validate_url", value) == (value if ok else None)


@pytest.mark.parametrize(
    ("verb", "completes", "success", "state"),
    [
        ("completed", True, None, "completed"),
        ("passed", True, "passed", "completed"),
        ("mastered", True, "passed", "completed"),
        ("failed", None, "failed", None),
        ("attempted", None, None, "active"),
        ("experienced", None, None, None),  # not in the table: means nothing here
    ],
)
def test_verb_transforms(verb: str, completes: object, success: object, state: object) -> None:
    assert run("bool_from_verb", ADL + verb) == completes
    assert run("success_from_verb", ADL + verb) == success
    assert run("enrollment_from_verb", ADL + verb) == state


def test_abandoned_is_dropped() -> None:
    assert run("enrollment_from_verb", "https://w3id.org/xapi/adl/verbs/abandoned") == "dropped"


def test_passed_failed() -> None:
    assert run("passed_failed", True) == "passed"
    assert run("passed_failed", False) == "failed"
    assert run("passed_failed", "true") is None


def test_if_badge_verb_and_if_activity_filter_by_the_statement() -> None:
    earned = {"verb": {"id": "http://specification.openbadges.org/xapi/verbs/earned"}}
    assert run("if_badge_verb", "badge-1", statement=earned) == "badge-1"
    assert run("if_badge_verb", "badge-1", statement={"verb": {"id": ADL + "passed"}}) is None
    assert run("if_activity", "x", statement={"object": {"id": "x"}}) == "x"
    assert run("if_activity", "x", statement={"object": {"objectType": "Activity"}}) == "x"
    ref = {"object": {"objectType": "StatementRef", "id": "x"}}
    assert run("if_activity", "x", statement=ref) is None


def test_hris_account() -> None:
    account = {"homePage": "https://hris.example.com/", "name": "E42"}
    assert run("hris_account", account, hris_home_page="https://hris.example.com") == "E42"
    assert run("hris_account", account, hris_home_page="https://other.example.com") is None
    assert run("hris_account", account) is None  # no HRIS configured
    assert run("hris_account", {"homePage": "https://hris.example.com", "name": ""}) is None


def test_every_transform_declares_its_output() -> None:
    assert set(TRANSFORMS) >= {
        "lowercase_email",
        "strip_email_alias",
        "normalize_score_0_100",
        "parse_iso8601",
        "bool_from_verb",
    }
    for transform in TRANSFORMS.values():
        assert transform.output in (
            None,
            "string",
            "email",
            "score",
            "datetime",
            "url",
            "boolean",
            "enum",
        )
        assert transform.output is not None or transform.name.startswith("if_")
        assert transform.output != "string" or transform.name == "hris_account"


def test_the_verb_table_refuses_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "verbs.csv"
    header = "verb_id,display,completes,success,enrollment_state,awards_badge,notes\n"
    bad.write_text(header + "http://v/x,x,maybe,,,no,\n")
    with pytest.raises(MappingError, match=r"row 2.*yes/no"):
        load_verb_table(bad)
    bad.write_text(header + "http://v/x,x,no,won,,no,\n")
    with pytest.raises(MappingError, match=r"row 2.*passed, failed"):
        load_verb_table(bad)
    bad.write_text(header + "http://v/x,x,no,,paused,no,\n")
    with pytest.raises(MappingError, match=r"row 2.*active"):
        load_verb_table(bad)
    bad.write_text(header + "http://v/x,x,no,,,no,\nhttp://v/x,x,no,,,no,\n")
    with pytest.raises(MappingError, match=r"row 3.*twice"):
        load_verb_table(bad)
    assert VerbTable().rule(ADL + "passed") is None


def test_record_datetimes_have_four_digit_years() -> None:
    # strftime("%Y") wrote the year 275 as "275"
    assert format_datetime(0) == "1970-01-01T00:00:00.000000Z"
    assert format_datetime(-53476958179000000) == "0275-05-20T17:23:41.000000Z"
    assert format_datetime(1_733_000_000_123_456) == "2024-11-30T20:53:20.123456Z"
