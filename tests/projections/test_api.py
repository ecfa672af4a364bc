"""The marketplace API over HTTP, on every backend: tokens, reads, badges, export, operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from projections.http.app import ROUTES
from projections.settings import SPEC_DIR
from projections.store.base import Member
from tests.projections.api_support import TOKEN_PATH, Market, basic
from tests.projections.conftest import COURSE, hris_actor, statement

P = "/marketplace/v1"
OPENAPI = json.loads((SPEC_DIR / "marketplace-openapi.json").read_text())


def schema(name: str) -> dict[str, Any]:
    """A component schema, resolvable on its own."""
    return {"$ref": f"#/components/schemas/{name}", "components": OPENAPI["components"]}


def test_every_marketplace_route_is_in_the_openapi_document() -> None:
    documented = {
        (method.upper(), path)
        for path, operations in OPENAPI["paths"].items()
        for method in operations
    }
    assert {(m, p) for m, p, _h in ROUTES} <= documented
    assert Path(SPEC_DIR / "marketplace-openapi.json").exists()


# --- OAuth ------------------------------------------------------------------------------------


async def test_token_endpoint(market: Market) -> None:
    client_id, secret = await market.client("read:profile", "read:activity:aggregate")
    by_form = await market.http.post(
        TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "read:profile",
        },
    )
    assert by_form.status == 200
    assert by_form.headers["Cache-Control"] == "no-store"
    body = await by_form.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read:profile"
    assert body["expires_in"] == 900

    async def error_of(data: dict, auth: str | None = None) -> tuple[int, str]:
        headers = {"Authorization": auth} if auth else {}
        response = await market.http.post(TOKEN_PATH, data=data, headers=headers)
        return response.status, (await response.json())["error"]

    good = basic(client_id, secret)
    assert await error_of({"grant_type": "password"}, good) == (400, "unsupported_grant_type")
    assert await error_of({}, good) == (400, "invalid_request")
    assert await error_of({"grant_type": "client_credentials", "scope": "admin"}, good) == (
        400,
        "invalid_scope",
    )
    assert await error_of({"grant_type": "client_credentials"}, basic(client_id, "wrong")) == (
        401,
        "invalid_client",
    )
    assert await error_of({"grant_type": "client_credentials"}) == (401, "invalid_client")


async def test_bearer_checks_and_error_envelope(market: Market) -> None:
    status, body, headers = await market.get(f"{P}/aggregates", "")
    assert status == 401 and body["error"]["code"] == "invalid_token"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "X-Request-Id" in headers
    status, body, headers = await market.get(f"{P}/aggregates", "Bearer nonsense")
    assert status == 401 and body["error"]["code"] == "invalid_token"
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    profile_only = await market.token("read:profile")
    status, body, headers = await market.get(f"{P}/aggregates", profile_only)
    assert status == 403 and body["error"]["code"] == "insufficient_scope"
    record_scopes = [
        "read:activity:aggregate",
        "read:enrollments",
        "read:completions",
        "read:scores",
        "read:badges",
    ]
    assert f'scope="{" ".join(record_scopes)}"' in headers["WWW-Authenticate"]
    assert body["error"]["details"]["required"] == record_scopes


async def test_a_request_without_a_token_gets_a_challenge_without_an_error_code(
    market: Market,
) -> None:
    """RFC 6750 §3.1: no error code when the request carries no bearer token at all."""
    paths = ["/aggregates", "/members/E1/learning", "/members/E1/summary", "/status", "/webhooks"]
    for path in paths:
        for auth in ("", "Basic dXNlcjpwYXNz", "Bearer ", "Token abc"):
            status, _, headers = await market.get(P + path, auth)
            assert status == 401, (path, auth)
            assert headers["WWW-Authenticate"] == 'Bearer realm="marketplace"', (path, auth)


async def test_a_revoked_token_is_refused(market: Market) -> None:
    client_id, secret = await market.client("read:activity:aggregate")
    issued = await market.http.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(client_id, secret)},
    )
    token = (await issued.json())["access_token"]
    assert (await market.get(f"{P}/aggregates", f"Bearer {token}"))[0] == 200
    revoked = await market.http.post(
        f"{P}/oauth/revoke",
        data={"token": token},
        headers={"Authorization": basic(client_id, secret)},
    )
    assert revoked.status == 200
    status, body, _ = await market.get(f"{P}/aggregates", f"Bearer {token}")
    assert status == 401 and "revoked" in body["error"]["message"]


async def test_rate_limit_is_429_with_retry_after(market: Market) -> None:
    auth = await market.token("read:activity:aggregate", rate_limit=2)
    assert (await market.get(f"{P}/aggregates", auth))[0] == 200
    assert (await market.get(f"{P}/aggregates", auth))[0] == 200
    status, body, headers = await market.get(f"{P}/aggregates", auth)
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    assert body["error"]["details"]["retry_after"] == int(headers["Retry-After"])


# --- reads ------------------------------------------------------------------------------------


async def seed(market: Market, members: int = 1, activities: int = 1) -> None:
    statements = [
        statement(
            "passed",
            actor=hris_actor(f"E{m}"),
            activity=f"{COURSE}/{a}",
            result={"score": {"raw": 8, "min": 0, "max": 10}},
        )
        for m in range(1, members + 1)
        for a in range(1, activities + 1)
    ]
    await market.post_statements(statements)
    await market.projection.worker.drain()


async def test_member_learning_and_summary(market: Market) -> None:
    await seed(market, members=2, activities=2)
    auth = await market.token("read:activity:aggregate", "read:profile")
    status, body, _ = await market.get(f"{P}/members/E1/learning", auth)
    assert status == 200 and body["meta"] == {"member_id": "E1", "count": 2}
    for item in body["data"]:
        jsonschema.validate(item, schema("Record"))
        assert item["member_id"] == "E1" and item["learning_completed"] is True
        assert item["score"]["value"] == 80.0 and item["updated_at"].endswith("Z")
    status, body, _ = await market.get(f"{P}/members/E1/summary", auth)
    assert status == 200
    jsonschema.validate(body["data"], schema("Summary"))
    assert body["data"]["activities_completed"] == 2 and body["data"]["average_best_score"] == 80
    status, body, _ = await market.get(f"{P}/members/E404/learning", auth)
    assert status == 404 and body["error"]["code"] == "member_not_found"
    await market.projection.stores.identities.put_members([Member("E5", ("e5@example.com",))])
    status, body, _ = await market.get(f"{P}/members/E5/learning", auth)
    assert status == 200 and body["data"] == []


async def test_aggregates_pages_with_an_opaque_cursor(market: Market) -> None:
    await seed(market, members=5, activities=1)
    auth = await market.token("read:activity:aggregate")
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        status, body, _ = await market.get(f"{P}/aggregates", auth, **params)
        assert status == 200
        seen += [item["member_id"] for item in body["data"]]
        if body["meta"]["next_cursor"] is None:
            break
        params = {"limit": "2", "cursor": body["meta"]["next_cursor"]}
    assert sorted(seen) == ["E1", "E2", "E3", "E4", "E5"]

    _, everything, _ = await market.get(f"{P}/aggregates", auth)
    middle = everything["data"][2]["updated_at"]
    _, later, _ = await market.get(f"{P}/aggregates", auth, updated_since=middle)
    assert [i["member_id"] for i in later["data"]] == [
        i["member_id"] for i in everything["data"][3:]
    ]
    for bad in ({"cursor": "!!"}, {"cursor": "eyJ4IjoxfQ"}, {"limit": "0"}, {"limit": "x"}):
        status, body, _ = await market.get(f"{P}/aggregates", auth, **bad)
        assert status == 400, bad
    # a Unicode digit was a 500; a flag that is not true/false was read as false
    for bad in ({"limit": "\u00b2"}, {"include_removed": "null"}, {"include_removed": "1"}):
        status, body, _ = await market.get(f"{P}/aggregates", auth, **bad)
        assert status == 400 and body["error"]["details"]["parameter"] in bad, bad
    status, _, _ = await market.get(f"{P}/aggregates", auth, include_removed="false")
    assert status == 200
    status, body, _ = await market.get(f"{P}/aggregates", auth, updated_since="yesterday")
    assert status == 400 and body["error"]["details"]["parameter"] == "updated_since"


async def test_removed_records_are_listed_only_when_asked(market: Market) -> None:
    [sid] = await market.post_statements([statement("completed", actor=hris_actor("E1"))])
    await market.projection.worker.drain()
    await market.post_statements(
        [
            {
                "actor": hris_actor("E1"),
                "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                "object": {"objectType": "StatementRef", "id": sid},
            }
        ]
    )
    await market.projection.worker.drain()
    auth = await market.token("read:activity:aggregate")
    _, body, _ = await market.get(f"{P}/aggregates", auth)
    assert body["data"] == []
    _, body, _ = await market.get(f"{P}/aggregates", auth, include_removed="true")
    assert [(i["member_id"], i["removed"]) for i in body["data"]] == [("E1", True)]


# --- badges -----------------------------------------------------------------------------------


async def test_badges_are_statements_recorded_once(market: Market) -> None:
    await market.projection.stores.identities.put_members([Member("E1", ("e1@example.com",))])
    auth = await market.token("write:badge", "read:activity:aggregate")
    award = {
        "badge_id": "py-basics",
        "activity_id": COURSE,
        "issued_at": "2024-03-01T10:00:00Z",
        "metadata": {"level": 1, "issuer.name": "Academy"},
    }
    url = f"{P}/members/E1/badges"

    async def post(body: Any, key: str | None = "award-1") -> tuple[int, Any]:
        headers = {"Authorization": auth}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await market.http.post(url, data=orjson.dumps(body), headers=headers)
        return response.status, await response.json()

    assert (await post(award, key=None))[0] == 400
    status, first = await post(award)
    assert status == 201 and first["data"]["badge_id"] == "py-basics"
    assert await post(award) == (201, first)  # a replay: the first response
    status, body = await post({**award, "badge_id": "other"})
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    assert (await post({"badge_id": "x"}, key="k2"))[0] == 400
    assert (await post({**award, "issued_at": "soon"}, key="k3"))[0] == 400

    stored = await market.backend.statements.get_statements([first["data"]["statement_id"]])
    assert len(stored) == 1  # through the one write path, once
    await market.projection.worker.drain()
    _, learning, _ = await market.get(f"{P}/members/E1/learning", auth)
    [record] = learning["data"]
    assert record["badge_awarded"][0]["badge_id"] == "py-basics"
    assert record["badge_awarded"][0]["metadata"] == award["metadata"]
    assert record["badge_awarded"][0]["issued_at"] == "2024-03-01T10:00:00.000000Z"
    reader = await market.token("read:activity:aggregate")
    response = await market.http.post(
        url, json=award, headers={"Authorization": reader, "Idempotency-Key": "k"}
    )
    assert response.status == 403


async def test_a_badge_issued_before_the_year_1000_is_recorded(market: Market) -> None:
    # the record form wrote the year 275 as "275-...", which the statement's timestamp check
    # refused (400 naming "timestamp", a field the client never sent)
    await market.projection.stores.identities.put_members([Member("E1", ("e1@example.com",))])
    auth = await market.token("write:badge")
    award = {"badge_id": "old", "activity_id": COURSE, "issued_at": "0275-05-20T17:23:41+07:06"}
    response = await market.http.post(
        f"{P}/members/E1/badges",
        json=award,
        headers={"Authorization": auth, "Idempotency-Key": "a"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["data"]["issued_at"] == "0275-05-20T10:17:41.000000Z"


async def test_a_badge_for_a_member_the_hris_does_not_know_is_a_404(market: Market) -> None:
    # it answered 201, stored a statement for the account "NOPE" and so created a member
    auth = await market.token("write:badge", "read:activity:aggregate", "read:profile")
    response = await market.http.post(
        f"{P}/members/NOPE/badges",
        json={"badge_id": "b", "activity_id": COURSE},
        headers={"Authorization": auth, "Idempotency-Key": "k"},
    )
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "member_not_found"
    assert body["error"]["details"] == {"member_id": "NOPE"}
    assert await market.backend.statements.count_awaiting_projection() == 0
    await market.projection.worker.drain()
    assert (await market.get(f"{P}/members/NOPE/summary", auth))[0] == 404
    # a bad body for an unknown member: still the 404, nothing kept under the key
    response = await market.http.post(
        f"{P}/members/NOPE/badges",
        data=b"not json",
        headers={"Authorization": auth, "Idempotency-Key": "k"},
    )
    assert response.status == 404


# --- export, status, metrics, webhooks --------------------------------------------------------


async def test_export_endpoint_streams_records(market: Market) -> None:
    await seed(market, members=3)
    auth = await market.token("read:activity:aggregate")
    response = await market.http.get(f"{P}/export", headers={"Authorization": auth})
    assert response.status == 200 and response.content_type == "application/x-ndjson"
    lines = (await response.read()).splitlines()
    assert sorted(orjson.loads(line)["member_id"] for line in lines) == ["E1", "E2", "E3"]
    response = await market.http.get(
        f"{P}/export", params={"format": "csv"}, headers={"Authorization": auth}
    )
    rows = (await response.text()).splitlines()
    assert rows[0].startswith("member_id,activity_id,email") and len(rows) == 4
    response = await market.http.get(
        f"{P}/export", params={"format": "xml"}, headers={"Authorization": auth}
    )
    assert response.status == 400


async def test_status_and_metrics_show_the_lag(market: Market) -> None:
    await market.post_statements([statement("attempted"), statement("completed")])
    admin = await market.token("admin")
    _, body, _ = await market.get(f"{P}/status", admin)
    assert body["data"]["statements_awaiting_projection"] == 2
    assert body["data"]["newest_applied_stored_at"] is None
    metrics = await (await market.http.get("/metrics", headers={"Authorization": admin})).text()
    assert "lrs_projection_statements_awaiting 2" in metrics
    await market.projection.worker.drain()
    _, body, _ = await market.get(f"{P}/status", admin)
    assert body["data"]["statements_awaiting_projection"] == 0
    assert body["data"]["newest_applied_stored_at"] == body["data"]["newest_stored_at"]
    assert body["data"]["lag_seconds"] == 0
    metrics = await (await market.http.get("/metrics", headers={"Authorization": admin})).text()
    assert "lrs_projection_statements_awaiting 0" in metrics
    assert "lrs_projection_last_applied_stored_timestamp_seconds 1" in metrics
    reader = await market.token("read:activity:aggregate")
    assert (await market.get(f"{P}/status", reader))[0] == 403


async def test_webhook_subscriptions(market: Market) -> None:
    admin = await market.token("admin")
    response = await market.http.post(
        f"{P}/webhooks",
        json={"url": "https://market.example.com/hooks", "event_types": ["badge.awarded"]},
        headers={"Authorization": admin},
    )
    assert response.status == 201
    created = (await response.json())["data"]
    assert created["secret"].startswith("whsec_")
    _, listed, _ = await market.get(f"{P}/webhooks", admin)
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    scoped = await market.http.post(
        f"{P}/webhooks",
        json={"url": "https://market.example.com/h2", "scopes": ["read:completions"]},
        headers={"Authorization": admin},
    )
    assert (await scoped.json())["data"]["scopes"] == ["read:completions"]
    await market.http.delete(
        f"{P}/webhooks/{(await scoped.json())['data']['id']}", headers={"Authorization": admin}
    )
    for bad in (
        {"url": "ftp://x"},
        {"url": "https://x.example", "event_types": ["nope"]},
        {},
        {"url": "https://x.example", "scopes": ["read:all"]},
        {"url": "https://x.example", "scopes": ["read:badges"], "event_types": ["score.changed"]},
    ):
        response = await market.http.post(
            f"{P}/webhooks", json=bad, headers={"Authorization": admin}
        )
        assert response.status == 400, bad
    deleted = await market.http.delete(
        f"{P}/webhooks/{created['id']}", headers={"Authorization": admin}
    )
    assert deleted.status == 204
    again = await market.http.delete(
        f"{P}/webhooks/{created['id']}", headers={"Authorization": admin}
    )
    assert again.status == 404
    _, dead, _ = await market.get(f"{P}/webhooks/dead-letters", admin)
    assert dead["data"] == []


async def test_dead_letters_allows_get_only(market: Market) -> None:
    # the subscription route matched dead-letters too: its 405 allowed DELETE as well
    admin = await market.token("admin")
    for method in ("OPTIONS", "DELETE", "PUT"):
        response = await market.http.request(
            method, f"{P}/webhooks/dead-letters", headers={"Authorization": admin}
        )
        assert response.status == 405, method
        assert response.headers["Allow"] == "GET"


async def test_redeliver_takes_a_boolean_all(market: Market) -> None:
    # {"all": {}} was read as "not all" and answered 200
    admin = await market.token("admin")
    url = f"{P}/webhooks/dead-letters/redeliver"
    for bad in ({"all": {}}, {"all": "true"}, {"all": 1}, {"all": None}):
        response = await market.http.post(url, json=bad, headers={"Authorization": admin})
        assert response.status == 400, bad
        assert (await response.json())["error"]["details"] == {"field": "all"}
    for good in ({"all": True}, {"all": False, "ids": []}, {}):
        response = await market.http.post(url, json=good, headers={"Authorization": admin})
        assert response.status == 200, good
