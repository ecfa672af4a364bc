"""AGS line items, scores and results, acting as an LTI 1.3 tool; statements read back over xAPI."""

from __future__ import annotations

from typing import Any

import pytest

from lrs.keys import statement_service_key
from lrs.store.base import Backend
from lti.converters import grade_statements
from lti.keys import gradebook_key
from lti.scopes import AGS_SCOPES
from lti.scores import parse_score
from lti.vocabulary import (
    AGS_SCORE,
    LINEITEM_MEDIA,
    LINEITEMS_MEDIA,
    PASSING_THRESHOLD,
    RESULTS_MEDIA,
    SCORE_MEDIA,
)
from tests.lti.conftest import BASE, LTIHarness, ToolClient

VERBS = "http://adlnet.gov/expapi/verbs/"


class AGSTool:
    """An LTI 1.3 tool with a token, calling the AGS endpoints."""

    def __init__(self, lti: LTIHarness, client: ToolClient, token: str) -> None:
        self.lti = lti
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}
        self.container = f"/lti/tools/{client.tool.id}/lineitems"

    async def create(self, **item: Any) -> dict[str, Any]:
        body = {"label": "Quiz 1", "scoreMaximum": 10, **item}
        response = await self.lti.http.post(
            self.container, json=body, headers={**self.auth, "Content-Type": LINEITEM_MEDIA}
        )
        assert response.status == 201, await response.text()
        assert response.content_type == LINEITEM_MEDIA
        created = await response.json()
        assert response.headers["Location"] == created["id"]
        return created

    def path(self, url: str) -> str:
        assert url.startswith(BASE), url
        return url[len(BASE) :]

    async def score(self, item: dict[str, Any], status: int = 200, **score: Any) -> Any:
        body = {
            "userId": "learner-1",
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": "2026-03-01T10:00:00.000Z",
            **score,
        }
        body = {k: v for k, v in body.items() if v is not None}
        response = await self.lti.http.post(
            self.path(item["id"]) + "/scores",
            json=body,
            headers={**self.auth, "Content-Type": SCORE_MEDIA},
        )
        assert response.status == status, await response.text()
        return await response.json()

    async def get(self, url: str, **params: str) -> Any:
        response = await self.lti.http.get(self.path(url), params=params, headers=self.auth)
        assert response.status == 200, await response.text()
        return response


@pytest.fixture
async def tool(lti: LTIHarness) -> AGSTool:
    client = await lti.add_tool(user_home_page="https://lms.example")
    return AGSTool(lti, client, await lti.token(client))


