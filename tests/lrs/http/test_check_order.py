"""Issue 14: which check answers first (method, then credentials, then version), and the
parameters of the Activities and Agents resources."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.lrs.http.conftest import LRSClient

RESOURCES = {
    "/xapi/about": {"GET", "HEAD"},
    "/xapi/activities": {"GET", "HEAD"},
    "/xapi/agents": {"GET", "HEAD"},
    "/xapi/statements": {"GET", "HEAD", "POST", "PUT"},
    "/xapi/activities/state": {"DELETE", "GET", "HEAD", "POST", "PUT"},
    "/xapi/activities/profile": {"DELETE", "GET", "HEAD", "POST", "PUT"},
    "/xapi/agents/profile": {"DELETE", "GET", "HEAD", "POST", "PUT"},
}


@pytest.mark.parametrize("path", sorted(RESOURCES))
@pytest.mark.parametrize("with_auth", [True, False])
async def test_an_unsupported_method_is_405_before_version_and_credentials(
    lrs: LRSClient, path: str, with_auth: bool
) -> None:
    # TRACE with credentials but no version header was a 400 unsupported_version, and
    # without credentials a 401: RFC 9110 §15.5.5 makes it a 405 with Allow either way
    headers = {"Authorization": lrs.auth} if with_auth else {}
    for method in ("TRACE", "PATCH"):
        for query in ("", "?method=GET"):  # the alternate syntax's query was a 400
            response = await lrs.http.request(method, path + query, headers=headers)
            assert response.status == 405, (method, path, query, await response.text())
            assert set(response.headers["Allow"].split(", ")) == RESOURCES[path]


async def test_alternate_syntax_authenticates_before_the_version(lrs: LRSClient) -> None:
    # a bad version in the form of an anonymous alternate-syntax request was a 400
    form = {"X-Experience-API-Version": "9.9.9", "content": "[]"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    url = "/xapi/statements?method=PUT"
    response = await lrs.http.post(url, data=urlencode(form), headers=headers)
    assert response.status == 401, await response.text()
    # the same bad version in the request's own header
    response = await lrs.http.post(
        url,
        data=urlencode({"content": "[]"}),
        headers={**headers, "X-Experience-API-Version": "0.8"},
    )
    assert response.status == 401, await response.text()
    # with credentials, the version is checked: 400 unsupported_version
    form["Authorization"] = lrs.auth
    response = await lrs.http.post(url, data=urlencode(form), headers=headers)
    assert response.status == 400
    assert (await response.json())["error"] == "unsupported_version"


async def test_a_malformed_alternate_request_is_401_before_400(lrs: LRSClient) -> None:
    # a JSON body (no form, so no form credentials) was a 400 to an anonymous client
    url = "/xapi/statements?method=GET"
    headers = {"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"}
    response = await lrs.http.post(url, data=b"{}", headers=headers)
    assert response.status == 401, await response.text()
    response = await lrs.http.post(url, data=b"{}", headers={**headers, "Authorization": lrs.auth})
    assert response.status == 400


@pytest.mark.parametrize("activity_id", ["not an iri", "notaniri", "http://x.example/a b"])
async def test_activities_activity_id_must_be_an_iri(lrs: LRSClient, activity_id: str) -> None:
    # 1.0.3 Part 3 §2.5: it was echoed back with a 200
    query = urlencode({"activityId": activity_id})
    response = await lrs.http.get(f"/xapi/activities?{query}", headers=lrs.headers())
    assert response.status == 400, await response.text()
    assert (await response.json())["parameter"] == "activityId"


async def test_activities_answers_an_iri(lrs: LRSClient) -> None:
    query = urlencode({"activityId": "http://example.com/activities/a"})
    response = await lrs.http.get(f"/xapi/activities?{query}", headers=lrs.headers())
    assert response.status == 200
    assert (await response.json())["id"] == "http://example.com/activities/a"


@pytest.mark.parametrize(
    "agent",
    [
        {"mbox": "\nnot a mailto"},
        {"mbox_sha1sum": "xyz"},
        {"account": {"homePage": "not an iri", "name": "a"}},
        {"openid": "no iri"},
    ],
)
async def test_agents_takes_a_valid_ifi_only(lrs: LRSClient, agent: dict[str, object]) -> None:
    # 1.0.3 Part 3 §2.6: the IFI's value was not checked and a Person came back (200)
    query = urlencode({"agent": json.dumps(agent)})
    response = await lrs.http.get(f"/xapi/agents?{query}", headers=lrs.headers())
    assert response.status == 400, await response.text()
    assert (await response.json())["parameter"] == "agent"


async def test_agents_answers_a_valid_agent(lrs: LRSClient) -> None:
    query = urlencode({"agent": json.dumps({"mbox": "mailto:a@example.com"})})
    response = await lrs.http.get(f"/xapi/agents?{query}", headers=lrs.headers())
    assert response.status == 200
    assert (await response.json())["mbox"] == ["mailto:a@example.com"]
