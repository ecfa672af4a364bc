"""GET /marketplace/v1/admin/audit over HTTP, on every backend: the admin scope, paging,
filters, the OpenAPI shape, and bad or random parameters answered 4xx, never 5xx."""

from __future__ import annotations

import json
from datetime import UTC, timedelta, timezone
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.settings import SPEC_DIR
from tests.projections.api_support import Market

AUDIT = "/marketplace/v1/admin/audit"
OPENAPI = json.loads((SPEC_DIR / "marketplace-openapi.json").read_text())
ADMIN_TOKENS: dict[int, str] = {}
SHARED_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def page_schema() -> dict[str, Any]:
    operation = OPENAPI["paths"][AUDIT]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": OPENAPI["components"]}


async def test_the_admin_reads_the_audit_log_newest_first(market: Market) -> None:
    admin = await market.token("admin")
    status, body, headers = await market.get(AUDIT, admin)
    assert status == 200, body
    jsonschema.validate(body, page_schema())
    types = [e["type"] for e in body["data"]]
    assert types[:2] == ["token.issued", "key.rotated"] and types[-1] == "client.created"
    assert [e["seq"] for e in body["data"]] == list(range(len(types), 0, -1))
    assert all(e["at"].endswith("Z") for e in body["data"])
    # every time in an entry is ISO 8601, the token's expiry included (was epoch seconds)
    expires = body["data"][0]["details"]["expires"]
    assert isinstance(expires, str) and expires.endswith("Z") and "T" in expires
    assert body["meta"] == {"count": len(types), "next_cursor": None}
    assert headers["Cache-Control"] == "no-store"


async def test_the_admin_scope_is_enforced(market: Market) -> None:
    reader = await market.token("read:activity:aggregate", "read:profile", "write:badge")
    status, body, _ = await market.get(AUDIT, reader)
    assert status == 403 and body["error"]["code"] == "insufficient_scope"
    status, body, headers = await market.get(AUDIT, "")
    assert status == 401 and "Bearer" in headers["WWW-Authenticate"]


async def test_pages_and_filters(market: Market) -> None:
    admin = await market.token("admin")
    for n in range(5):
        await market.projection.audit.append("identity.merged", actor="ops", subject=f"E{n}")
    _, everything, _ = await market.get(AUDIT, admin, limit="1000")
    seen: list[dict[str, Any]] = []
    params = {"limit": "3"}
    while True:
        status, body, _ = await market.get(AUDIT, admin, **params)
        assert status == 200 and len(body["data"]) <= 3
        seen += body["data"]
        if body["meta"]["next_cursor"] is None:
            break
        params["cursor"] = body["meta"]["next_cursor"]
    assert seen == everything["data"]
    _, merged, _ = await market.get(AUDIT, admin, type="identity.merged", limit="2")
    assert [e["subject"] for e in merged["data"]] == ["E4", "E3"]
    _, rest, _ = await market.get(
        AUDIT, admin, type="identity.merged", cursor=merged["meta"]["next_cursor"]
    )
    assert [e["subject"] for e in rest["data"]] == ["E2", "E1", "E0"]
    newest = everything["data"][0]["at"]
    _, since, _ = await market.get(AUDIT, admin, since=newest)
    assert since["data"] and all(e["at"] >= newest for e in since["data"])
    _, none, _ = await market.get(AUDIT, admin, since="2999-01-01T00:00:00Z")
    assert none["data"] == [] and none["meta"]["next_cursor"] is None


async def test_bad_parameters_are_400_naming_them(market: Market) -> None:
    admin = await market.token("admin")
    for name, value in [
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "ten"),
        ("limit", "-1"),
        ("since", "yesterday"),
        ("since", ""),
        ("cursor", "abc"),
        ("cursor", "0"),
        ("cursor", "99999999999999999999999"),
        ("type", ""),
        ("type", "x" * 201),
    ]:
        status, body, _ = await market.get(AUDIT, admin, **{name: value})
        assert status == 400, (name, value, body)
        assert body["error"]["details"]["parameter"] == name, (name, value, body)


ZONES = [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12, minutes=30))]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
PARAMETER = st.one_of(
    TEXT,
    st.integers(-(2**70), 2**70).map(str),
    st.datetimes(timezones=st.sampled_from(ZONES)).map(lambda d: d.isoformat()),
)


@SHARED_APP
@given(
    params=st.dictionaries(
        st.sampled_from(["since", "type", "limit", "cursor", "other"]), PARAMETER, max_size=4
    )
)
async def test_any_parameters_are_answered_never_a_server_error(
    market: Market, params: dict[str, str]
) -> None:
    key = id(market.http)  # one admin client per app, not one per example
    admin = ADMIN_TOKENS.get(key) or ADMIN_TOKENS.setdefault(key, await market.token("admin"))
    status, body, _ = await market.get(AUDIT, admin, **params)
    assert status in (200, 400), (params, status, body)
    if status == 200:
        jsonschema.validate(body, page_schema())
    else:
        assert body["error"]["code"] in ("bad_request", "invalid_cursor")
        assert body["error"]["details"]["parameter"] in params
