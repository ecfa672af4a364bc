"""Every operation of the marketplace API answers as spec/marketplace-openapi.json says, in
success and error cases, on every backend; the document's examples are valid, every operation
has them, and it states its versioning and deprecation policy."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from projections.http import PREFIX
from projections.identity_rows import IdentityRow
from projections.oauth_authorize import check_request
from tests.projections.api_support import TOKEN_PATH, Market, basic
from tests.projections.conftest import COURSE, hris_actor, mbox_actor, statement, voiding
from tests.projections.openapi_check import (
    METHODS,
    OPENAPI,
    CheckedClient,
    operations,
    validate,
)

V1 = f"{PREFIX}/v1"


async def import_rows(market: Market, *rows: tuple[str, str]) -> None:
    service = market.projection.identities
    parsed = [IdentityRow(n, m, {"email": e}) for n, (m, e) in enumerate(rows, start=2)]
    await service.apply(await service.plan(parsed, full=False, present=set(), max_share=1))


async def seed(market: Market) -> str:
    """Records of E1 and E2, one of E1's removed (voided); an address two members claim.
    The time before the removal."""
    ids = await market.post_statements(
        [
            statement("passed", actor=hris_actor("E1"), result={"score": {"scaled": 0.8}}),
            statement("completed", actor=hris_actor("E1"), activity=f"{COURSE}/2"),
            statement("completed", actor=hris_actor("E2")),
            statement("attempted", actor=mbox_actor("shared@example.com")),
        ]
    )
    await market.projection.worker.drain()
    records = await market.projection.stores.aggregates.page_records(limit=100)
    before = max(r.updated_us for r in records.records)
    await market.post_statements([voiding(ids[1])])
    await market.projection.worker.drain()
    await import_rows(market, ("E1", "e1@example.com"), ("E2", "e2@example.com"))
    await import_rows(market, ("E5", "shared@example.com"), ("E6", "shared@example.com"))
    from projections.transforms import format_datetime

    return format_datetime(before)


async def check_tokens(api: CheckedClient, market: Market) -> None:
    client_id, secret = await market.client("read:activity:aggregate")
    form = {"grant_type": "client_credentials"}
    status, body, _ = await api.call("POST", TOKEN_PATH, basic(client_id, secret), data=form)
    assert status == 200
    bad = {"grant_type": "password"}
    assert (await api.call("POST", TOKEN_PATH, basic(client_id, secret), data=bad))[0] == 400
    assert (await api.call("POST", TOKEN_PATH, basic(client_id, "x"), data=form))[0] == 401
    revoke = f"{V1}/oauth/revoke"
    token = {"token": body["access_token"]}
    assert (await api.call("POST", revoke, basic(client_id, secret), data=token))[0] == 200
    assert (await api.call("POST", revoke, basic(client_id, secret), data={}))[0] == 400
    assert (await api.call("POST", revoke, basic(client_id, "x"), data=token))[0] == 401


async def check_delegated(api: CheckedClient, market: Market) -> None:
    """An app's authorization request, code exchange, refresh and introspection."""
    uri = "https://talent.example/cb"
    new = await market.projection.apps.create("spec", [uri], ["read:scores"], public=False)
    app_id, secret = new.app.client_id, new.secret or ""
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": app_id,
        "redirect_uri": uri,
        "scope": "read:scores",
        "state": "s",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    authorize = f"{V1}/oauth/authorize"
    sent = await api.call("GET", authorize, params=query, allow_redirects=False)
    assert sent[0] == 302
    bad = {**query, "redirect_uri": "https://evil.example/cb"}
    refused = await api.call("GET", authorize, params=bad, allow_redirects=False)
    assert refused[0] == 400 and "Location" not in refused[2].headers
    request = check_request(new.app, query)
    code = await market.projection.grants.approve(request, ("read:scores",), "ada")
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": uri,
        "code_verifier": verifier,
    }
    auth = basic(app_id, secret)
    status, tokens, _ = await api.call("POST", TOKEN_PATH, auth, data=exchange)
    assert status == 200 and tokens["refresh_token"]
    assert (await api.call("POST", TOKEN_PATH, auth, data=exchange))[0] == 400  # replayed
    introspect = f"{V1}/oauth/introspect"
    status, found, _ = await api.call("POST", introspect, auth, data={"token": "x"})
    assert status == 200 and found == {"active": False}
    assert (await api.call("POST", introspect, auth, data={}))[0] == 400
    assert (await api.call("POST", introspect, basic(app_id, "x"), data={"token": "x"}))[0] == 401


