"""Finer scopes through HTTP: each record scope opens its own fields of records and summaries,
`read:activity:aggregate` stays the union, bulk operations need `admin`."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import orjson
import pytest

from projections.http.app import ROUTES
from projections.scopes import FieldView
from projections.settings import SPEC_DIR
from tests.projections.api_support import Market, basic
from tests.projections.conftest import COURSE, hris_actor, statement

P = "/marketplace/v1"
OPENAPI = json.loads((SPEC_DIR / "marketplace-openapi.json").read_text())

ALWAYS = {"member_id", "activity_id", "last_activity_at", "verbs", "provenance", "version"}
ALWAYS |= {"updated_at", "mapping_version"}
BY_SCOPE = {
    "read:enrollments": {"enrollment_state"},
    "read:completions": {"learning_completed", "completed_at", "success", "certificate_ref"},
    "read:scores": {"score"},
    "read:badges": {"badge_awarded"},
}
PROFILE_FIELDS = {"email", "employment_status"}
SUMMARY_BY_SCOPE = {
    "read:enrollments": {"activities_active", "activities_dropped"},
    "read:completions": {
        "activities_completed",
        "activities_passed",
        "certificates",
        "completed_activity_ids",
    },
    "read:scores": {"average_best_score"},
    "read:badges": {"badges"},
}
SUMMARY_ALWAYS = {"member_id", "emails", "employment_status", "activities", "last_activity_at"}


def schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": OPENAPI["components"]}


async def seed(market: Market) -> None:
    """E1 passed a course with a score and was awarded a badge in it."""
    await market.post_statements(
        [
            statement(
                "passed",
                actor=hris_actor("E1"),
                result={"score": {"raw": 8, "min": 0, "max": 10}, "completion": True},
            )
        ]
    )
    award = {"badge_id": "py", "activity_id": COURSE, "issued_at": "2024-03-01T10:00:00Z"}
    response = await market.http.post(
        f"{P}/members/E1/badges",
        data=orjson.dumps(award),
        headers={"Authorization": await market.token("write:badge"), "Idempotency-Key": "k1"},
    )
    assert response.status == 201, await response.text()
    await market.projection.worker.drain()


async def records(market: Market, auth: str) -> list[dict[str, Any]]:
    """E1's records through both record read paths (they must agree)."""
    status, learning, _ = await market.get(f"{P}/members/E1/learning", auth)
    assert status == 200, learning
    status, page, _ = await market.get(f"{P}/aggregates", auth)
    assert status == 200, page
    assert learning["data"] == page["data"]
    for item in learning["data"]:
        jsonschema.validate(item, schema("Record"))
    return learning["data"]


@pytest.mark.parametrize("scope", list(BY_SCOPE))
async def test_each_record_scope_sees_its_own_fields(market: Market, scope: str) -> None:
    await seed(market)
    [record] = await records(market, await market.token(scope))
    assert set(record) == ALWAYS | BY_SCOPE[scope]
    hidden = set().union(*(f for s, f in BY_SCOPE.items() if s != scope)) | PROFILE_FIELDS
    assert not set(record) & hidden
    assert not {k.split(".")[0] for k in record["provenance"]} & hidden  # nor their sources


async def test_completions_without_scores_gets_no_score_fields(market: Market) -> None:
    await seed(market)
    [record] = await records(market, await market.token("read:completions", "read:profile"))
    assert record["learning_completed"] is True and record["success"] == "passed"
    assert "score" not in record and "score" not in record["provenance"]
    assert record["email"] is None or isinstance(record["email"], str)  # read:profile: shown


async def test_the_union_and_admin_see_whole_records(market: Market) -> None:
    await seed(market)
    fine = await market.token(*BY_SCOPE, "read:profile")
    [union] = await records(market, await market.token("read:activity:aggregate"))
    [admin] = await records(market, await market.token("admin"))
    [everything] = await records(market, fine)
    assert union == admin == everything
    assert set(union) == ALWAYS | PROFILE_FIELDS | set().union(*BY_SCOPE.values())
    assert union["score"]["value"] == 80.0 and union["badge_awarded"][0]["badge_id"] == "py"


@pytest.mark.parametrize("scope", list(SUMMARY_BY_SCOPE))
async def test_the_summary_carries_the_roll_ups_of_the_record_scopes(
    market: Market, scope: str
) -> None:
    await seed(market)
    status, body, _ = await market.get(
        f"{P}/members/E1/summary", await market.token("read:profile", scope)
    )
    assert status == 200
    assert set(body["data"]) == SUMMARY_ALWAYS | SUMMARY_BY_SCOPE[scope]
    jsonschema.validate(body["data"], schema("Summary"))
    status, body, _ = await market.get(f"{P}/members/E1/summary", await market.token(scope))
    assert status == 403  # the summary itself is read:profile


async def test_profile_with_the_union_keeps_the_whole_summary(market: Market) -> None:
    await seed(market)
    auth = await market.token("read:profile", "read:activity:aggregate")
    _, body, _ = await market.get(f"{P}/members/E1/summary", auth)
    assert body["data"]["average_best_score"] == 80 and body["data"]["badges"]
    assert set(body["data"]) == SUMMARY_ALWAYS | set().union(*SUMMARY_BY_SCOPE.values())


async def test_bulk_and_operator_endpoints_need_admin(market: Market) -> None:
    fine = await market.token(*BY_SCOPE, "read:profile", "write:badge")
    for path in ("/export", "/status", "/webhooks", "/webhooks/dead-letters", "/admin/audit"):
        status, body, _ = await market.get(P + path, fine)
        assert status == 403 and body["error"]["code"] == "insufficient_scope", path
    for auth in (await market.token("admin"), await market.token("read:activity:aggregate")):
        assert (await market.http.get(f"{P}/export", headers={"Authorization": auth})).status == 200


def test_every_operation_documents_the_scopes_it_accepts() -> None:
    """The OpenAPI security requirement of each operation is what its handler enforces."""
    for method, path, handler in ROUTES:
        operation = OPENAPI["paths"][path][method.lower()]
        accepted = sorted(
            s for req in operation.get("security", []) for s in req.get("marketplaceOAuth", [])
        )
        enforced = sorted(getattr(handler, "scopes", ()))
        assert accepted == enforced, (method, path)


def test_field_views() -> None:
    assert FieldView.of(["admin"]).everything
    assert FieldView.of(["read:activity:aggregate"]).hidden_record_fields == frozenset()
    view = FieldView.of(["read:scores"])
    item = {
        "score": {"value": 1},
        "success": "passed",
        "provenance": {"score": ["s"], "success": ["t"]},
    }
    assert view.record(item) == {"score": {"value": 1}, "provenance": {"score": ["s"]}}
    assert FieldView.of(["read:scores"]).summary({"badges": [], "average_best_score": 1}) == {
        "average_best_score": 1
    }


async def test_a_client_may_ask_for_a_token_narrower_than_its_scopes(market: Market) -> None:
    await seed(market)
    client_id, secret = await market.client("read:activity:aggregate")
    response = await market.http.post(
        "/marketplace/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read:scores"},
        headers={"Authorization": basic(client_id, secret)},
    )
    assert response.status == 200
    token = (await response.json())["access_token"]
    assert (await response.json())["scope"] == "read:scores"
    [record] = await records(market, f"Bearer {token}")
    assert "score" in record and "learning_completed" not in record
    response = await market.http.post(
        "/marketplace/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read:profile"},
        headers={"Authorization": basic(client_id, secret)},
    )
    assert (await response.json())["error"] == "invalid_scope"  # not part of the union
