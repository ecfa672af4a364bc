"""POST /hris/v1/events through the whole app, with real signatures, on every backend."""

from __future__ import annotations

import time
from typing import Any

import orjson

from lrs.app import create_app
from lrs.config import Config
from lrs.settings import Settings
from projections.hris_events import read_events
from projections.webhook_verify import sign
from tests.projections.api_support import Market
from tests.projections.conftest import mbox_actor, statement
from tests.projections.hris_support import (
    EVENTS,
    OPENAPI,
    OPERATION,
    conforms,
    event,
    new_source,
    post_events,
    signed,
)

HIRE = event("e1", "hire", "2026-03-01T09:00:00Z", email="ada@example.com", name="Ada")


async def member(market: Market, member_id: str = "H1") -> Any:
    return await market.projection.stores.identities.get_member(member_id)


async def test_a_signed_hire_is_applied(market: Market) -> None:
    secret = await new_source(market)
    status, body = await post_events(market, "workday", secret, HIRE)
    assert status == 200, body
    assert body["status"] == "applied" and body["repeat"] is False
    assert body["employee_id"] == "H1" and body["effective_at"] == "2026-03-01T09:00:00.000000Z"
    found = await member(market)
    assert found.emails == ("ada@example.com",) and found.employment_status == "active"
    entries = await market.projection.audit.entries(limit=5, type="hris.event")
    assert entries[0].subject == "e1" and entries[0].details["status"] == "applied"
    assert "H1" not in str(entries[0])  # named by its event: the result links it to H1


async def test_a_replayed_request_is_refused_and_applies_nothing(market: Market) -> None:
    secret = await new_source(market)
    body = orjson.dumps(HIRE)
    headers = signed("workday", secret, body)
    first = await market.http.post(EVENTS, data=body, headers=headers)
    assert first.status == 200
    change = orjson.dumps(event("e2", "change", "2026-04-01T00:00:00Z", name="Changed"))
    again = await market.http.post(EVENTS, data=body, headers=headers)
    assert again.status == 401
    assert (await again.json())["error"] == "replayed_signature"
    # the endpoint's own scheme, not the xAPI API's Basic nor a bearer token's
    assert again.headers["WWW-Authenticate"].startswith("LRS-HRIS-HMAC-SHA256 realm=")
    conforms(401, await again.json())
    old = int(time.time()) - 301
    stale = await market.http.post(
        EVENTS, data=change, headers=signed("workday", secret, change, old)
    )
    answer = await stale.json()
    conforms(401, answer)
    assert stale.status == 401 and answer["error"] == "stale_signature"
    assert answer["details"] == {"window_seconds": 300}
    assert (await member(market)).name == "Ada"


async def test_a_bad_signature_is_refused(market: Market) -> None:
    secret = await new_source(market)
    body = orjson.dumps(HIRE)
    now = int(time.time())
    for header in (sign("whsec_other", now, body), "nonsense", f"t={now},v1=é", None):
        headers = {"X-HRIS-Source": "workday"} | ({"X-HRIS-Signature": header} if header else {})
        response = await market.http.post(EVENTS, data=body, headers=headers)
        answer = await response.json()
        assert response.status == 401 and answer["error"] == "bad_signature"
        conforms(401, answer)
    tampered = body.replace(b"Ada", b"Eve")
    response = await market.http.post(
        EVENTS, data=tampered, headers=signed("workday", secret, body)
    )
    assert response.status == 401 and (await response.json())["error"] == "bad_signature"
    assert await member(market) is None


async def test_unknown_and_revoked_sources_are_refused(market: Market) -> None:
    secret = await new_source(market)
    status, body = await post_events(market, "nobody", secret, HIRE)
    assert (status, body["error"]) == (401, "unknown_source")
    await market.projection.hris.sources.revoke("workday")
    status, body = await post_events(market, "workday", secret, HIRE)
    assert (status, body["error"]) == (401, "source_revoked")
    assert await member(market) is None


async def test_a_malformed_event_is_refused_with_its_problems(market: Market) -> None:
    secret = await new_source(market)
    bad = event("e9", "promote", "yesterday", email="not-an-email")
    status, body = await post_events(market, "workday", secret, [HIRE, bad])
    assert status == 400 and body["error"] == "malformed_event"
    fields = {(p["index"], p["field"]) for p in body["details"]["problems"]}
    assert (1, "type") in fields
    status, body = await post_events(market, "workday", secret, b"{not json")
    assert (status, body["error"]) == (400, "malformed_event")
    assert await member(market) is None  # the good event of the batch was not applied either


