"""The pure helpers of the delivery-mix benchmark (tests/perf/delivery_mix.py, run by hand):
its statement mix must hold the kinds the evidence run claims, and its readings of /metrics
must find the samples they name."""

from __future__ import annotations

import random
from collections import Counter

from projections.facts import Projector
from projections.settings import ProjectionSettings
from tests.perf.delivery_mix import (
    hris_csv,
    labelled,
    latency_p95_bound,
    percent,
    statement_mix,
)

METRICS = """\
# TYPE lrs_webhook_delivery_attempts_total counter
lrs_webhook_delivery_attempts_total{outcome="success",subscription="sub_a"} 12.0
lrs_webhook_delivery_attempts_total{outcome="failure",subscription="sub_a"} 3.0
lrs_webhook_delivery_attempts_total{outcome="failure",subscription="sub_b"} 7.0
lrs_webhook_delivery_latency_seconds_bucket{le="0.1",subscription="sub_a"} 50.0
lrs_webhook_delivery_latency_seconds_bucket{le="1.0",subscription="sub_a"} 94.0
lrs_webhook_delivery_latency_seconds_bucket{le="2.5",subscription="sub_a"} 99.0
lrs_webhook_delivery_latency_seconds_bucket{le="+Inf",subscription="sub_a"} 100.0
lrs_projection_statements_awaiting 4.0
"""


def test_the_mix_is_seeded_and_voids_only_earlier_statements() -> None:
    first = statement_mix(random.Random(1), 500, 50)
    assert first == statement_mix(random.Random(1), 500, 50)
    assert first != statement_mix(random.Random(2), 500, 50)
    seen: set[str] = set()
    voids = 0
    for statement in first:
        if statement["verb"]["id"].endswith("/voided"):
            assert statement["object"]["id"] in seen
            voids += 1
        seen.add(statement["id"])
    assert voids > 0


def test_the_mix_feeds_several_quality_reasons() -> None:
    projector = Projector.from_settings(ProjectionSettings())
    reasons: Counter[str] = Counter()
    contributions = 0
    for statement in statement_mix(random.Random(1), 2000, 200):
        # what the LRS adds on storing
        statement |= {"timestamp": "2026-01-02T00:00:00Z", "stored": "2026-01-02T00:00:00Z"}
        assessed = projector.assess(statement, 1)
        contributions += assessed.contribution is not None
        reasons.update(issue.reason for issue in assessed.issues)
    assert {"score_without_scale", "out_of_scope_with_result", "invalid_certificate_url"} <= set(
        reasons
    )
    assert contributions > 1500  # most statements make a record
    assert hris_csv(3).splitlines() == [
        "employee_id,email",
        "E00000,m0@corp.example.com",
        "E00001,m1@corp.example.com",
        "E00002,m2@corp.example.com",
    ]


def test_metric_samples_are_read_by_name_and_labels() -> None:
    name = "lrs_webhook_delivery_attempts_total"
    assert labelled(METRICS, name, subscription="sub_a", outcome="failure") == 3.0
    assert labelled(METRICS, name, subscription="sub_b", outcome="failure") == 7.0
    assert labelled(METRICS, name, subscription="sub_b", outcome="success") == 0.0
    assert labelled(METRICS, "lrs_projection_statements_awaiting") == 4.0


def test_the_p95_bucket_and_percentages() -> None:
    assert latency_p95_bound(METRICS, "sub_a") == 2.5
    assert latency_p95_bound(METRICS, "sub_b") is None
    assert percent(1, 3) == 33.33
    assert percent(0, 0) == 100.0
