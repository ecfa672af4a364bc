"""The State, Activity Profile and Agent Profile resources through HTTP, on every backend.

xAPI 1.0.3 Part 3 §2.2, §2.3, §2.6, §2.7, §3.1, and the 2.0 concurrency rules
(`shared/reference/xapi-2.0-differences.md` §2.4).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import pytest

from lrs.services import documents as documents_service
from tests.lrs.http.conftest import LRSClient


class FakeClock:
    """The documents' clock, moved by the test (so no test waits for real time to pass)."""

    def __init__(self) -> None:
        self.now_us = 1_700_000_000_000_000

    def __call__(self) -> int:
        return self.now_us

    def advance(self, *, seconds: int) -> None:
        self.now_us += seconds * 1_000_000

    def isoformat(self) -> str:
        return datetime.fromtimestamp(self.now_us / 1e6, UTC).isoformat()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock the document service of an app built after this fixture reads."""
    fake = FakeClock()
    monkeypatch.setattr(documents_service, "wall_clock_us", fake)
    return fake


STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"
ACTIVITY = "http://example.com/activities/1"
AGENT = {"objectType": "Agent", "mbox": "mailto:ada@example.com"}
REG = "6f1c2e4a-1b2c-4d3e-8f90-0a1b2c3d4e5f"
V1, V2 = "1.0.3", "2.0.0"
VERSIONS = [V1, V2]


def url(path: str, **params: object) -> str:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return f"{path}?{urlencode(encoded)}"


def state_url(state_id: str | None = "s1", **extra: object) -> str:
    params: dict[str, object] = {"activityId": ACTIVITY, "agent": AGENT, **extra}
    if state_id is not None:
        params["stateId"] = state_id
    return url(STATE, **params)


def profile_url(path: str, profile_id: str | None = "p1", **extra: object) -> str:
    params: dict[str, object] = (
        {"activityId": ACTIVITY} if path == ACTIVITY_PROFILE else {"agent": AGENT}
    )
    params.update(extra)
    if profile_id is not None:
        params["profileId"] = profile_id
    return url(path, **params)


def doc_url(path: str, doc_id: str | None = "d1", **extra: object) -> str:
    return state_url(doc_id, **extra) if path == STATE else profile_url(path, doc_id, **extra)


def h(lrs: LRSClient, version: str = V1, **headers: str) -> dict[str, str]:
    """Headers: underscores in names become hyphens (If_Match → If-Match)."""
    return {**lrs.headers(version), **{k.replace("_", "-"): v for k, v in headers.items()}}


async def put_json(lrs: LRSClient, target: str, body: object, version: str = V1, **headers: str):
    headers.setdefault("Content_Type", "application/json")
    return await lrs.http.put(target, data=json.dumps(body), headers=h(lrs, version, **headers))


async def post_json(lrs: LRSClient, target: str, body: object, version: str = V1, **headers: str):
    headers.setdefault("Content_Type", "application/json")
    return await lrs.http.post(target, data=json.dumps(body), headers=h(lrs, version, **headers))


async def get_json(lrs: LRSClient, target: str, version: str = V1):
    response = await lrs.http.get(target, headers=h(lrs, version))
    assert response.status == 200, await response.text()
    return await response.json()


async def create(lrs: LRSClient, path: str, body: object, doc_id: str = "d1") -> str:
    """Create a JSON document (If-None-Match: * works everywhere); its ETag."""
    response = await put_json(lrs, doc_url(path, doc_id), body, If_None_Match="*")
    assert response.status == 204, await response.text()
    return response.headers["ETag"]


# --------------------------------------------------------------------------------------------
# Single documents
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_put_then_get_returns_document_with_etag_and_last_modified(
    lrs: LRSClient, path: str
) -> None:
    body = b"\x89PNG\r\n\x1a\n\x00\xff raw bytes"
    response = await lrs.http.put(
        doc_url(path),
        data=body,
        headers=h(lrs, Content_Type="image/png", If_None_Match="*"),
    )
    assert response.status == 204
    etag = f'"{hashlib.sha1(body).hexdigest()}"'
    assert response.headers["ETag"] == etag
    got = await lrs.http.get(doc_url(path), headers=h(lrs))
    assert got.status == 200
    assert await got.read() == body
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["ETag"] == etag
    assert parsedate_to_datetime(got.headers["Last-Modified"]).year >= 2024
    assert got.headers["X-Experience-API-Version"] == "1.0.3"


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_head_is_get_without_body(lrs: LRSClient, path: str) -> None:
    etag = await create(lrs, path, {"a": 1})
    head = await lrs.http.head(doc_url(path), headers=h(lrs))
    assert head.status == 200
    assert head.headers["ETag"] == etag
    assert "Last-Modified" in head.headers
    assert await head.read() == b""
    ids = await lrs.http.head(doc_url(path, None), headers=h(lrs))
    assert ids.status == 200
    assert await ids.read() == b""


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_get_absent_document_is_404(lrs: LRSClient, path: str) -> None:
    response = await lrs.http.get(doc_url(path, "nothing"), headers=h(lrs))
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"


async def test_content_type_parameters_kept(lrs: LRSClient) -> None:
    response = await lrs.http.put(
        state_url(), data="é", headers=h(lrs, Content_Type="text/plain; charset=utf-8")
    )
    assert response.status == 204
    got = await lrs.http.get(state_url(), headers=h(lrs))
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await got.read() == "é".encode()


async def test_registration_names_a_different_state(lrs: LRSClient) -> None:
    await create(lrs, STATE, {"plain": 1}, "s")
    response = await put_json(lrs, state_url("s", registration=REG), {"registered": 1})
    assert response.status == 204
    assert await get_json(lrs, state_url("s")) == {"plain": 1}
    assert await get_json(lrs, state_url("s", registration=REG.upper())) == {"registered": 1}


async def test_agent_matched_by_ifi_not_by_other_properties(lrs: LRSClient) -> None:
    await create(lrs, STATE, {"a": 1}, "s")
    named = {"name": "Ada", "mbox": "mailto:ada@EXAMPLE.com"}
    target = url(STATE, activityId=ACTIVITY, agent=named, stateId="s")
    assert await get_json(lrs, target) == {"a": 1}


async def test_put_json_that_is_not_json_is_400(lrs: LRSClient) -> None:
    response = await lrs.http.put(
        state_url(), data="{not json", headers=h(lrs, Content_Type="application/json")
    )
    assert response.status == 400
    missing = await lrs.http.get(state_url(), headers=h(lrs))
    assert missing.status == 404


# --------------------------------------------------------------------------------------------
# POST merge (Part 3 §2.2)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_post_merges_top_level_properties(lrs: LRSClient, path: str) -> None:
    first = {"x": "foo", "y": "bar", "nested": {"a": 1, "b": 2}}
    assert (await post_json(lrs, doc_url(path), first)).status == 204
    response = await post_json(lrs, doc_url(path), {"x": "bash", "z": "faz", "nested": {"c": 3}})
    assert response.status == 204
    merged = {"x": "bash", "y": "bar", "nested": {"c": 3}, "z": "faz"}
    assert await get_json(lrs, doc_url(path)) == merged
    got = await lrs.http.get(doc_url(path), headers=h(lrs))
    assert got.headers["ETag"] == response.headers["ETag"]
    assert got.headers["Content-Type"] == "application/json"


async def test_post_to_absent_document_stores_it(lrs: LRSClient) -> None:
    response = await lrs.http.post(
        state_url(), data=b"plain text", headers=h(lrs, Content_Type="text/plain")
    )
    assert response.status == 204
    got = await lrs.http.get(state_url(), headers=h(lrs))
    assert await got.read() == b"plain text"


@pytest.mark.parametrize(
    ("stored", "stored_type", "posted", "posted_type"),
    [
        (b'{"a":1}', "application/json", b"abcdefg", "text/plain"),
        (b"/ asdf / undefined", "application/octet-stream", b'{"a":2}', "application/json"),
        (b'{"a":1}', "application/json", b'{"a":2}{', "application/json"),
        (b'{"a":1}', "application/json", b"[1, 2]", "application/json"),
        (b"[1]", "application/json", b'{"a":2}', "application/json"),
    ],
)
async def test_post_merge_rejections_change_nothing(
    lrs: LRSClient, stored: bytes, stored_type: str, posted: bytes, posted_type: str
) -> None:
    await lrs.http.put(state_url(), data=stored, headers=h(lrs, Content_Type=stored_type))
    response = await lrs.http.post(
        state_url(), data=posted, headers=h(lrs, Content_Type=posted_type)
    )
    assert response.status == 400
    assert (await response.json())["message"]
    got = await lrs.http.get(state_url(), headers=h(lrs))
    assert await got.read() == stored
    assert got.headers["Content-Type"] == stored_type


async def test_post_invalid_json_to_absent_document_is_400(lrs: LRSClient) -> None:
    response = await lrs.http.post(
        profile_url(ACTIVITY_PROFILE),
        data='{"a": 1}[',
        headers=h(lrs, Content_Type="application/json"),
    )
    assert response.status == 400
    missing = await lrs.http.get(profile_url(ACTIVITY_PROFILE), headers=h(lrs))
    assert missing.status == 404


@pytest.mark.parametrize("version", VERSIONS)
async def test_last_modified_moves_forward_on_change(
    clock: FakeClock, lrs: LRSClient, version: str
) -> None:
    await post_json(lrs, state_url(), {"a": 1}, version)
    before = (await lrs.http.get(state_url(), headers=h(lrs, version))).headers["Last-Modified"]
    clock.advance(seconds=2)  # Last-Modified has whole seconds
    await post_json(lrs, state_url(), {"b": 2}, version)
    after = (await lrs.http.get(state_url(), headers=h(lrs, version))).headers["Last-Modified"]
    assert parsedate_to_datetime(after) > parsedate_to_datetime(before)


# --------------------------------------------------------------------------------------------
# Multiple documents: ids, since, DELETE all
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_get_without_id_lists_ids_with_since(lrs: LRSClient, path: str) -> None:
    assert await get_json(lrs, doc_url(path, None)) == []
    await create(lrs, path, {"n": 1}, "b")
    await create(lrs, path, {"n": 2}, "a")
    listing = await lrs.http.get(doc_url(path, None), headers=h(lrs))
    assert await listing.json() == ["a", "b"]
    assert "Last-Modified" in listing.headers
    assert listing.headers["ETag"].startswith('"')
    assert sorted(await get_json(lrs, doc_url(path, None, since="2000-01-01T00:00:00Z"))) == [
        "a",
        "b",
    ]
    assert await get_json(lrs, doc_url(path, None, since="2999-01-01T00:00:00Z")) == []


async def test_since_excludes_documents_not_changed_after_it(
    clock: FakeClock, lrs: LRSClient
) -> None:
    await create(lrs, STATE, {"n": 1}, "old")
    clock.advance(seconds=1)
    cut = clock.isoformat()
    clock.advance(seconds=1)
    await create(lrs, STATE, {"n": 2}, "new")
    assert await get_json(lrs, state_url(None, since=cut)) == ["new"]


async def test_state_ids_by_registration(lrs: LRSClient) -> None:
    await create(lrs, STATE, {}, "plain")
    await put_json(lrs, state_url("reg", registration=REG), {})
    assert await get_json(lrs, state_url(None)) == ["plain", "reg"]
    assert await get_json(lrs, state_url(None, registration=REG)) == ["reg"]


async def test_delete_all_states_of_activity_and_agent(lrs: LRSClient) -> None:
    await create(lrs, STATE, {}, "a")
    await put_json(lrs, state_url("b", registration=REG), {})
    other_agent = url(STATE, activityId=ACTIVITY, agent={"mbox": "mailto:bo@example.com"})
    await put_json(lrs, other_agent + "&stateId=c", {})
    await create(lrs, ACTIVITY_PROFILE, {}, "a")

    response = await lrs.http.delete(state_url(None, registration=REG), headers=h(lrs))
    assert response.status == 204
    assert await get_json(lrs, state_url(None)) == ["a"]
    response = await lrs.http.delete(state_url(None), headers=h(lrs))
    assert response.status == 204
    assert await get_json(lrs, state_url(None)) == []
    assert await get_json(lrs, other_agent) == ["c"]
    assert await get_json(lrs, profile_url(ACTIVITY_PROFILE, None)) == ["a"]


async def test_delete_all_with_precondition_is_400(lrs: LRSClient) -> None:
    await create(lrs, STATE, {}, "a")
    response = await lrs.http.delete(state_url(None), headers=h(lrs, If_Match="*"))
    assert response.status == 400
    assert await get_json(lrs, state_url(None)) == ["a"]


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_delete_one_document(lrs: LRSClient, path: str) -> None:
    await create(lrs, path, {}, "a")
    await create(lrs, path, {}, "b")
    assert (await lrs.http.delete(doc_url(path, "a"), headers=h(lrs))).status == 204
    assert await get_json(lrs, doc_url(path, None)) == ["b"]
    # deleting an absent document is not an error
    assert (await lrs.http.delete(doc_url(path, "a"), headers=h(lrs))).status == 204


# --------------------------------------------------------------------------------------------
# Concurrency (1.0.3 Part 3 §3.1; 2.0 differences §2.4)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_if_match_on_put_post_delete(lrs: LRSClient, path: str, version: str) -> None:
    etag = await create(lrs, path, {"v": 1})
    bad = '"1234"'
    assert (await put_json(lrs, doc_url(path), {"v": 2}, version, If_Match=bad)).status == 412
    assert (await post_json(lrs, doc_url(path), {"v": 2}, version, If_Match=bad)).status == 412
    response = await lrs.http.delete(doc_url(path), headers=h(lrs, version, If_Match=bad))
    assert response.status == 412
    assert (await response.json())["error"] == "precondition_failed"
    assert await get_json(lrs, doc_url(path), version) == {"v": 1}

    response = await put_json(lrs, doc_url(path), {"v": 2}, version, If_Match=etag)
    assert response.status == 204
    etag = response.headers["ETag"]
    response = await post_json(lrs, doc_url(path), {"w": 3}, version, If_Match=etag)
    assert response.status == 204
    assert await get_json(lrs, doc_url(path), version) == {"v": 2, "w": 3}
    stale = etag  # the POST changed the document since
    response = await lrs.http.delete(doc_url(path), headers=h(lrs, version, If_Match=stale))
    assert response.status == 412
    current = (await lrs.http.get(doc_url(path), headers=h(lrs, version))).headers["ETag"]
    response = await lrs.http.delete(doc_url(path), headers=h(lrs, version, If_Match=current))
    assert response.status == 204
    assert (await lrs.http.get(doc_url(path), headers=h(lrs, version))).status == 404


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_if_match_on_absent_document_is_412(lrs: LRSClient, path: str, version: str) -> None:
    response = await put_json(lrs, doc_url(path), {}, version, If_Match="*")
    assert response.status == 412
    assert (await lrs.http.get(doc_url(path), headers=h(lrs, version))).status == 404


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_if_none_match_star(lrs: LRSClient, path: str, version: str) -> None:
    response = await put_json(lrs, doc_url(path), {"v": 1}, version, If_None_Match="*")
    assert response.status == 204
    response = await put_json(lrs, doc_url(path), {"v": 2}, version, If_None_Match="*")
    assert response.status == 412
    assert await get_json(lrs, doc_url(path), version) == {"v": 1}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", [ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_profile_put_without_headers_on_existing_is_409(
    lrs: LRSClient, path: str, version: str
) -> None:
    await create(lrs, path, {"v": 1})
    response = await put_json(lrs, doc_url(path), {"v": 2}, version)
    assert response.status == 409
    assert "If-Match" in (await response.json())["message"]
    assert await get_json(lrs, doc_url(path), version) == {"v": 1}


async def test_state_put_without_headers_on_existing_1_0_3_replaces(lrs: LRSClient) -> None:
    await create(lrs, STATE, {"v": 1})
    assert (await put_json(lrs, state_url("d1"), {"v": 2}, V1)).status == 204
    assert await get_json(lrs, state_url("d1")) == {"v": 2}


async def test_state_put_without_headers_on_existing_2_0_is_409(lrs: LRSClient) -> None:
    await create(lrs, STATE, {"v": 1})
    response = await put_json(lrs, state_url("d1"), {"v": 2}, V2)
    assert response.status == 409
    assert (await response.json())["message"]
    assert await get_json(lrs, state_url("d1"), V2) == {"v": 1}


@pytest.mark.parametrize("path", [ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_profile_put_without_headers_on_absent(lrs: LRSClient, path: str) -> None:
    # 1.0.3 Part 3 §3.1: the client MUST send a header (400); removed from the 2.0 suite
    assert (await put_json(lrs, doc_url(path), {"v": 1}, V1)).status == 400
    assert (await lrs.http.get(doc_url(path), headers=h(lrs))).status == 404
    assert (await put_json(lrs, doc_url(path), {"v": 1}, V2)).status == 204


@pytest.mark.parametrize("version", VERSIONS)
async def test_post_and_delete_without_headers_are_allowed(lrs: LRSClient, version: str) -> None:
    await create(lrs, ACTIVITY_PROFILE, {"v": 1})
    target = profile_url(ACTIVITY_PROFILE, "d1")
    assert (await post_json(lrs, target, {"w": 2}, version)).status == 204
    assert (await lrs.http.delete(target, headers=h(lrs, version))).status == 204


async def test_concurrent_posts_lose_no_property(lrs: LRSClient) -> None:
    responses = await asyncio.gather(
        *(post_json(lrs, state_url(), {f"k{n}": n}) for n in range(10))
    )
    assert [r.status for r in responses].count(204) + [r.status for r in responses].count(409) == 10
    stored = await get_json(lrs, state_url())
    accepted = [n for n, r in enumerate(responses) if r.status == 204]
    assert stored == {f"k{n}": n for n in accepted}
    assert accepted  # at least the first write goes through


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "parameter"),
    [
        (url(STATE, agent=AGENT, stateId="s"), "activityId"),
        (url(STATE, activityId=ACTIVITY, stateId="s"), "agent"),
        (url(STATE, activityId=ACTIVITY, agent="not JSON", stateId="s"), "agent"),
        (url(STATE, activityId=ACTIVITY, agent="true", stateId="s"), "agent"),
        (state_url("s", registration="true"), "registration"),
        (state_url(None, since="not a timestamp"), "since"),
        (state_url("s", since="2024-01-01T00:00:00Z"), "since"),
        (state_url("s", StateId="x"), "StateId"),
        (url(ACTIVITY_PROFILE, profileId="p"), "activityId"),
        (profile_url(ACTIVITY_PROFILE, None, since="true"), "since"),
        (url(AGENT_PROFILE, profileId="p"), "agent"),
        (url(AGENT_PROFILE, agent={"objectType": "Group", "mbox": "mailto:g@x.org"}), "agent"),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
async def test_bad_parameters_are_400_naming_them(
    lrs: LRSClient, target: str, parameter: str, version: str
) -> None:
    response = await lrs.http.get(target, headers=h(lrs, version))
    assert response.status == 400
    body = await response.json()
    assert body["parameter"] == parameter
    assert parameter in body["message"]


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
async def test_writes_need_the_document_id(lrs: LRSClient, path: str) -> None:
    for method in ("PUT", "POST"):
        response = await lrs.http.request(
            method, doc_url(path, None), data="{}", headers=h(lrs, If_None_Match="*")
        )
        assert response.status == 400
        assert (await response.json())["parameter"] in ("stateId", "profileId")


async def test_alternate_request_syntax_put(lrs: LRSClient) -> None:
    form = {
        "activityId": ACTIVITY,
        "agent": json.dumps(AGENT),
        "stateId": "alt",
        "Authorization": lrs.auth,
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
        "content": '{"via": "form"}',
    }
    response = await lrs.http.post(
        f"{STATE}?method=PUT",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 204, await response.text()
    assert await get_json(lrs, state_url("alt")) == {"via": "form"}


# --------------------------------------------------------------------------------------------
# Scopes (1.0.3 Part 3 §4.2)
# --------------------------------------------------------------------------------------------


async def test_state_scope(lrs: LRSClient) -> None:
    auth = await lrs.credential("state")
    headers = {**h(lrs), "Authorization": auth, "Content-Type": "application/json"}
    assert (await lrs.http.put(state_url(), data="{}", headers=headers)).status == 204
    assert (await lrs.http.get(state_url(), headers=headers)).status == 200
    response = await lrs.http.get(profile_url(ACTIVITY_PROFILE), headers=headers)
    assert response.status == 403


async def test_profile_scope(lrs: LRSClient) -> None:
    auth = await lrs.credential("profile")
    headers = {**h(lrs, If_None_Match="*"), "Authorization": auth}
    for path in (ACTIVITY_PROFILE, AGENT_PROFILE):
        assert (await lrs.http.put(doc_url(path), data="{}", headers=headers)).status == 204
    assert (await lrs.http.get(state_url(), headers=headers)).status == 403


async def test_read_scopes_read_but_do_not_write(lrs: LRSClient) -> None:
    await create(lrs, STATE, {})
    await create(lrs, AGENT_PROFILE, {})
    headers = {**h(lrs), "Authorization": await lrs.credential("all/read")}
    assert (await lrs.http.get(state_url("d1"), headers=headers)).status == 200
    assert (await lrs.http.get(profile_url(AGENT_PROFILE, "d1"), headers=headers)).status == 200
    for target in (state_url("d1"), profile_url(AGENT_PROFILE, "d1")):
        assert (await lrs.http.delete(target, headers=headers)).status == 403
        assert (await lrs.http.post(target, data="{}", headers=headers)).status == 403
    assert (await lrs.http.get(state_url("d1"), headers=headers)).status == 200


async def test_statement_scopes_cannot_touch_documents(lrs: LRSClient) -> None:
    headers = {**h(lrs), "Authorization": await lrs.credential("statements/read", "define")}
    for path in (STATE, ACTIVITY_PROFILE, AGENT_PROFILE):
        assert (await lrs.http.get(doc_url(path, None), headers=headers)).status == 403