async def test_out_of_order_events_the_newer_state_wins(market: Market) -> None:
    secret = await new_source(market)
    newer = event("e2", "change", "2026-05-01T00:00:00Z", department="Research")
    older = event("e1", "hire", "2026-03-01T00:00:00Z", department="Sales", email="a@x.com")
    status, body = await post_events(market, "workday", secret, newer)
    assert (status, body["status"]) == (200, "applied")
    status, body = await post_events(market, "workday", secret, older)
    assert status == 200 and body["status"] == "superseded"
    assert body["current_effective_at"] == "2026-05-01T00:00:00.000000Z"
    found = await member(market)
    assert found.department == "Research" and found.emails == ()
    entries = await market.projection.audit.entries(limit=5, type="hris.event")
    assert [e.details["status"] for e in entries][:2] == ["superseded", "applied"]


async def test_a_batch_is_applied_in_effective_order(market: Market) -> None:
    secret = await new_source(market)
    await post_events(market, "workday", secret, event("h2", "hire", "2026-05-01", "H2"))
    batch = [
        event("b2", "change", "2026-06-01T00:00:00Z", department="Late"),
        event("b1", "hire", "2026-01-01T00:00:00Z", department="Early", email="b@x.com"),
        event("c1", "change", "2026-04-01T00:00:00Z", "H2", department="Old"),
        event("d1", "hire", "2026-02-01T00:00:00Z", "H3", department="New"),
    ]
    status, body = await post_events(market, "workday", secret, batch)
    assert status == 200
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["applied", "applied", "superseded", "applied"]
    found = await member(market)
    assert found.department == "Late" and found.emails == ("b@x.com",)
    assert (await member(market, "H2")).department is None
    assert (await member(market, "H3")).department == "New"


async def test_a_repeated_event_answers_the_original_result_and_applies_nothing(
    market: Market,
) -> None:
    secret = await new_source(market)
    _status, first = await post_events(market, "workday", secret, HIRE)
    await post_events(
        market, "workday", secret, event("e2", "change", "2026-04-01T00:00:00Z", name="Later")
    )
    later = int(time.time()) + 1  # signed anew (the same second would be the same signature)
    status, again = await post_events(market, "workday", secret, HIRE, at=later)
    assert status == 200 and again == {**first, "repeat": True}
    assert (await member(market)).name == "Later"
    reused = {**HIRE, "member": {"employee_id": "H1", "name": "Other"}}
    fresh = event("e3", "change", "2026-12-01T00:00:00Z", name="Never")
    status, body = await post_events(market, "workday", secret, [fresh, reused], at=later)
    assert (status, body["error"]) == (409, "event_id_reused")
    assert body["details"] == {"event_ids": ["e1"]}
    assert (await member(market)).name == "Later"  # e3 was not applied either


async def test_an_old_secret_is_refused_after_rotate(market: Market) -> None:
    old = await new_source(market)
    _source, new = await market.projection.hris.sources.rotate("workday")
    status, body = await post_events(market, "workday", old, HIRE)
    assert (status, body["error"]) == (401, "bad_signature")
    status, body = await post_events(market, "workday", new, HIRE)
    assert (status, body["status"]) == (200, "applied")


async def test_terminate_marks_the_member_and_deletes_nothing(market: Market) -> None:
    secret = await new_source(market)
    await post_events(market, "workday", secret, HIRE)
    await market.post_statements([statement("completed", actor=mbox_actor("ada@example.com"))])
    await market.projection.worker.drain()
    records = await market.projection.stores.aggregates.member_records("H1")
    assert len(records) == 1
    claims = await market.projection.stores.identities.member_claims(["H1"])
    bye = event("e2", "terminate", "2026-09-30T17:00:00Z")
    status, body = await post_events(market, "workday", secret, bye)
    assert (status, body["status"]) == (200, "applied")
    found = await member(market)
    assert found.employment_status == "terminated" and found.emails == ("ada@example.com",)
    assert await market.projection.stores.identities.member_claims(["H1"]) == claims
    kept = await market.projection.stores.aggregates.member_records("H1")
    assert [r.activity_id for r in kept] == [r.activity_id for r in records]  # none deleted
    assert [r.record["employment_status"] for r in kept if r.record] == ["terminated"]
    assert await member_event_types(market) == ["member.terminated"]
    back = event("e3", "rehire", "2027-01-10T09:00:00Z")
    status, body = await post_events(market, "workday", secret, back)
    assert (await member(market)).employment_status == "active"
    kept = await market.projection.stores.aggregates.member_records("H1")
    assert [r.record["employment_status"] for r in kept if r.record] == ["active"]
    assert await member_event_types(market) == ["member.terminated", "member.rehired"]
    assert (await market.projection.reconciler.reconcile()).drift == 0