async def check_records(api: CheckedClient, reader: str, since: str) -> None:
    learning, summary = (
        f"{V1}/members/{{member_id}}/learning",
        f"{V1}/members/{{member_id}}/summary",
    )
    assert (await api.call("GET", learning, reader, path={"member_id": "E1"}))[0] == 200
    assert (await api.call("GET", learning, reader, path={"member_id": "E404"}))[0] == 404
    assert (await api.call("GET", summary, reader, path={"member_id": "E1"}))[0] == 200
    assert (await api.call("GET", summary, reader, path={"member_id": "E404"}))[0] == 404
    aggregates, export = f"{V1}/aggregates", f"{V1}/export"
    params = {"include_removed": "true", "limit": "2"}
    items: list[dict[str, Any]] = []
    while True:
        status, body, _ = await api.call("GET", aggregates, reader, params=params)
        items += body["data"]
        if not body["meta"]["next_cursor"]:
            break
        params = {"cursor": body["meta"]["next_cursor"]}
    assert len(items) > 2 and any(item.get("removed") for item in items)  # a tombstone
    assert (await api.call("GET", aggregates, reader, params={"limit": "0"}))[0] == 400
    for fmt in ("ndjson", "csv"):
        params = {"format": fmt, "since": since}
        status, raw, _ = await api.call("GET", export, reader, params=params)
        assert status == 200 and b"true" in raw  # a removal
    digest = {"Want-Repr-Digest": "sha-256=1"}
    status, _raw, response = await api.call("GET", export, reader, headers=digest)
    assert status == 200 and response.headers["Repr-Digest"].startswith("sha-256=:")
    assert (await api.call("GET", export, reader, params={"format": "xml"}))[0] == 400


async def check_badges(api: CheckedClient, market: Market) -> None:
    writer = await market.token("write:badge")
    url = f"{V1}/members/{{member_id}}/badges"
    award = {"badge_id": "py-basics", "activity_id": COURSE, "issued_at": "2024-03-01T10:00:00Z"}
    key = {"Idempotency-Key": "award-1"}
    e1 = {"member_id": "E1"}
    assert (await api.call("POST", url, writer, path=e1, json=award, headers=key))[0] == 201
    other = {**award, "badge_id": "other"}
    assert (await api.call("POST", url, writer, path=e1, json=other, headers=key))[0] == 422
    assert (await api.call("POST", url, writer, path=e1, json=award))[0] == 400
    unknown = {"member_id": "E404"}
    key2 = {"Idempotency-Key": "award-2"}
    assert (await api.call("POST", url, writer, path=unknown, json=award, headers=key2))[0] == 404


async def check_operations(api: CheckedClient, admin: str) -> None:
    assert (await api.call("GET", f"{V1}/status", admin))[0] == 200
    hooks = f"{V1}/webhooks"
    status, body, _ = await api.call("POST", hooks, admin, json={"url": "https://m.example/h"})
    assert status == 201
    assert (await api.call("POST", hooks, admin, json={"events": []}))[0] == 400
    assert (await api.call("GET", hooks, admin))[0] == 200
    one = f"{hooks}/{{subscription_id}}"
    assert (await api.call("DELETE", one, admin, path={"subscription_id": body["data"]["id"]}))[
        0
    ] == 204
    assert (await api.call("DELETE", one, admin, path={"subscription_id": "sub_nope"}))[0] == 404
    assert (await api.call("GET", f"{hooks}/dead-letters", admin))[0] == 200
    again = f"{hooks}/dead-letters/redeliver"
    assert (await api.call("POST", again, admin, json={"all": True}))[0] == 200
    assert (await api.call("POST", again, admin, json={"all": {}}))[0] == 400
    audit = f"{V1}/admin/audit"
    assert (await api.call("GET", audit, admin, params={"limit": "5"}))[0] == 200
    assert (await api.call("GET", audit, admin, params={"since": "soon"}))[0] == 400
    assert (await api.call("GET", "/metrics", admin))[0] == 200
    runs = f"{V1}/reconcile/runs"
    assert (await api.call("GET", runs, admin, params={"days": "7"}))[0] == 200
    assert (await api.call("GET", runs, admin, params={"days": "0"}))[0] == 400


