"""The Activities and Agents resources, and canonical definitions in format=canonical."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from tests.lrs.http.conftest import LRSClient
from tests.lrs.http.test_statements import statement

COURSE = "http://example.com/courses/safety"


def with_definition(**definition: object) -> dict:
    return statement(object={"objectType": "Activity", "id": COURSE, "definition": definition})


async def activity(lrs: LRSClient, activity_id: str = COURSE) -> dict:
    response = await lrs.http.get(
        "/xapi/activities?" + urlencode({"activityId": activity_id}), headers=lrs.headers()
    )
    assert response.status == 200
    return await response.json()


async def test_definitions_merge_language_by_language(lrs: LRSClient) -> None:
    first = with_definition(
        name={"en-US": "Safety"}, type="http://adlnet.gov/expapi/activities/course"
    )
    second = with_definition(name={"fr-FR": "Sécurité"})
    for body in (first, second):
        response = await lrs.http.post("/xapi/statements", json=body, headers=lrs.headers())
        assert response.status == 200
    got = await activity(lrs)
    assert got["id"] == COURSE
    assert got["definition"]["name"] == {"en-US": "Safety", "fr-FR": "Sécurité"}
    assert got["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"


async def test_only_define_scope_changes_an_existing_definition(lrs: LRSClient) -> None:
    writer = await lrs.credential("statements/write")
    await lrs.http.post(
        "/xapi/statements", json=with_definition(name={"en-US": "Safety"}), headers=lrs.headers()
    )
    response = await lrs.http.post(
        "/xapi/statements",
        json=with_definition(name={"en-US": "Renamed by a writer"}),
        headers=lrs.headers(Authorization=writer),
    )
    assert response.status == 200
    assert (await activity(lrs))["definition"]["name"] == {"en-US": "Safety"}


async def test_unknown_activity_is_still_an_activity(lrs: LRSClient) -> None:
    assert await activity(lrs, "http://example.com/never-seen") == {
        "objectType": "Activity",
        "id": "http://example.com/never-seen",
    }


async def test_canonical_format_uses_the_canonical_definition(lrs: LRSClient) -> None:
    old = with_definition(name={"en-US": "Old name"})
    [old_id] = await (
        await lrs.http.post("/xapi/statements", json=old, headers=lrs.headers())
    ).json()
    await lrs.http.post(
        "/xapi/statements", json=with_definition(name={"en-US": "New name"}), headers=lrs.headers()
    )
    response = await lrs.http.get(
        f"/xapi/statements?statementId={old_id}&format=canonical", headers=lrs.headers()
    )
    body = await response.json()
    assert body["object"]["definition"]["name"] == {"en-US": "New name"}
    exact = await (
        await lrs.http.get(f"/xapi/statements?statementId={old_id}", headers=lrs.headers())
    ).json()
    assert exact["object"]["definition"]["name"] == {"en-US": "Old name"}


async def test_agents_resource_returns_a_person(lrs: LRSClient) -> None:
    agent = {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"}
    renamed = {**agent, "name": "Ada Lovelace"}
    response = await lrs.http.post(
        "/xapi/statements", json=statement(actor=renamed), headers=lrs.headers()
    )
    assert response.status == 200
    response = await lrs.http.get(
        "/xapi/agents?" + urlencode({"agent": json.dumps(agent)}), headers=lrs.headers()
    )
    assert response.status == 200
    assert await response.json() == {
        "objectType": "Person",
        "name": ["Ada", "Ada Lovelace"],
        "mbox": ["mailto:ada@example.com"],
    }


async def test_bad_parameters_are_400(lrs: LRSClient) -> None:
    cases = [
        "/xapi/agents",
        "/xapi/agents?agent=not-json",
        "/xapi/agents?" + urlencode({"agent": json.dumps({"name": "no ifi"})}),
        "/xapi/activities",
        "/xapi/activities?activityId=x&extra=1",
    ]
    for url in cases:
        response = await lrs.http.get(url, headers=lrs.headers())
        assert response.status == 400, url
