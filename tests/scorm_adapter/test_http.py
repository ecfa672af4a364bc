"""The SCORM runtime endpoint over HTTP: open an attempt, commit in every shape runtimes use."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_log import AccessLogger

from lrs.auth import create_credential
from scorm_adapter.settings import KEY_FILE_NAME
from scorm_adapter.tokens import CommitClaims, TokenSigner, load_signing_key
from scorm_adapter.vocabulary import ATTEMPT_STATE_ID, SUSPEND_DATA_STATE_ID
from tests.scorm_adapter.conftest import COURSE, LEARNER, SCO, ScormClient, basic
from tests.scorm_adapter.helpers import valid_document

VERBS = "http://adlnet.gov/expapi/verbs/"


def verb_names(statements: list[dict]) -> list[str]:
    return sorted(s["verb"]["id"].removeprefix(VERBS) for s in statements)


# --- opening an attempt ------------------------------------------------------------------


async def test_open_answers_a_commit_url_with_a_token(scorm: ScormClient) -> None:
    opened = await scorm.open()
    assert opened["result"] is True
    assert opened["resumed"] is False
    assert opened["attempt"].startswith(SCO + "?attemptId=")
    path = urlsplit(opened["commitUrl"]).path
    assert path.startswith("/scorm/v1/commits/")
    assert opened["expiresAt"] > time.time() + 3600


async def test_open_needs_basic_auth_and_statements_write(scorm: ScormClient) -> None:
    body = {"learner": LEARNER, "course": COURSE, "sco": SCO, "scormVersion": "1.2"}
    response = await scorm.http.post("/scorm/v1/attempts", json=body)
    assert response.status == 401
    assert "WWW-Authenticate" in response.headers
    assert (await response.json())["result"] is False
    reader, _ = await scorm.credential("statements/read")
    response = await scorm.http.post(
        "/scorm/v1/attempts", json=body, headers={"Authorization": reader}
    )
    assert response.status == 403


@pytest.mark.parametrize(
    ("fields", "element"),
    [
        ({"learner": None}, "learner"),
        ({"learner": {"name": "no IFI"}}, "learner"),
        ({"sco": "not an IRI"}, "sco"),
        ({"course": "urn:"}, "course"),
        ({"learner": {"mbox": "mailto:nobody"}}, "learner.mbox"),
        ({"scormVersion": "3"}, "scormVersion"),
        ({"registration": "nope"}, "registration"),
        ({"bogus": 1}, "bogus"),
        ({"lmsData": {"cmi.core.lesson_status": "passed"}}, "cmi.core.lesson_status"),
    ],
)
async def test_open_rejects_bad_fields_naming_them(
    scorm: ScormClient, fields: dict, element: str
) -> None:
    answer = await scorm.open(expect=400, **fields)
    assert answer["result"] is False
    assert answer["errorCode"] == 101
    assert answer["element"] == element


async def test_preflight_of_the_commit_url_is_answered(scorm: ScormClient) -> None:
    opened = await scorm.open()
    response = await scorm.http.options(
        urlsplit(opened["commitUrl"]).path,
        headers={
            "Origin": "https://content.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- commits in every shape --------------------------------------------------------------


async def test_nested_json_commit_stores_statements(scorm: ScormClient) -> None:
    opened = await scorm.open(scormVersion="2004")
    answer = await scorm.commit(
        opened["commitUrl"],
        {
            "cmi": {
                "entry": "ab-initio",
                "completion_status": "completed",
                "success_status": "passed",
                "score": {"scaled": "0.9"},
                "interactions": [
                    {"id": "q1", "type": "true-false", "learner_response": "true"},
                ],
            }
        },
    )
    assert answer["result"] is True and answer["errorCode"] == 0
    assert answer["status"] == "applied"
    stored = await scorm.statements(activity=SCO, related_activities="true")
    assert sorted(s["id"] for s in stored) == sorted(answer["statementIds"])
    assert verb_names(stored) == ["completed", "initialized", "passed", "responded", "scored"]


async def test_flattened_json_commit(scorm: ScormClient) -> None:
    opened = await scorm.open()
    answer = await scorm.commit(
        opened["commitUrl"],
        {"cmi.core.entry": "ab-initio", "cmi.core.lesson_status": "passed"},
    )
    assert verb_names(await scorm.statements(activity=SCO)) == ["initialized", "passed"]
    assert len(answer["statementIds"]) == 2


async def test_form_commit_with_brackets(scorm: ScormClient) -> None:
    opened = await scorm.open()
    body = "cmi%5Bcore%5D%5Bentry%5D=ab-initio&cmi.core.lesson_status=completed"
    await scorm.commit(opened["commitUrl"], body, content_type="application/x-www-form-urlencoded")
    assert verb_names(await scorm.statements(activity=SCO)) == ["completed", "initialized"]


async def test_text_plain_beacon_without_authorization(scorm: ScormClient) -> None:
    """navigator.sendBeacon(url, new Blob([JSON.stringify(cmi)], {type: "text/plain"}))."""
    opened = await scorm.open()
    beacon = json.dumps({"cmi": {"core": {"entry": "ab-initio", "lesson_status": "failed"}}})
    answer = await scorm.commit(
        opened["commitUrl"],
        beacon.encode(),
        content_type="text/plain;charset=UTF-8",
        params={"finish": "true"},
    )
    assert answer["finished"] is True
    assert verb_names(await scorm.statements(activity=SCO)) == [
        "failed",
        "initialized",
        "terminated",
    ]


async def test_text_plain_beacon_with_form_fields_and_multipart(scorm: ScormClient) -> None:
    opened = await scorm.open()
    await scorm.commit(
        opened["commitUrl"],
        "cmi.core.entry=ab-initio&seq=1",
        content_type="text/plain",
    )
    path = urlsplit(opened["commitUrl"]).path
    form = {"cmi.core.lesson_status": "passed", "seq": "2", "finish": "true"}
    # what navigator.sendBeacon(url, new FormData(...)) sends: multipart/form-data
    data = aiohttp.FormData(form, default_to_multipart=True)
    response = await scorm.http.post(path, data=data)
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["seq"] == 2 and answer["finished"] is True
    assert verb_names(await scorm.statements(activity=SCO)) == [
        "initialized",
        "passed",
        "terminated",
    ]


# --- order and duplicates ----------------------------------------------------------------


async def test_the_same_commit_twice_changes_nothing(scorm: ScormClient) -> None:
    opened = await scorm.open()
    commit = {"cmi.core.entry": "ab-initio", "cmi.core.lesson_status": "passed"}
    first = await scorm.commit(opened["commitUrl"], commit)
    again = await scorm.commit(opened["commitUrl"], commit)
    assert again["result"] is True
    assert again["status"] == "duplicate" and again["statementIds"] == []
    assert len(await scorm.statements(activity=SCO)) == len(first["statementIds"]) == 2


async def test_an_older_commit_never_overwrites_a_newer_one_by_seq(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    await scorm.commit(url, {"cmi.core.entry": "ab-initio"}, params={"seq": "1"})
    newer = {"cmi.core.score.raw": "80", "cmi.core.lesson_status": "passed"}
    await scorm.commit(url, newer, params={"seq": "3"})
    older = {"cmi.core.score.raw": "50", "cmi.core.lesson_status": "failed"}
    late = await scorm.commit(url, older, params={"seq": "2"})
    assert late["status"] == "stale" and late["statementIds"] == []
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == ["initialized", "passed", "scored"]
    [scored] = [s for s in stored if s["verb"]["id"].endswith("scored")]
    assert scored["result"]["score"]["raw"] == 80


async def test_seq_reused_with_other_data_is_409(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    await scorm.commit(url, {"cmi.core.lesson_status": "incomplete", "seq": 4})
    answer = await scorm.commit(url, {"cmi.core.lesson_status": "passed", "seq": 4}, expect=409)
    assert answer["result"] is False and answer["errorCode"] == 101


async def test_async_commit_overtaken_by_the_finish_beacon_is_stale(scorm: ScormClient) -> None:
    """No seq: receipt order, and the finish commit is final."""
    opened = await scorm.open(scormVersion="2004")
    url = opened["commitUrl"]
    await scorm.commit(url, {"cmi.entry": "ab-initio"})
    final = {"cmi.completion_status": "completed", "cmi.exit": "normal", "cmi.score.scaled": "1"}
    await scorm.commit(url, json.dumps(final), content_type="text/plain", params={"finish": "1"})
    overtaken = {"cmi.completion_status": "incomplete", "cmi.score.scaled": "0.4"}
    late = await scorm.commit(url, overtaken)
    assert late["status"] == "stale"
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == ["completed", "initialized", "scored", "terminated"]
    assert all(
        s["result"]["score"]["scaled"] == 1 for s in stored if "score" in s.get("result", {})
    )


async def test_a_shorter_session_time_is_older(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    await scorm.commit(url, {"cmi.core.session_time": "00:10:00", "cmi.core.score.raw": "70"})
    late = await scorm.commit(
        url, {"cmi.core.session_time": "00:05:00", "cmi.core.score.raw": "40"}
    )
    assert late["status"] == "stale"


async def test_status_flapping_back_regenerates_nothing(scorm: ScormClient) -> None:
    opened = await scorm.open(scormVersion="2004")
    url = opened["commitUrl"]
    for status in ("completed", "incomplete", "completed"):
        await scorm.commit(url, {"cmi.completion_status": status})
    assert verb_names(await scorm.statements(activity=SCO)) == ["completed", "initialized"]


async def test_commit_after_the_session_finished_with_seq_is_409(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    await scorm.commit(url, {"cmi.core.lesson_status": "passed", "seq": 1, "finish": True})
    await scorm.commit(url, {"cmi.core.lesson_location": "p2", "seq": 2}, expect=409)


# --- tokens ------------------------------------------------------------------------------


async def test_tampered_token_is_403(scorm: ScormClient) -> None:
    opened = await scorm.open()
    path = urlsplit(opened["commitUrl"]).path
    payload, signature = path.rsplit("/", 1)[1].split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    response = await scorm.http.post(f"/scorm/v1/commits/{forged}", json={})
    assert response.status == 403
    assert (await response.json())["result"] is False
    response = await scorm.http.post("/scorm/v1/commits/garbage", json={})
    assert response.status == 403


async def test_expired_token_is_401_without_a_login_prompt(scorm: ScormClient) -> None:
    opened = await scorm.open()
    key = load_signing_key(None, scorm.data_dir / KEY_FILE_NAME)
    claims = CommitClaims(opened["attemptId"], opened["session"], int(time.time()) - 1)
    token = TokenSigner(key).sign(claims)
    response = await scorm.http.post(f"/scorm/v1/commits/{quote(token)}", json={})
    assert response.status == 401
    assert "WWW-Authenticate" not in response.headers
    answer = await response.json()
    assert answer["result"] is False and answer["error"] == "expired_token"


async def test_key_file_is_private(scorm: ScormClient) -> None:
    await scorm.open()
    assert (scorm.data_dir / KEY_FILE_NAME).stat().st_mode & 0o777 == 0o600


async def test_revoked_credential_stops_its_attempts(scorm: ScormClient) -> None:
    auth, key = await scorm.credential("statements/write")
    scorm.auth, own = auth, scorm.auth
    opened = await scorm.open()
    scorm.auth = own
    await scorm.backend.credentials.revoke_credential(key)
    answer = await scorm.commit(opened["commitUrl"], {"cmi.core.entry": "ab-initio"}, expect=403)
    assert answer["result"] is False


# --- bad data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commit", "element"),
    [
        ({"cmi.core.score.raw": "lots"}, "cmi.core.score.raw"),
        ({"cmi.core.score.raw": "120", "cmi.core.score.max": "100"}, "cmi.core.score.raw"),
        ({"cmi.core.lesson_status": "done"}, "cmi.core.lesson_status"),
        ({"cmi.completion_status": "completed"}, "cmi.completion_status"),
        ({"seq": -1}, "seq"),
    ],
)
async def test_bad_data_is_400_naming_the_element(
    scorm: ScormClient, commit: dict, element: str
) -> None:
    opened = await scorm.open()
    answer = await scorm.commit(opened["commitUrl"], commit, expect=400)
    assert answer["result"] is False and answer["element"] == element
    assert await scorm.statements(activity=SCO) == []


async def test_bad_bodies(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    assert (await scorm.commit(url, "{not json", expect=400))["element"] == "body"
    answer = await scorm.commit(url, "<xml/>", content_type="application/xml", expect=415)
    assert answer["result"] is False


async def test_a_bad_commit_leaves_the_attempt_as_it_was(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    await scorm.commit(
        url, {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "x"}, expect=400
    )
    answer = await scorm.commit(url, {"cmi.core.lesson_status": "passed"})
    assert answer["status"] == "applied" and len(answer["statementIds"]) == 2
    assert verb_names(await scorm.statements(activity=SCO)) == ["initialized", "passed"]


# --- documents ---------------------------------------------------------------------------


async def test_documents_of_the_profile(scorm: ScormClient) -> None:
    opened = await scorm.open(
        scormVersion="2004",
        lmsData={
            "cmi": {
                "learner_id": "E-1001",
                "learner_name": "Ada",
                "credit": "credit",
                "mode": "normal",
                "launch_data": "level=2",
                "scaled_passing_score": "0.8",
                "max_time_allowed": "PT1H30M",
            }
        },
    )
    url = opened["commitUrl"]
    await scorm.commit(
        url,
        {
            "cmi.location": "page-07",
            "cmi.suspend_data": "bookmark=7;answers=abc",
            "cmi.learner_preference.language": "fr-fr",
            "cmi.learner_preference.audio_level": "0.5",
        },
    )
    agent = json.dumps(LEARNER)
    attempt = opened["attempt"]
    status, state = await scorm.document(
        "/xapi/activities/state", activityId=attempt, agent=agent, stateId=ATTEMPT_STATE_ID
    )
    assert status == 200
    assert valid_document("attempt.state", state) == {
        "credit": "credit",
        "mode": "normal",
        "location": "page-07",
        "preferences": {"language": "fr-FR", "audio_level": 0.5},
    }
    status, suspend = await scorm.document(
        "/xapi/activities/state", activityId=attempt, agent=agent, stateId=SUSPEND_DATA_STATE_ID
    )
    assert (status, suspend) == (200, "bookmark=7;answers=abc")
    status, activity_state = await scorm.document(
        "/xapi/activities/state",
        activityId=SCO,
        agent=agent,
        stateId="https://w3id.org/xapi/scorm/activity-state",
    )
    assert valid_document("activity.state", activity_state) == {"attempts": [attempt]}
    _, profile = await scorm.document(
        "/xapi/agents/profile", agent=agent, profileId="https://w3id.org/xapi/scorm/agent-profile"
    )
    assert valid_document("agent.profile", profile) == {
        "learner_id": "E-1001",
        "learner_name": "Ada",
    }
    _, activity_profile = await scorm.document(
        "/xapi/activities/profile",
        activityId=SCO,
        profileId="https://w3id.org/xapi/scorm/activity-profile",
    )
    assert valid_document("activity.profile", activity_profile) == {
        "launch_data": "level=2",
        "scaled_passing_score": 0.8,
        "max_time_allowed": 5400,
    }


async def test_a_commit_cannot_change_what_the_lms_provides(scorm: ScormClient) -> None:
    opened = await scorm.open(lmsData={"cmi.launch_data": "from-lms"})
    await scorm.commit(opened["commitUrl"], {"cmi.launch_data": "from-browser"})
    _, activity_profile = await scorm.document(
        "/xapi/activities/profile",
        activityId=SCO,
        profileId="https://w3id.org/xapi/scorm/activity-profile",
    )
    assert activity_profile == {"launch_data": "from-lms"}


# --- sessions ----------------------------------------------------------------------------


async def test_resuming_an_attempt(scorm: ScormClient) -> None:
    first = await scorm.open()
    await scorm.commit(
        first["commitUrl"],
        {
            "cmi.core.entry": "ab-initio",
            "cmi.core.lesson_status": "incomplete",
            "cmi.core.exit": "suspend",
            "cmi.core.session_time": "00:20:00",
            "cmi.core.lesson_location": "p3",
        },
        params={"finish": "true"},
    )
    again = await scorm.open(expect=200, attempt=first["attempt"])
    assert again["resumed"] is True and again["attempt"] == first["attempt"]
    assert again["attemptId"] == first["attemptId"]
    stale = await scorm.commit(first["commitUrl"], {"cmi.core.lesson_location": "x"}, expect=409)
    assert stale["result"] is False
    await scorm.commit(
        again["commitUrl"],
        {
            "cmi.core.entry": "resume",
            "cmi.core.lesson_status": "passed",
            "cmi.core.session_time": "00:10:00",
            "cmi.core.exit": "",
        },
        params={"finish": "true"},
    )
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == ["initialized", "passed", "resumed", "suspended", "terminated"]
    _, state = await scorm.document(
        "/xapi/activities/state",
        activityId=first["attempt"],
        agent=json.dumps(LEARNER),
        stateId=ATTEMPT_STATE_ID,
    )
    assert valid_document("attempt.state", state) == {"location": "p3", "total_time": "PT30M"}


async def test_attempt_number_names_the_same_attempt(scorm: ScormClient) -> None:
    one = await scorm.open(attempt=1, registration="6a8b1c1e-5a5b-4b8a-9d59-1f5b1c2d3e4f")
    two = await scorm.open(
        expect=200, attempt=1, registration="6a8b1c1e-5a5b-4b8a-9d59-1f5b1c2d3e4f"
    )
    assert one["attempt"] == two["attempt"] and one["attemptId"] == two["attemptId"]


async def test_statements_carry_the_opening_credentials_authority(scorm: ScormClient) -> None:
    new = await create_credential(scorm.backend.credentials, "lms-x", ["all"])
    scorm.auth = basic(new.credential.key, new.secret)
    opened = await scorm.open()
    await scorm.commit(opened["commitUrl"], {"cmi.core.lesson_status": "passed"})
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == ["initialized", "passed"]
    assert {s["authority"]["account"]["name"] for s in stored} == {new.credential.key}


async def test_commit_tokens_never_reach_the_logs(
    scorm: ScormClient, caplog: pytest.LogCaptureFixture
) -> None:
    opened = await scorm.open()
    path = urlsplit(opened["commitUrl"]).path
    token = path.rsplit("/", 1)[1]
    access = AccessLogger(logging.getLogger("aiohttp.access"), AccessLogger.LOG_FORMAT)
    with caplog.at_level(logging.INFO):
        access.log(make_mocked_request("POST", path), web.Response(), 0.01)
        logging.getLogger("lrs.middlewares").error("unhandled error on POST %s", path)
    assert caplog.text.count("/scorm/v1/commits/<token>") == 2
    assert token not in caplog.text
    assert all(token not in str(getattr(r, "first_request_line", "")) for r in caplog.records)
