"""The identity admin API (scope `admin`): conflicts listed and resolved, held statements counted;
the same operations as `lrs identities`, on every backend."""

from __future__ import annotations

from typing import Any

import jsonschema

from projections.http import PREFIX
from projections.identity_rows import IdentityRow
from tests.projections.api_support import Market
from tests.projections.conftest import mbox_actor, statement
from tests.projections.test_api import schema

P = f"{PREFIX}/v1/identities"
LMS = "https://lms.example.com"


async def post(market: Market, path: str, auth: str, body: Any) -> tuple[int, Any]:
    response = await market.http.post(path, json=body, headers={"Authorization": auth})
    return response.status, await response.json()


async def import_rows(market: Market, *rows: tuple[str, str]) -> None:
    service = market.projection.identities
    parsed = [IdentityRow(n, m, {"email": e}) for n, (m, e) in enumerate(rows, start=2)]
    await service.apply(await service.plan(parsed, full=False, present=set(), max_share=1))


async def test_a_conflict_is_listed_and_resolved_over_http(market: Market) -> None:
    await market.post_statements(
        [
            statement("completed", actor=mbox_actor("shared@example.com")),
            statement("completed", actor={"account": {"homePage": LMS, "name": "anon-1"}}),
        ]
    )
    await market.projection.worker.drain()
    await import_rows(market, ("E1", "shared@example.com"), ("E2", "shared@example.com"))
    admin, reader = await market.token("admin"), await market.token("read:activity:aggregate")

    status, body, _ = await market.get(f"{P}/conflicts", reader)
    assert status == 403
    status, body, _ = await market.get(f"{P}/conflicts", admin)
    assert status == 200 and body["meta"] == {"count": 1}
    jsonschema.validate(body["data"][0], schema("IdentityConflict"))
    assert body["data"] == [
        {
            "key": "email:shared@example.com",
            "claimants": ["E1", "E2"],
            "address": "shared@example.com",
        }
    ]
    status, body, _ = await market.get(f"{P}/unmatched", admin)
    assert status == 200
    jsonschema.validate(body["data"], schema("UnmatchedIdentities"))
    assert body["data"]["by_kind"] == {"email": 1, "account": 1, "hris": 0, "other": 0}
    assert body["data"]["accounts_by_home_page"] == [
        {"home_page": LMS, "accounts": 1, "statements": 1}
    ]

    status, body = await post(market, f"{P}/conflicts/resolve", admin, {"address": "x"})
    assert status == 400 and body["error"]["code"] == "bad_request"
    wrong = {"address": "shared@example.com", "member_id": "E9"}
    status, body = await post(market, f"{P}/conflicts/resolve", admin, wrong)
    assert status == 409 and body["error"]["code"] == "not_a_conflict"
    right = {"address": "Shared@Example.com", "member_id": "E2"}
    status, body = await post(market, f"{P}/conflicts/resolve", reader, right)
    assert status == 403
    status, body = await post(market, f"{P}/conflicts/resolve", admin, right)
    assert status == 200
    assert body["data"] == {
        "key": "email:shared@example.com",
        "member_id": "E2",
        "dropped": ["E1"],
        "reprojected": 1,
    }
    status, body, _ = await market.get(f"{PREFIX}/v1/members/E2/learning", admin)
    assert status == 200 and len(body["data"]) == 1
    _, body, _ = await market.get(f"{P}/conflicts", admin)
    assert body["data"] == []
