"""Fuzzing POST /hris/v1/events with correctly signed bodies: never a 5xx, and what is
answered matches the OpenAPI document (tests/conftest.py sets the number of examples)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.projections.api_support import Market
from tests.projections.hris_support import EVENTS, conforms, new_source, signed

SHARED_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)
FIELD = st.sampled_from(
    [
        "employee_id",
        "email",
        "secondary_emails",
        "name",
        "department",
        "manager",
        "employment_status",
        "worker_type",
        "lms_accounts",
        "effective_at",
        "other",
    ]
)
TYPES = st.sampled_from(["hire", "change", "terminate", "rehire", "erase", "fire", ""])
WHEN = st.sampled_from(["2026-03-01", "2026-03-01T09:00:00+02:00", "yesterday", "", "9999-12-31"])


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Events near the valid shape: right keys, any values."""
    member = draw(st.dictionaries(FIELD, JSON | TEXT, max_size=6))
    if draw(st.booleans()):
        member["employee_id"] = draw(st.sampled_from(["F1", "F2", 7]))
    return {
        "event_id": draw(TEXT | JSON),
        "type": draw(TYPES),
        "effective_at": draw(WHEN | JSON),
        "member": draw(st.just(member) | JSON),
    }


def dumps(value: Any) -> bytes:
    """The stdlib's JSON: big integers as digits, NaN as `NaN` (which is not JSON)."""
    return json.dumps(value).encode()


BODIES = (
    events().map(dumps)
    | st.lists(events(), max_size=3).map(dumps)
    | JSON.map(dumps)
    | st.binary(max_size=60)
)


@pytest.fixture
async def secret(market: Market) -> str:
    return await new_source(market, "fuzz")


@SHARED_APP
@given(body=BODIES)
async def test_any_signed_body_is_never_a_server_error(
    market: Market, secret: str, body: bytes
) -> None:
    response = await market.http.post(EVENTS, data=body, headers=signed("fuzz", secret, body))
    assert response.status < 500, await response.text()
    conforms(response.status, await response.json())