async def check_identities(api: CheckedClient, admin: str) -> None:
    ids = f"{V1}/identities"
    status, body, _ = await api.call("GET", f"{ids}/conflicts", admin)
    assert status == 200 and body["data"]
    resolve = f"{ids}/conflicts/resolve"
    good = {"address": "shared@example.com", "member_id": "E5"}
    assert (await api.call("POST", resolve, admin, json={"address": "x"}))[0] == 400
    assert (await api.call("POST", resolve, admin, json={**good, "member_id": "E9"}))[0] == 409
    assert (await api.call("POST", resolve, admin, json=good))[0] == 200
    assert (await api.call("GET", f"{ids}/unmatched", admin))[0] == 200
    quality = f"{V1}/quality"
    assert (await api.call("GET", quality, admin))[0] == 200
    assert (await api.call("GET", quality, admin, params={"reason": "x"}))[0] == 200
    assert (await api.call("GET", quality, admin, params={"state": "closed"}))[0] == 400
    merges = f"{ids}/merges"
    merge = {"from": "E2", "into": "E1", "reason": "duplicate"}
    assert (await api.call("POST", merges, admin, json={**merge, "reason": ""}))[0] == 400
    assert (await api.call("POST", merges, admin, json={**merge, "from": "E404"}))[0] == 404
    status, body, _ = await api.call("POST", merges, admin, json=merge)
    assert status == 201
    assert (await api.call("POST", merges, admin, json=merge))[0] == 409
    undo = f"{merges}/{{seq}}/undo"
    seq = {"seq": body["data"]["audit_seq"]}
    assert (await api.call("POST", undo, admin, path=seq, json={"reason": "wrong"}))[0] == 200
    assert (await api.call("POST", undo, admin, path=seq, json={}))[0] == 409
    assert (await api.call("POST", undo, admin, path={"seq": 1}, json={}))[0] == 404
    member = f"{V1}/members/{{member_id}}"
    assert (await api.call("DELETE", member, admin, path={"member_id": "E2"}))[0] == 200
    assert (await api.call("DELETE", member, admin, path={"member_id": "E404"}))[0] == 404


async def check_refusals(api: CheckedClient, market: Market) -> None:
    """Every protected operation without a token (401) and with a token lacking its scope
    (403, or 401 for the OAuth endpoints, which authenticate clients, not tokens)."""
    outsider = await market.token("read:profile")
    for method, template in operations():
        operation = OPENAPI["paths"][template][method.lower()]
        if not operation.get("security"):
            continue
        path = {"member_id": "E1", "subscription_id": "sub_x", "seq": 1}
        assert (await api.call(method, template, None, path=path))[0] == 401
        oauth = [need for need in operation["security"] if "marketplaceOAuth" in need]
        scopes = oauth[0]["marketplaceOAuth"] if oauth else []
        if "read:profile" not in scopes:
            assert (await api.call(method, template, outsider, path=path, json={}))[0] == 403


async def test_every_operation_answers_as_the_document_says(market: Market) -> None:
    since = await seed(market)
    api = CheckedClient(market)
    reader = await market.token("read:activity:aggregate", "read:profile")
    admin = await market.token("admin")
    await check_tokens(api, market)
    await check_delegated(api, market)
    await check_records(api, reader, since)
    await check_badges(api, market)
    await check_operations(api, admin)
    await check_identities(api, admin)
    await check_refusals(api, market)
    assert api.unchecked() == []


# --- the document itself ----------------------------------------------------------------------


def examples_of(operation: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(where, example, schema) of every example an operation's media types give."""
    found = []
    bodies = [("request", operation.get("requestBody", {}))] + [
        (status, answer) for status, answer in operation["responses"].items()
    ]
    for name, part in bodies:
        for media, described in part.get("content", {}).items():
            for key, example in described.get("examples", {}).items():
                where = f"{name} {media} {key}"
                if "x-item-schema" in described:  # NDJSON: each line an item
                    lines = example["value"].splitlines()
                    found += [(where, json.loads(x), described["x-item-schema"]) for x in lines]
                else:
                    found.append((where, example["value"], described["schema"]))
    for parameter in operation.get("parameters", []):
        if "example" in parameter:
            found.append(
                (f"parameter {parameter['name']}", parameter["example"], parameter["schema"])
            )
    return found


@pytest.mark.parametrize("method, template", operations())
def test_every_operation_has_valid_examples(method: str, template: str) -> None:
    operation = OPENAPI["paths"][template][method.lower()]
    where = f"{method} {template}"
    for status, answer in operation["responses"].items():
        for media, described in answer.get("content", {}).items():
            assert described.get("examples"), f"{where} {status} {media}: no example"
    for media, described in operation.get("requestBody", {}).get("content", {}).items():
        assert described.get("examples"), f"{where} request {media}: no example"
    for name, example, schema in examples_of(operation):
        validate(example, schema, f"{where} {name}")


def test_the_document_states_its_versioning_and_deprecation_policy() -> None:
    text = OPENAPI["info"]["description"]
    assert "Versioning" in text and "Deprecation" in text and "Sunset" in text
    assert all(m in METHODS for item in OPENAPI["paths"].values() for m in item)
