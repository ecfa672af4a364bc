"""The Statement resource through HTTP, on every backend."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from tests.lrs.http.conftest import LRSClient

ACTOR = {"objectType": "Agent", "mbox": "mailto:ada@example.com", "name": "Ada"}
VERB = {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}}
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def statement(**overrides: object) -> dict:
    """A minimal valid statement."""
    base = {
        "actor": ACTOR,
        "verb": VERB,
        "object": {"objectType": "Activity", "id": "http://example.com/courses/101"},
    }
    base.update(overrides)
    return base


async def post(lrs: LRSClient, body: object, version: str = "1.0.3"):
    return await lrs.http.post("/xapi/statements", json=body, headers=lrs.headers(version))


async def get(lrs: LRSClient, version: str = "1.0.3", **params: str):
    return await lrs.http.get("/xapi/statements?" + urlencode(params), headers=lrs.headers(version))


async def stored_ids(lrs: LRSClient, **params: str) -> list[str]:
    response = await get(lrs, **params)
    assert response.status == 200, await response.text()
    return [s["id"] for s in (await response.json())["statements"]]


async def test_post_then_get_returns_statement_with_lrs_properties(lrs: LRSClient) -> None:
    response = await post(lrs, statement())
    assert response.status == 200
    [sid] = await response.json()
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    got = await get(lrs, statementId=sid)
    assert got.status == 200
    body = await got.json()
    assert body["id"] == sid
    assert body["actor"] == ACTOR
    assert body["version"] == "1.0.0"
    assert body["stored"].endswith("Z")
    assert body["timestamp"] == body["stored"]
    assert body["authority"]["objectType"] == "Agent"
    assert "X-Experience-API-Consistent-Through" in got.headers
    assert "Last-Modified" in got.headers


async def test_version_two_request_gets_version_two_statement(lrs: LRSClient) -> None:
    response = await post(lrs, statement(), version="2.0.0")
    assert response.headers["X-Experience-API-Version"] == "2.0.0"
    [sid] = await response.json()
    body = await (await get(lrs, version="2.0.0", statementId=sid)).json()
    assert body["version"] == "2.0.0"


async def test_timestamp_is_returned_as_given(lrs: LRSClient) -> None:
    sid = str(uuid.uuid4())
    await post(lrs, statement(id=sid, timestamp="2024-03-01T12:00:00.123+05:00"))
    body = await (await get(lrs, statementId=sid)).json()
    assert body["timestamp"] == "2024-03-01T12:00:00.123+05:00"


async def test_batch_with_one_bad_statement_stores_nothing(lrs: LRSClient) -> None:
    good = statement(id=str(uuid.uuid4()))
    bad = statement(id=str(uuid.uuid4()), verb={"id": "not an iri"})
    response = await post(lrs, [good, bad])
    assert response.status == 400
    error = await response.json()
    assert "[1]" in error["path"]
    assert (await get(lrs, statementId=good["id"])).status == 404


async def test_same_id_same_content_is_accepted_once(lrs: LRSClient) -> None:
    sid = str(uuid.uuid4())
    first = await post(lrs, statement(id=sid))
    again = await post(lrs, statement(id=sid, verb={**VERB, "display": {"fr": "terminé"}}))
    assert (first.status, again.status) == (200, 200)
    assert await stored_ids(lrs) == [sid]


async def test_same_id_different_content_is_409_and_batch_stores_nothing(
    lrs: LRSClient,
) -> None:
    sid, other = str(uuid.uuid4()), str(uuid.uuid4())
    await post(lrs, statement(id=sid))
    response = await post(
        lrs, [statement(id=other), statement(id=sid, result={"completion": True})]
    )
    assert response.status == 409
    assert (await response.json())["statement_id"] == sid
    assert (await get(lrs, statementId=other)).status == 404


async def test_duplicate_ids_in_one_batch_are_400(lrs: LRSClient) -> None:
    sid = str(uuid.uuid4())
    response = await post(lrs, [statement(id=sid), statement(id=sid)])
    assert response.status == 400


async def test_put_stores_under_statement_id(lrs: LRSClient) -> None:
    sid = str(uuid.uuid4())
    response = await lrs.http.put(
        f"/xapi/statements?statementId={sid}", json=statement(), headers=lrs.headers()
    )
    assert response.status == 204
    assert (await (await get(lrs, statementId=sid)).json())["id"] == sid


async def test_put_rejects_mismatched_or_missing_id(lrs: LRSClient) -> None:
    mismatch = await lrs.http.put(
        f"/xapi/statements?statementId={uuid.uuid4()}",
        json=statement(id=str(uuid.uuid4())),
        headers=lrs.headers(),
    )
    missing = await lrs.http.put("/xapi/statements", json=statement(), headers=lrs.headers())
    assert (mismatch.status, missing.status) == (400, 400)


async def test_missing_or_unsupported_version_header_is_400(lrs: LRSClient) -> None:
    no_version = await lrs.http.get("/xapi/statements", headers={"Authorization": lrs.auth})
    old = await lrs.http.get("/xapi/statements", headers=lrs.headers("0.95"))
    future = await lrs.http.get("/xapi/statements", headers=lrs.headers("1.1.0"))
    assert (no_version.status, old.status, future.status) == (400, 400, 400)
    assert "X-Experience-API-Version" in no_version.headers


async def test_authentication_and_scopes(lrs: LRSClient) -> None:
    anonymous = await lrs.http.get(
        "/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"}
    )
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = await lrs.http.get(
        "/xapi/statements", headers=lrs.headers(Authorization=lrs.auth[:-4] + "AAAA")
    )
    assert wrong.status == 401
    reader = await lrs.credential("statements/read")
    denied = await lrs.http.post(
        "/xapi/statements", json=statement(), headers=lrs.headers(Authorization=reader)
    )
    assert denied.status == 403
    allowed = await lrs.http.get("/xapi/statements", headers=lrs.headers(Authorization=reader))
    assert allowed.status == 200


async def test_read_mine_sees_only_own_statements(lrs: LRSClient) -> None:
    mine = await lrs.credential("statements/write", "statements/read/mine")
    [own] = await (
        await lrs.http.post(
            "/xapi/statements", json=statement(), headers=lrs.headers(Authorization=mine)
        )
    ).json()
    [theirs] = await (await post(lrs, statement())).json()
    response = await lrs.http.get("/xapi/statements", headers=lrs.headers(Authorization=mine))
    assert [s["id"] for s in (await response.json())["statements"]] == [own]
    # issue 14.15: another credential's statement is answered as a missing one, not 403
    hidden = await lrs.http.get(
        f"/xapi/statements?statementId={theirs}", headers=lrs.headers(Authorization=mine)
    )
    assert hidden.status == 404
    assert (await hidden.json())["error"] == "not_found"


async def test_voiding_hides_target_but_keeps_it_fetchable(lrs: LRSClient) -> None:
    target = str(uuid.uuid4())
    await post(lrs, statement(id=target))
    voiding = statement(
        id=str(uuid.uuid4()),
        verb={"id": VOIDED},
        object={"objectType": "StatementRef", "id": target},
    )
    assert (await post(lrs, voiding)).status == 200
    assert target not in await stored_ids(lrs)
    assert (await get(lrs, statementId=target)).status == 404
    by_voided = await get(lrs, voidedStatementId=target)
    assert by_voided.status == 200
    assert (await by_voided.json())["id"] == target
    # the voiding statement still matches the target's filters (StatementRef rule)
    assert await stored_ids(lrs, activity="http://example.com/courses/101") == [voiding["id"]]


async def test_voiding_a_voiding_statement_is_400(lrs: LRSClient) -> None:
    target = str(uuid.uuid4())
    voiding = statement(
        id=str(uuid.uuid4()),
        verb={"id": VOIDED},
        object={"objectType": "StatementRef", "id": target},
    )
    await post(lrs, statement(id=target))
    await post(lrs, voiding)
    again = statement(
        verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": voiding["id"]}
    )
    assert (await post(lrs, again)).status == 400


async def test_filters(lrs: LRSClient) -> None:
    registration = str(uuid.uuid4())
    other_agent = {"objectType": "Agent", "account": {"homePage": "http://hr.example", "name": "7"}}
    a = statement(id=str(uuid.uuid4()), context={"registration": registration})
    b = statement(
        id=str(uuid.uuid4()),
        actor=other_agent,
        verb={"id": "http://adlnet.gov/expapi/verbs/attempted"},
        context={
            "instructor": ACTOR,
            "contextActivities": {"parent": [{"id": "http://example.com/courses/101"}]},
        },
        object={"id": "http://example.com/courses/101/lesson1"},
    )
    await post(lrs, [a, b])
    agent = json.dumps(ACTOR)
    assert await stored_ids(lrs, agent=agent) == [a["id"]]
    both = sorted([a["id"], b["id"]])
    assert sorted(await stored_ids(lrs, agent=agent, related_agents="true")) == both
    assert await stored_ids(lrs, verb="http://adlnet.gov/expapi/verbs/attempted") == [b["id"]]
    assert await stored_ids(lrs, activity="http://example.com/courses/101") == [a["id"]]
    related = await stored_ids(
        lrs, activity="http://example.com/courses/101", related_activities="true"
    )
    assert sorted(related) == both
    assert await stored_ids(lrs, registration=registration) == [a["id"]]


async def test_results_are_ordered_by_stored_time(lrs: LRSClient) -> None:
    for _ in range(5):
        await post(lrs, [statement(), statement()])
    for ascending in ("false", "true"):
        response = await get(lrs, ascending=ascending)
        stored = [s["stored"] for s in (await response.json())["statements"]]
        assert len(stored) == 10
        assert stored == sorted(stored, reverse=ascending == "false")


async def test_since_until_use_stored_time(lrs: LRSClient) -> None:
    [first] = await (await post(lrs, statement())).json()
    stored = (await (await get(lrs, statementId=first)).json())["stored"]
    [second] = await (await post(lrs, statement())).json()
    assert await stored_ids(lrs, since=stored) == [second]
    assert first in await stored_ids(lrs, until=stored)
    assert second not in await stored_ids(lrs, until=stored)


async def test_more_link_pages_without_gaps_while_statements_arrive(lrs: LRSClient) -> None:
    ids = await (await post(lrs, [statement() for _ in range(25)])).json()
    seen: list[str] = []
    response = await get(lrs, limit="10")
    while True:
        page = await response.json()
        seen += [s["id"] for s in page["statements"]]
        await post(lrs, statement())  # new arrivals must not shift the pages
        if not page["more"]:
            break
        response = await lrs.http.get(page["more"], headers=lrs.headers())
        assert response.status == 200
    # every statement there was when paging began, once; none of the newer arrivals
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == set(ids)


async def test_format_ids_and_canonical(lrs: LRSClient) -> None:
    sid = str(uuid.uuid4())
    obj = {
        "id": "http://example.com/courses/101",
        "definition": {"name": {"en-US": "Safety", "fr-FR": "Sécurité"}},
    }
    await post(lrs, statement(id=sid, object=obj))
    ids = await (await get(lrs, statementId=sid, format="ids")).json()
    assert ids["verb"] == {"id": VERB["id"]}
    assert "definition" not in ids["object"]
    assert ids["actor"] == {"objectType": "Agent", "mbox": ACTOR["mbox"]}
    response = await lrs.http.get(
        f"/xapi/statements?statementId={sid}&format=canonical",
        headers=lrs.headers(**{"Accept-Language": "fr-FR, en;q=0.5"}),
    )
    canonical = await response.json()
    assert canonical["object"]["definition"]["name"] == {"fr-FR": "Sécurité"}


async def test_head_has_headers_and_no_body(lrs: LRSClient) -> None:
    [sid] = await (await post(lrs, statement())).json()
    response = await lrs.http.head(f"/xapi/statements?statementId={sid}", headers=lrs.headers())
    assert response.status == 200
    assert "Last-Modified" in response.headers
    assert await response.read() == b""


async def test_bad_input_is_400_with_json(lrs: LRSClient) -> None:
    not_json = await lrs.http.post(
        "/xapi/statements",
        data=b"{nope",
        headers=lrs.headers(**{"Content-Type": "application/json"}),
    )
    unknown = await get(lrs, colour="blue")
    both = await get(lrs, statementId=str(uuid.uuid4()), voidedStatementId=str(uuid.uuid4()))
    extra = await get(lrs, statementId=str(uuid.uuid4()), verb="http://x.example/v")
    for response in (not_json, unknown, both, extra):
        assert response.status == 400
        assert "message" in await response.json()


async def test_about_needs_no_auth_and_lists_both_versions(lrs: LRSClient) -> None:
    response = await lrs.http.get("/xapi/about")
    assert response.status == 200
    assert set((await response.json())["version"]) >= {"1.0.3", "2.0.0"}


async def test_cors_preflight(lrs: LRSClient) -> None:
    response = await lrs.http.options(
        "/xapi/statements",
        headers={"Origin": "http://content.example", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status == 204
    assert "X-Experience-API-Version" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_alternate_request_syntax_in_1_0_3_only(lrs: LRSClient) -> None:
    sid = str(uuid.uuid4())
    form = {
        "Authorization": lrs.auth,
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
        "statementId": sid,
        "content": json.dumps(statement()),
    }
    response = await lrs.http.post("/xapi/statements?method=PUT", data=form)
    assert response.status == 204, await response.text()
    assert (await get(lrs, statementId=sid)).status == 200
    form_get = {"Authorization": lrs.auth, "X-Experience-API-Version": "1.0.3", "statementId": sid}
    got = await lrs.http.post("/xapi/statements?method=GET", data=form_get)
    assert (await got.json())["id"] == sid
    v2 = await lrs.http.post(
        "/xapi/statements?method=GET", data={**form_get, "X-Experience-API-Version": "2.0.0"}
    )
    assert v2.status == 400