async def test_the_whole_flow(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create(tag="quiz", resourceLinkId="rl-1", resourceId="r-1")
    assert item["id"].startswith(f"{BASE}/lti/tools/{tool.client.tool.id}/lineitems/")
    assert item == {**item, "label": "Quiz 1", "scoreMaximum": 10, "tag": "quiz"}
    listed = await tool.get(BASE + tool.container)
    assert listed.content_type == LINEITEMS_MEDIA
    assert await listed.json() == [item]
    assert await (await tool.get(item["id"])).json() == item
    ids = (await tool.score(item, scoreGiven=8, scoreMaximum=10, comment="well done"))[
        "statementIds"
    ]
    assert len(ids) == 2  # scored, completed (no passing threshold)
    results = await tool.get(item["id"] + "/results")
    assert results.content_type == RESULTS_MEDIA
    [result] = await results.json()
    assert result == {
        "id": item["id"] + "/results?user_id=learner-1",
        "scoreOf": item["id"],
        "userId": "learner-1",
        "resultScore": 8,
        "resultMaximum": 10,
        "comment": "well done",
    }
    statements = await lti.statements(activity=item["id"])
    assert sorted(s["id"] for s in statements) == sorted(ids)
    scored = next(s for s in statements if s["verb"]["id"] == VERBS + "scored")
    assert scored["actor"] == {
        "objectType": "Agent",
        "account": {"homePage": "https://lms.example", "name": "learner-1"},
    }
    assert scored["object"]["id"] == item["id"]
    assert scored["object"]["definition"]["name"] == {"und": "Quiz 1"}
    assert scored["result"]["score"] == {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}
    assert scored["result"]["extensions"][AGS_SCORE]["comment"] == "well done"
    assert scored["timestamp"] == "2026-03-01T10:00:00.000Z"
    assert scored["authority"]["account"]["name"] == f"lti-tool:{tool.client.tool.client_id}"
    completed = next(s for s in statements if s["verb"]["id"] == VERBS + "completed")
    assert completed["result"]["completion"] is True


async def test_statement_ids_are_deterministic(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create()
    first = (await tool.score(item, scoreGiven=5, scoreMaximum=10))["statementIds"]
    # the same score with the timestamp written differently is the same instant: refused (409)
    await tool.score(
        item, status=409, scoreGiven=5, scoreMaximum=10, timestamp="2026-03-01T11:00:00+01:00"
    )
    again = lti.app[gradebook_key]
    stored_item = await lti.stores.gradebook.get_line_item(item["id"].rsplit("/", 1)[1])
    grade = again.grade(
        tool.client.tool,
        stored_item,
        parse_score(
            {
                "userId": "learner-1",
                "activityProgress": "Completed",
                "gradingProgress": "FullyGraded",
                "timestamp": "2026-03-01T11:00:00+01:00",
                "scoreGiven": 5,
                "scoreMaximum": 10,
            }
        ),
    )
    assert [s["id"] for s in grade_statements(grade)] == first


async def test_a_score_not_newer_than_the_last_is_409(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create()
    await tool.score(item, scoreGiven=5, scoreMaximum=10, timestamp="2026-03-01T10:00:00Z")
    body = await tool.score(
        item, status=409, scoreGiven=6, scoreMaximum=10, timestamp="2026-03-01T09:59:59.999Z"
    )
    assert body["error"] == "conflict"
    await tool.score(item, status=409, scoreGiven=5, scoreMaximum=10)  # the same one again
    await tool.score(item, scoreGiven=7, scoreMaximum=10, timestamp="2026-03-01T10:00:00.001Z")
    [result] = await (await tool.get(item["id"] + "/results")).json()
    assert result["resultScore"] == 7
    # another learner's scores are ordered on their own
    await tool.score(item, userId="learner-2", scoreGiven=1, scoreMaximum=10)
    assert len(await lti.statements(activity=item["id"])) == 6


async def test_a_retry_after_a_failure_stores_the_same_statements(
    lti: LTIHarness, tool: AGSTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = await tool.create()
    service = lti.app[statement_service_key]
    real = service.store_statements

    async def broken(*args: Any, **kwargs: Any) -> Any:
        from lrs.errors import StoreUnavailable

        raise StoreUnavailable("the store could not commit the write")

    monkeypatch.setattr(service, "store_statements", broken)
    await tool.score(item, status=503, scoreGiven=5, scoreMaximum=10)
    assert await lti.statements(activity=item["id"]) == []
    monkeypatch.setattr(service, "store_statements", real)
    ids = (await tool.score(item, scoreGiven=5, scoreMaximum=10))["statementIds"]
    assert sorted(s["id"] for s in await lti.statements(activity=item["id"])) == sorted(ids)
    # once stored, the same score again is refused and changes nothing
    await tool.score(item, status=409, scoreGiven=5, scoreMaximum=10)
    assert len(await lti.statements(activity=item["id"])) == 2


@pytest.mark.parametrize(
    ("score", "verbs"),
    [
        ({"gradingProgress": "Pending", "scoreGiven": 5, "scoreMaximum": 10}, []),
        ({"activityProgress": "InProgress", "gradingProgress": "NotReady"}, []),
        ({"activityProgress": "Submitted", "scoreGiven": 5, "scoreMaximum": 10}, ["scored"]),
        ({"scoreGiven": None, "scoreMaximum": None}, ["completed"]),
        ({"scoreGiven": 7, "scoreMaximum": 10}, ["scored", "completed", "passed"]),
        ({"scoreGiven": 5, "scoreMaximum": 10}, ["scored", "completed", "failed"]),
        ({"scoreGiven": 6, "scoreMaximum": 10}, ["scored", "completed", "passed"]),
        (
            {"activityProgress": "Submitted", "gradingProgress": "PendingManual", "scoreGiven": 9},
            None,
        ),
    ],
)
async def test_which_statements_a_score_becomes(
    lti: LTIHarness, tool: AGSTool, score: dict[str, Any], verbs: list[str] | None
) -> None:
    item = await tool.create(**{PASSING_THRESHOLD: 0.6})
    if verbs is None:  # scoreGiven without scoreMaximum
        body = await tool.score(item, status=400, **score)
        assert body["path"] == "scoreMaximum"
        return
    ids = (await tool.score(item, **score))["statementIds"]
    statements = await lti.statements(activity=item["id"])
    assert sorted(s["id"] for s in statements) == sorted(ids)
    assert sorted(s["verb"]["id"].removeprefix(VERBS) for s in statements) == sorted(verbs)
    for statement in statements:
        if statement["verb"]["id"] in (VERBS + "passed", VERBS + "failed"):
            assert statement["result"]["success"] is statement["verb"]["id"].endswith("passed")


async def test_pending_scores_count_only_once_graded(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create()
    await tool.score(item, gradingProgress="PendingManual", scoreGiven=3, scoreMaximum=10)
    [result] = await (await tool.get(item["id"] + "/results")).json()
    assert "resultScore" not in result
    await tool.score(item, scoreGiven=4, scoreMaximum=10, timestamp="2026-03-02T10:00:00.000Z")
    [result] = await (await tool.get(item["id"] + "/results")).json()
    assert result["resultScore"] == 4


# (scoreGiven, the score's scoreMaximum, the line item's scoreMaximum, resultScore): each of
# these comes out with binary noise when divided first (55 / 100 * 100 == 55.00000000000001).
RESCALED = [
    (55, 100, 100, 55),
    (55.5, 100, 100.0, 55.5),
    (1.1, 3.3, 9.9, 3.3),
    (0.1, 0.3, 0.9, 0.3),
    (7, 3, 3, 7),
    (55, 100, 10, 5.5),
]


async def test_results_are_rescaled_without_float_noise(lti: LTIHarness, tool: AGSTool) -> None:
    for given, maximum, item_maximum, expected in RESCALED:
        item = await tool.create(scoreMaximum=item_maximum)
        await tool.score(item, scoreGiven=given, scoreMaximum=maximum)
        response = await tool.get(item["id"] + "/results")
        [result] = await response.json()
        assert result["resultScore"] == expected, (given, maximum, item_maximum)
        assert repr(expected) in await response.text()


async def test_extra_credit_is_allowed(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create(scoreMaximum=100)
    await tool.score(item, scoreGiven=12, scoreMaximum=10)
    [result] = await (await tool.get(item["id"] + "/results")).json()
    assert result["resultScore"] == 120 and result["resultMaximum"] == 100
    [scored] = await lti.statements(activity=item["id"], verb=VERBS + "scored")
    assert scored["result"]["score"] == {"scaled": 1.0, "raw": 12, "min": 0}
    assert scored["result"]["extensions"][AGS_SCORE]["scoreGiven"] == 12


async def test_the_tool_threshold_applies_unless_the_line_item_has_one(lti: LTIHarness) -> None:
    client = await lti.add_tool(passing_threshold=0.9)
    tool = AGSTool(lti, client, await lti.token(client))
    strict = await tool.create(label="strict")
    lenient = await tool.create(label="lenient", **{PASSING_THRESHOLD: 0.5})
    await tool.score(strict, scoreGiven=8, scoreMaximum=10)
    await tool.score(lenient, scoreGiven=8, scoreMaximum=10)
    assert await lti.statements(activity=strict["id"], verb=VERBS + "failed")
    assert await lti.statements(activity=lenient["id"], verb=VERBS + "passed")


@pytest.mark.parametrize(
    ("score", "path"),
    [
        ({"userId": None}, "userId"),
        ({"userId": ""}, "userId"),
        ({"activityProgress": "Done"}, "activityProgress"),
        ({"gradingProgress": None}, "gradingProgress"),
        ({"timestamp": "2026-03-01T10:00:00"}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": None}, "timestamp"),
        ({"scoreGiven": -1, "scoreMaximum": 10}, "scoreGiven"),
        ({"scoreGiven": "8", "scoreMaximum": 10}, "scoreGiven"),
        ({"scoreGiven": 8, "scoreMaximum": 0}, "scoreMaximum"),
        ({"comment": 5}, "comment"),
    ],
)
async def test_malformed_scores_are_400(tool: AGSTool, score: dict[str, Any], path: str) -> None:
    item = await tool.create()
    body = await tool.score(item, status=400, **score)
    assert body["path"] == path and body["message"]


async def test_media_types_are_checked(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create()
    scores = tool.path(item["id"]) + "/scores"
    for content_type in ("application/json", LINEITEM_MEDIA, "text/plain"):
        response = await lti.http.post(
            scores, data=b"{}", headers={**tool.auth, "Content-Type": content_type}
        )
        assert response.status == 415, content_type
        assert (await response.json())["error"] == "unsupported_media_type"
    response = await lti.http.post(
        tool.container, data=b"{}", headers={**tool.auth, "Content-Type": SCORE_MEDIA}
    )
    assert response.status == 415
    response = await lti.http.post(
        scores, data=b"{not json", headers={**tool.auth, "Content-Type": SCORE_MEDIA}
    )
    assert response.status == 400 and (await response.json())["error"] == "bad_request"


async def test_unknown_and_foreign_line_items(lti: LTIHarness, tool: AGSTool) -> None:
    other_client = await lti.add_tool(key_index=1, name="other")
    other = AGSTool(lti, other_client, await lti.token(other_client))
    theirs = await other.create()
    their_id = theirs["id"].rsplit("/", 1)[1]
    mine = f"{tool.container}/{their_id}"
    # another tool's line item is answered exactly as a missing one: its existence stays hidden
    missing = await lti.http.get(f"{tool.container}/{'f' * len(their_id)}", headers=tool.auth)
    expected = (await missing.json()) | {"message": f"no line item {their_id}"}
    assert missing.status == 404
    for method, suffix, body, media in (
        ("GET", "", None, None),
        ("PUT", "", {"label": "mine now", "scoreMaximum": 1}, LINEITEM_MEDIA),
        ("DELETE", "", None, None),
        ("POST", "/scores", {"userId": "u"}, SCORE_MEDIA),
        ("GET", "/results", None, None),
    ):
        headers = {**tool.auth, **({"Content-Type": media} if media else {})}
        response = await lti.http.request(method, mine + suffix, json=body, headers=headers)
        assert response.status == 404, (method, suffix)
        assert await response.json() == expected, (method, suffix)
    response = await lti.http.get(other.path(theirs["id"]), headers=other.auth)
    assert response.status == 200 and (await response.json())["label"] == theirs["label"]
    for method in ("GET", "DELETE"):
        response = await lti.http.request(method, f"{tool.container}/0000", headers=tool.auth)
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
    response = await lti.http.post(
        f"{tool.container}/0000/scores",
        json={"userId": "u"},
        headers={**tool.auth, "Content-Type": SCORE_MEDIA},
    )
    assert response.status == 404
    response = await lti.http.get(f"{tool.container}/0000/results", headers=tool.auth)
    assert response.status == 404


@pytest.mark.parametrize("name", ["startDateTime", "endDateTime"])
async def test_impossible_line_item_dates_are_400_naming_the_field(
    lti: LTIHarness, tool: AGSTool, name: str
) -> None:
    headers = {**tool.auth, "Content-Type": LINEITEM_MEDIA}
    body = {"label": "Quiz 1", "scoreMaximum": 10, name: "2024-01-01T12:99:00Z"}
    response = await lti.http.post(tool.container, json=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["path"] == name
    listed = await (await tool.get(BASE + tool.container)).json()
    assert listed == []
    item = await tool.create(**{name: "2024-01-01T12:00:00Z"})
    response = await lti.http.put(tool.path(item["id"]), json=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["path"] == name
    kept = await (await tool.get(item["id"])).json()
    assert kept[name] == "2024-01-01T12:00:00Z"


async def test_an_impossible_score_timestamp_is_400(tool: AGSTool) -> None:
    item = await tool.create()
    answer = await tool.score(
        item, status=400, scoreGiven=5, scoreMaximum=10, timestamp="2026-02-30T10:00:00Z"
    )
    assert answer["path"] == "timestamp"


async def test_put_and_delete_a_line_item(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create(tag="a")
    changed = {**item, "label": "Renamed", "scoreMaximum": 20, "tag": "b"}
    response = await lti.http.put(
        tool.path(item["id"]), json=changed, headers={**tool.auth, "Content-Type": LINEITEM_MEDIA}
    )
    assert response.status == 200 and await response.json() == changed
    assert await (await tool.get(item["id"])).json() == changed
    wrong = {**changed, "id": BASE + tool.container + "/ffff"}
    response = await lti.http.put(
        tool.path(item["id"]), json=wrong, headers={**tool.auth, "Content-Type": LINEITEM_MEDIA}
    )
    assert response.status == 400
    await tool.score(item, scoreGiven=5, scoreMaximum=10)
    response = await lti.http.delete(tool.path(item["id"]), headers=tool.auth)
    assert response.status == 204
    response = await lti.http.get(tool.path(item["id"]), headers=tool.auth)
    assert response.status == 404
    # the statements stay: they are history
    assert len(await lti.statements(activity=item["id"])) == 2


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ({"label": ""}, "label"),
        ({"label": None}, "label"),
        ({"scoreMaximum": 0}, "scoreMaximum"),
        ({"scoreMaximum": "10"}, "scoreMaximum"),
        ({"scoreMaximum": True}, "scoreMaximum"),
        ({"tag": 5}, "tag"),
        ({"resourceLinkId": ["x"]}, "resourceLinkId"),
        ({"startDateTime": "2026-01-01"}, "startDateTime"),
        ({"gradesReleased": "yes"}, "gradesReleased"),
        ({PASSING_THRESHOLD: 1.5}, PASSING_THRESHOLD),
    ],
)
async def test_malformed_line_items_are_400(
    lti: LTIHarness, tool: AGSTool, item: dict[str, Any], path: str
) -> None:
    body = {"label": "x", "scoreMaximum": 10, **item}
    response = await lti.http.post(
        tool.container, json=body, headers={**tool.auth, "Content-Type": LINEITEM_MEDIA}
    )
    assert response.status == 400
    assert (await response.json())["path"] == path
    response = await lti.http.post(
        tool.container, json=[body], headers={**tool.auth, "Content-Type": LINEITEM_MEDIA}
    )
    assert response.status == 400


async def test_paging_survives_a_lower_cased_link(lti: LTIHarness, tool: AGSTool) -> None:
    created = [
        await tool.create(label=f"Item {n}", tag="Week-1" if n % 2 else "x") for n in range(7)
    ]
    # a library that lower-cases the whole Link header, then follows it
    seen: list[dict[str, Any]] = []
    response = await tool.get(BASE + tool.container, limit="2")
    while True:
        seen += await response.json()
        link = response.headers.get("Link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        url = link.lower()[1 : link.index(">")]
        response = await tool.get(url)
    assert seen == created
    # the filter travels in the cursor too, whatever the case it comes back in
    response = await tool.get(BASE + tool.container, tag="Week-1", limit="1")
    tagged = await response.json()
    while "Link" in response.headers:
        link = response.headers["Link"].lower()
        response = await tool.get(link[1 : link.index(">")])
        tagged += await response.json()
    assert [i["label"] for i in tagged] == ["Item 1", "Item 3", "Item 5"]


async def test_find_a_line_item_by_tag_listing_everything(tool: AGSTool) -> None:
    for n in range(3):
        await tool.create(label=f"Item {n}", tag=f"t{n}")
    everything = await (await tool.get(BASE + tool.container)).json()
    assert next(i for i in everything if i["tag"] == "t2")["label"] == "Item 2"
    filtered = await (await tool.get(BASE + tool.container, tag="t1")).json()
    assert [i["label"] for i in filtered] == ["Item 1"]
    assert await (await tool.get(BASE + tool.container, resource_link_id="none")).json() == []


async def test_results_page_and_filter(lti: LTIHarness, tool: AGSTool) -> None:
    item = await tool.create()
    users = ["Zed", "amy", "bob", "Carl"]
    for user in users:
        await tool.score(item, userId=user, scoreGiven=5, scoreMaximum=10)
    response = await tool.get(item["id"] + "/results", limit="3")
    page = await response.json()
    link = response.headers["Link"].lower()
    page += await (await tool.get(link[1 : link.index(">")])).json()
    assert [r["userId"] for r in page] == sorted(users)
    only = await (await tool.get(item["id"] + "/results", user_id="Carl")).json()
    assert [r["userId"] for r in only] == ["Carl"]
    assert await (await tool.get(only[0]["id"])).json() == only


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "x"}, {"page": "zz"}, {"page": "7b7d"}, {"page": "5b315d"}]
)
async def test_bad_paging_parameters_are_400(
    lti: LTIHarness, tool: AGSTool, params: dict[str, str]
) -> None:
    response = await lti.http.get(tool.container, params=params, headers=tool.auth)
    assert response.status == 400
    assert (await response.json())["message"]


async def test_all_scopes_when_registered_so(lti: LTIHarness, backend: Backend) -> None:
    client = await lti.add_tool(scopes=AGS_SCOPES)
    token = await lti.token(client)
    tool = AGSTool(lti, client, token)
    assert await tool.create()