async def member_event_types(market: Market) -> list[str]:
    stores = market.projection.stores
    events = await stores.deliveries.unfanned_events(10_000)
    return [e.type for e in events if e.type.startswith("member.") and e.member_id == "H1"]


async def test_an_erase_event_erases_the_member(market: Market) -> None:
    secret = await new_source(market)
    await post_events(market, "workday", secret, HIRE)
    await market.post_statements([statement("completed", actor=mbox_actor("ada@example.com"))])
    await market.projection.worker.drain()
    assert len(await market.projection.stores.aggregates.member_records("H1")) == 1
    erase = event("e5", "erase", "2026-10-01T00:00:00Z")
    status, body = await post_events(market, "workday", secret, erase)
    assert (status, body["status"]) == (200, "applied")
    assert body["erasure"]["records_deleted"] == 1
    assert body["erasure"]["statements_pseudonymised"] == 1
    assert await member(market) is None
    assert await market.projection.stores.aggregates.member_records("H1") == []
    saved = await market.projection.stores.hris.get_events("workday", ["e5"])
    assert saved["e5"].result["status"] == "applied"
    events = await market.projection.stores.deliveries.unfanned_events(10_000)
    assert [e.type for e in events if e.type == "member.erased"] == ["member.erased"]
    assert (await market.projection.reconciler.reconcile()).drift == 0
    again = event("e6", "erase", "2026-10-02T00:00:00Z")
    status, body = await post_events(market, "workday", secret, again)
    assert (status, body["status"]) == (200, "unchanged")  # nobody left to erase


def test_the_documented_examples_read_and_validate() -> None:
    requests = OPERATION["requestBody"]["content"]["application/json"]["examples"]
    for name, example in requests.items():
        _events, batch = read_events(orjson.dumps(example["value"]), {})
        assert batch == isinstance(example["value"], list), name
    for status, response in OPERATION["responses"].items():
        for example in (
            response.get("content", {}).get("application/json", {}).get("examples", {}).values()
        ):
            conforms(int(status), example["value"])


def test_the_route_is_documented(tmp_path: Any) -> None:
    app = create_app(Config(core=Settings(data_dir=tmp_path)))
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/hris")
    }
    documented = {(m, p) for p, ops in OPENAPI["paths"].items() for m in ops}
    assert served == documented == {("post", EVENTS)}


async def test_an_email_change_by_event_keeps_the_old_address_matching(market: Market) -> None:
    secret = await new_source(market)
    await post_events(market, "workday", secret, HIRE)
    change = event("e2", "change", "2026-06-01T00:00:00Z", email="ada.l@example.com")
    status, body = await post_events(market, "workday", secret, change)
    assert (status, body["status"]) == (200, "applied")
    [claims] = (await market.projection.stores.identities.member_claims(["H1"])).values()
    periods = {c.key: c.valid_to for c in claims}
    assert periods == {
        "email:ada@example.com": "2026-06-01T00:00:00.000000Z",
        "email:ada.l@example.com": None,
    }
    owners = await market.projection.stores.identities.member_for_keys(list(periods))
    assert set(owners.values()) == {"H1"}


async def test_an_address_two_members_claim_is_a_conflict(market: Market) -> None:
    secret = await new_source(market)
    await post_events(market, "workday", secret, HIRE)
    other = event("e2", "hire", "2026-03-02T00:00:00Z", "H2", email="ada@example.com")
    status, body = await post_events(market, "workday", secret, other)
    assert (status, body["status"], body["conflicts"]) == (200, "applied", 1)
    [conflict] = await market.projection.identities.conflicts()
    assert conflict.claimants == ("H1", "H2")
