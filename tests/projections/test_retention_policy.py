"""The mapping's retention_policy cells: named policies, ISO 8601 periods with a legal basis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections.mapping import parse_mapping
from projections.retention_policy import TimedPolicy, parse_period, parse_policy
from projections.settings import SPEC_DIR
from projections.transforms import MappingError

SHIPPED = (SPEC_DIR / "marketplace-mapping.csv").read_text()


def us(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000


def test_named_policies_and_periods_with_a_basis() -> None:
    assert parse_policy("until_voided") == "until_voided"
    policy = parse_policy(" P5Y ;  contract ")
    assert isinstance(policy, TimedPolicy)
    assert (policy.period.months, policy.basis, policy.text) == (60, "contract", "P5Y; contract")
    mixed = parse_period("P1Y2M3W4DT5H6M7S")
    assert mixed.months == 14
    assert mixed.fixed.total_seconds() == 25 * 86400 + 5 * 3600 + 6 * 60 + 7


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ("forever", "neither one of"),
        ("P5Y", "neither one of"),
        ("P5Y; because", "legal basis 'because'"),
        ("5 years; contract", "neither one of"),
        ("P; contract", "not an ISO 8601 duration"),
        ("PT; contract", "not an ISO 8601 duration"),
        ("P0D; contract", "is zero"),
        ("P1.5Y; contract", "not an ISO 8601 duration"),
    ],
)
def test_bad_policies_say_what_is_wrong(cell: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_policy(cell)


def test_cutoffs_count_years_and_months_on_the_calendar() -> None:
    assert parse_period("P1M").cutoff_us(us("2024-03-31T12:00:00")) == us("2024-02-29T12:00:00")
    assert parse_period("P5Y").cutoff_us(us("2024-02-29T00:00:00")) == us("2019-02-28T00:00:00")
    assert parse_period("P1DT1H").cutoff_us(us("2024-03-02T01:00:00")) == us("2024-03-01T00:00:00")
    assert parse_period("P9999Y").cutoff_us(us("2024-01-01T00:00:00")) < 0  # nothing that old


def mapping_with(old: str, new: str) -> str:
    assert old in SHIPPED
    return SHIPPED.replace(old, new)


def test_a_mapping_takes_periods_on_learning_fields() -> None:
    text = mapping_with(
        'normalize_score_0_100,no,"0-100; the original raw/min/max/scaled are kept beside it",'
        "one,until_voided",
        "normalize_score_0_100,no,,one,P2Y; legitimate_interests",
    )
    [row] = [r for r in parse_mapping(text).rows if r.target_field == "score"]
    assert row.retention is not None and row.retention.text == "P2Y; legitimate_interests"
    assert row.retention_policy == "P2Y; legitimate_interests"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "hris,employee_id,member_id,string,,yes,\"the HRIS employee id, the marketplace's "
            'member key",one,member_lifetime',
            "hris,employee_id,member_id,string,,yes,,one,P5Y; contract",
            "retention period is for xapi learning fields",
        ),
        (
            "one,member_lifetime\nxapi,actor.mbox",
            "one,P1Y; consent\nxapi,actor.mbox",
            "retention period is for xapi learning fields",
        ),
        (
            '"used when the verb says nothing about completion; false contributes nothing",'
            "one,until_voided",
            "no,one,P1Y; contract",
            "rows filling learning_completed disagree",
        ),
        (
            '"the earliest completing statement\'s time",one,until_voided',
            "x,one,P1Y; contracts",
            "legal basis 'contracts'",
        ),
    ],
)
def test_bad_periods_in_a_mapping_are_refused(old: str, new: str, says: str) -> None:
    with pytest.raises(MappingError, match=says):
        parse_mapping(mapping_with(old, new))
