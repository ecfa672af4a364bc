"""Property tests over HTTP: generated statements and documents are never a 5xx, what is invalid
by construction is a 4xx, and what is valid comes back as sent.

The number of examples comes from the Hypothesis profile (tests/conftest.py): a few dozen in
CI; `pytest --hypothesis-profile=long tests/lrs/http/test_properties.py` runs 2,000 of each.
The app and its store live for the whole test, not per example: every example uses fresh ids.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lrs.http.conftest import LRSClient

# the app fixture lives across examples on purpose (examples use fresh ids)
SHARED_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

VERSIONS = st.sampled_from(["1.0.3", "2.0.0"])
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
IRI = st.builds(lambda host, path: f"http://{host}.example.com/{path}", WORD, WORD)
LANGUAGE_MAP = st.dictionaries(st.sampled_from(["en-US", "fr", "de-CH"]), TEXT, max_size=2)
# JSON values orjson writes and the server reads back as they were (no floats: 1.0 vs 1)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def actors(draw: st.DrawFn) -> dict[str, Any]:
    ifi = draw(st.sampled_from(["mbox", "account", "mbox_sha1sum", "openid"]))
    actor: dict[str, Any] = {"objectType": "Agent"}
    if draw(st.booleans()):
        actor["name"] = draw(TEXT)
    if ifi == "mbox":
        actor["mbox"] = f"mailto:{draw(WORD)}@example.com"
    elif ifi == "account":
        actor["account"] = {"homePage": draw(IRI), "name": draw(TEXT.filter(bool))}
    elif ifi == "mbox_sha1sum":
        actor["mbox_sha1sum"] = draw(st.text("0123456789abcdef", min_size=40, max_size=40))
    else:
        actor["openid"] = draw(IRI)
    return actor


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    """A valid statement by construction, with a fresh id."""
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": draw(actors()),
        "verb": {"id": draw(IRI), "display": draw(LANGUAGE_MAP)},
        "object": {"objectType": "Activity", "id": draw(IRI)},
    }
    if draw(st.booleans()):
        raw = draw(st.integers(0, 100))
        statement["result"] = {
            "score": {"raw": raw, "min": 0, "max": 100},
            "success": draw(st.booleans()),
            "extensions": {draw(IRI): draw(JSON)},
        }
    if draw(st.booleans()):
        statement["context"] = {"registration": str(uuid.uuid4()), "language": "en-US"}
    return statement


# Changes that make any statement invalid (xAPI 1.0.3 Part 2 §2.4).
BREAKAGES = st.sampled_from(
    [
        ("drop", "actor"),
        ("drop", "verb"),
        ("drop", "object"),
        ("set", "id", "not-a-uuid"),
        ("set", "actor", {"mbox": "not-a-mailto"}),
        ("set", "verb", {"id": "no iri"}),
        ("set", "object", {"objectType": "Activity", "id": "no iri"}),
        ("set", "timestamp", "yesterday"),
        ("set", "unknownProperty", 1),
        ("set", "result", {"score": {"scaled": 2}}),
    ]
)


def _break(statement: dict[str, Any], breakage: tuple[Any, ...]) -> dict[str, Any]:
    broken = dict(statement)
    if breakage[0] == "drop":
        broken.pop(breakage[1])
    else:
        broken[breakage[1]] = breakage[2]
    return broken


async def _stored(lrs: LRSClient, statement_id: str, version: str) -> dict[str, Any]:
    query = urlencode({"statementId": statement_id})
    response = await lrs.http.get(f"/xapi/statements?{query}", headers=lrs.headers(version))
    assert response.status == 200, await response.text()
    return dict(await response.json())


def _assert_round_trip(sent: dict[str, Any], stored: dict[str, Any]) -> None:
    for key, value in sent.items():
        assert stored[key] == value, key


@SHARED_APP
@given(statement=statements(), version=VERSIONS, put=st.booleans())
async def test_valid_statements_are_stored_as_sent(
    lrs: LRSClient, statement: dict[str, Any], version: str, put: bool
) -> None:
    if put:
        query = urlencode({"statementId": statement["id"]})
        response = await lrs.http.put(
            f"/xapi/statements?{query}", json=statement, headers=lrs.headers(version)
        )
        assert response.status == 204, await response.text()
    else:
        response = await lrs.http.post(
            "/xapi/statements", json=[statement], headers=lrs.headers(version)
        )
        assert response.status == 200, await response.text()
        assert await response.json() == [statement["id"]]
    _assert_round_trip(statement, await _stored(lrs, statement["id"], version))


@SHARED_APP
@given(statement=statements(), breakage=BREAKAGES, version=VERSIONS)
async def test_broken_statements_are_400_and_not_stored(
    lrs: LRSClient, statement: dict[str, Any], breakage: tuple[Any, ...], version: str
) -> None:
    # a batch is all or nothing: the valid one before the broken one is not stored either
    good = {**statement, "id": str(uuid.uuid4())}
    batch = [good, _break(statement, breakage)]
    response = await lrs.http.post("/xapi/statements", json=batch, headers=lrs.headers(version))
    assert response.status == 400, (breakage, await response.text())
    query = urlencode({"statementId": good["id"]})
    missing = await lrs.http.get(f"/xapi/statements?{query}", headers=lrs.headers(version))
    assert missing.status == 404


@SHARED_APP
@given(body=JSON, version=VERSIONS, method=st.sampled_from(["POST", "PUT"]))
async def test_any_json_body_is_never_a_server_error(
    lrs: LRSClient, body: Any, version: str, method: str
) -> None:
    query = "?" + urlencode({"statementId": str(uuid.uuid4())}) if method == "PUT" else ""
    response = await lrs.http.request(
        method, f"/xapi/statements{query}", data=orjson.dumps(body), headers=lrs.headers(version)
    )
    # random JSON is almost never a statement; whatever it is, it is answered, not a 500
    assert response.status < 500, await response.text()
    if response.status >= 400:
        assert "error" in await response.json()


def _document_url(resource: str, document_id: str, activity: str) -> str:
    agent = orjson.dumps({"mbox": "mailto:doc@example.com"}).decode()
    params = {
        "state": {"activityId": activity, "agent": agent, "stateId": document_id},
        "activity_profile": {"activityId": activity, "profileId": document_id},
        "agent_profile": {"agent": agent, "profileId": document_id},
    }[resource]
    path = {
        "state": "activities/state",
        "activity_profile": "activities/profile",
        "agent_profile": "agents/profile",
    }[resource]
    return f"/xapi/{path}?{urlencode(params)}"


RESOURCES = st.sampled_from(["state", "activity_profile", "agent_profile"])
BODIES = st.one_of(
    JSON.map(lambda v: ("application/json", orjson.dumps(v))),
    st.binary(max_size=200).map(lambda b: ("application/octet-stream", b)),
    TEXT.map(lambda t: ("text/plain; charset=utf-8", t.encode())),
)


@SHARED_APP
@given(resource=RESOURCES, body=BODIES, activity=IRI, version=VERSIONS)
async def test_a_put_document_comes_back_byte_for_byte(
    lrs: LRSClient, resource: str, body: tuple[str, bytes], activity: str, version: str
) -> None:
    content_type, content = body
    url = _document_url(resource, str(uuid.uuid4()), activity)
    # a new document: If-None-Match: * is what every version accepts for a profile
    headers = lrs.headers(version, **{"Content-Type": content_type, "If-None-Match": "*"})
    response = await lrs.http.put(url, data=content, headers=headers)
    assert response.status == 204, await response.text()
    got = await lrs.http.get(url, headers=lrs.headers(version))
    assert got.status == 200
    assert await got.read() == content
    assert got.headers["Content-Type"].split(";")[0] == content_type.split(";")[0]


@SHARED_APP
@given(
    resource=RESOURCES,
    first=st.dictionaries(TEXT, JSON, max_size=4),
    second=JSON,
    activity=IRI,
    version=VERSIONS,
)
async def test_post_merges_json_objects_and_refuses_anything_else(
    lrs: LRSClient,
    resource: str,
    first: dict[str, Any],
    second: Any,
    activity: str,
    version: str,
) -> None:
    url = _document_url(resource, str(uuid.uuid4()), activity)
    headers = lrs.headers(version, **{"Content-Type": "application/json"})
    response = await lrs.http.post(url, data=orjson.dumps(first), headers=headers)
    assert response.status == 204, await response.text()
    response = await lrs.http.post(url, data=orjson.dumps(second), headers=headers)
    got = await lrs.http.get(url, headers=lrs.headers(version))
    if isinstance(second, dict):
        # 1.0.3 Part 3 §2.2: top-level properties of the new object replace the stored ones
        assert response.status == 204, await response.text()
        assert orjson.loads(await got.read()) == {**first, **second}
    else:
        assert response.status == 400, await response.text()
        assert orjson.loads(await got.read()) == first
