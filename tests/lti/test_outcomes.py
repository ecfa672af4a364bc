"""LTI 1.1 Basic Outcomes, acting as a tool: POX requests signed with oauthlib's client."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import oauthlib.oauth1
import pytest

from lti.keys import lti_settings_key, lti_stores_key, vault_key
from lti.registry import NewConsumer
from lti.sourcedids import ResultRef, SourcedIds
from lti.vault import CONSUMER_SECRET
from tests.lti.conftest import BASE, LTIHarness, basic

OUTCOMES_URL = BASE + "/lti/1.1/outcomes"
VERBS = "http://adlnet.gov/expapi/verbs/"


def envelope(operation: str, sourced_id: str, *, score: str | None = None, message_id="m-1") -> str:
    result = ""
    if score is not None:
        result = (
            "<result><resultScore><language>en</language>"
            f"<textString>{score}</textString></resultScore></result>"
        )
    return (
        '<?xml version = "1.0" encoding = "UTF-8"?>\n'
        '<imsx_POXEnvelopeRequest xmlns="http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0">'
        "<imsx_POXHeader><imsx_POXRequestHeaderInfo><imsx_version>V1.0</imsx_version>"
        f"<imsx_messageIdentifier>{message_id}</imsx_messageIdentifier>"
        "</imsx_POXRequestHeaderInfo></imsx_POXHeader>"
        f"<imsx_POXBody><{operation}Request><resultRecord><sourcedGUID>"
        f"<sourcedId>{sourced_id}</sourcedId></sourcedGUID>{result}"
        f"</resultRecord></{operation}Request></imsx_POXBody></imsx_POXEnvelopeRequest>"
    )


class LegacyTool:
    """An LTI 1.1 tool holding a consumer key and secret."""

    def __init__(self, lti: LTIHarness, new: NewConsumer) -> None:
        self.lti = lti
        self.key = new.consumer.key
        self.secret = new.secret

    def sign(
        self, body: str, *, url: str = OUTCOMES_URL, secret: str | None = None, **client: Any
    ) -> dict[str, str]:
        signer = oauthlib.oauth1.Client(
            self.key,
            client_secret=secret or self.secret,
            signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA1,
            **client,
        )
        _uri, headers, _body = signer.sign(
            url, http_method="POST", body=body, headers={"Content-Type": "application/xml"}
        )
        return headers

    async def send(
        self, body: str, headers: dict[str, str] | None = None, *, status: int = 200, **sign: Any
    ) -> dict[str, str]:
        headers = headers or self.sign(body, **sign)
        response = await self.lti.http.post(
            "/lti/1.1/outcomes", data=body.encode(), headers=headers
        )
        text = await response.text()
        assert response.status == status, text
        assert response.content_type == "application/xml"
        return parse_response(text)

    def sourced_id(self, user: str = "learner-1", link: str = "link-1") -> str:
        return SourcedIds(self.lti.app[vault_key]).mint(ResultRef(self.key, link, user))


def parse_response(text: str) -> dict[str, str]:
    fields = {}
    for name in (
        "imsx_codeMajor",
        "imsx_severity",
        "imsx_description",
        "imsx_messageRefIdentifier",
        "imsx_operationRefIdentifier",
        "textString",
    ):
        found = re.search(f"<{name}>(.*?)</{name}>", text, re.S)
        if found:
            fields[name] = found.group(1)
    fields["body"] = text
    return fields


@pytest.fixture
async def tool(lti: LTIHarness) -> LegacyTool:
    return LegacyTool(
        lti, await lti.add_consumer(passing_threshold=0.7, user_home_page="https://lms.example")
    )


async def test_replace_read_delete(lti: LTIHarness, tool: LegacyTool) -> None:
    sourced = tool.sourced_id()
    answer = await tool.send(envelope("replaceResult", sourced, score="0.92", message_id="abc 1"))
    assert answer["imsx_codeMajor"] == "success"
    assert answer["imsx_messageRefIdentifier"] == "abc 1"
    assert answer["imsx_operationRefIdentifier"] == "replaceResult"
    assert "<replaceResultResponse></replaceResultResponse>" in answer["body"]
    statements = await lti.statements(
        agent='{"account":{"homePage":"https://lms.example","name":"learner-1"}}'
    )
    verbs = sorted(s["verb"]["id"].removeprefix(VERBS) for s in statements)
    assert verbs == ["completed", "passed", "scored"]
    scored = next(s for s in statements if s["verb"]["id"].endswith("scored"))
    assert scored["result"]["score"] == {"scaled": 0.92, "raw": 0.92, "min": 0, "max": 1.0}
    assert scored["object"]["id"] == f"{BASE}/lti/1.1/consumers/{tool.key}/links/link-1"
    assert scored["authority"]["account"]["name"] == f"lti-consumer:{tool.key}"

    read = await tool.send(envelope("readResult", sourced, message_id="r1"))
    assert read["imsx_codeMajor"] == "success" and read["textString"] == "0.92"

    deleted = await tool.send(envelope("deleteResult", sourced, message_id="d1"))
    assert deleted["imsx_codeMajor"] == "success"
    remaining = await lti.statements(activity=scored["object"]["id"])
    # only the voiding statements match now (xAPI: a StatementRef matches its target's filters)
    assert {s["verb"]["id"] for s in remaining} == {VERBS + "voided"}
    assert sorted(s["object"]["id"] for s in remaining) == sorted(s["id"] for s in statements)
    voided = await lti.http.get(
        "/xapi/statements",
        params={"voidedStatementId": scored["id"]},
        headers={"Authorization": lti.xapi_auth, "X-Experience-API-Version": "1.0.3"},
    )
    assert voided.status == 200
    read = await tool.send(envelope("readResult", sourced, message_id="r2"))
    assert read["imsx_codeMajor"] == "success" and read["textString"] == ""
    # a second delete finds nothing and is still a success
    again = await tool.send(envelope("deleteResult", sourced, message_id="d2"))
    assert again["imsx_codeMajor"] == "success"


async def test_delete_voids_every_score_of_the_result(lti: LTIHarness, tool: LegacyTool) -> None:
    sourced = tool.sourced_id()
    await tool.send(envelope("replaceResult", sourced, score="0.5", message_id="1"))
    await tool.send(envelope("replaceResult", sourced, score="0.8", message_id="2"))
    link = f"{BASE}/lti/1.1/consumers/{tool.key}/links/link-1"
    assert len(await lti.statements(activity=link)) == 6  # failed, then passed
    await tool.send(envelope("deleteResult", sourced, message_id="3"))
    remaining = await lti.statements(activity=link)
    assert {s["verb"]["id"] for s in remaining} == {VERBS + "voided"} and len(remaining) == 6


async def test_a_resent_replace_is_stored_once(lti: LTIHarness, tool: LegacyTool) -> None:
    sourced = tool.sourced_id()
    body = envelope("replaceResult", sourced, score="0.4", message_id="same")
    await tool.send(body)
    await tool.send(body)  # signed again (new nonce), same message
    link = f"{BASE}/lti/1.1/consumers/{tool.key}/links/link-1"
    assert len(await lti.statements(activity=link)) == 3


@pytest.mark.parametrize("score", ["1.01", "-0.1", "abc", "", "0,5", "NaN", "1e-1", "Infinity"])
async def test_scores_outside_the_range_fail(lti: LTIHarness, tool: LegacyTool, score: str) -> None:
    answer = await tool.send(
        envelope("replaceResult", tool.sourced_id(), score=score, message_id="x")
    )
    assert answer["imsx_codeMajor"] == "failure"
    assert answer["imsx_severity"] == "error"
    assert answer["imsx_messageRefIdentifier"] == "x"
    assert await lti.statements() == []


@pytest.mark.parametrize("score", ["0", "1", "1.0", "0.0", ".5", "0.333333"])
async def test_scores_in_range_succeed(tool: LegacyTool, score: str) -> None:
    answer = await tool.send(envelope("replaceResult", tool.sourced_id(), score=score))
    assert answer["imsx_codeMajor"] == "success"


async def test_a_forged_sourced_id_fails(lti: LTIHarness, tool: LegacyTool) -> None:
    real = tool.sourced_id(user="learner-1")
    other = tool.sourced_id(user="learner-2")
    forged = real.split(".")[0] + "." + other.split(".")[1]
    for sourced in (forged, "12345", real + "x", ""):
        answer = await tool.send(envelope("replaceResult", sourced, score="1"))
        assert answer["imsx_codeMajor"] == "failure", sourced
    assert await lti.statements() == []


async def test_another_consumers_sourced_id_fails(lti: LTIHarness, tool: LegacyTool) -> None:
    other = LegacyTool(lti, await lti.add_consumer(name="other"))
    answer = await other.send(envelope("replaceResult", tool.sourced_id(), score="1"))
    assert answer["imsx_codeMajor"] == "failure"
    assert "another consumer" in answer["imsx_description"]


async def test_a_wrong_secret_is_401(lti: LTIHarness, tool: LegacyTool) -> None:
    body = envelope("replaceResult", tool.sourced_id(), score="1", message_id="w")
    answer = await tool.send(body, status=401, secret="not-the-secret")
    assert answer["imsx_codeMajor"] == "failure"
    assert answer["imsx_messageRefIdentifier"] == "w"
    assert await lti.statements() == []


async def test_an_unknown_key_is_401(lti: LTIHarness, tool: LegacyTool) -> None:
    tool.key = "unknown-key"
    await tool.send(envelope("readResult", "x"), status=401)


async def test_a_tampered_body_is_401(lti: LTIHarness, tool: LegacyTool) -> None:
    body = envelope("replaceResult", tool.sourced_id(), score="0.1")
    headers = tool.sign(body)
    answer = await tool.send(body.replace("0.1", "1.0"), headers, status=401)
    assert "body_hash" in answer["imsx_description"]


async def test_a_missing_body_hash_is_401(lti: LTIHarness, tool: LegacyTool) -> None:
    body = envelope("replaceResult", tool.sourced_id(), score="0.1")
    # signed as a form so that oauthlib adds no oauth_body_hash, then sent as XML
    signer = oauthlib.oauth1.Client(tool.key, client_secret=tool.secret)
    _uri, headers, _ = signer.sign(OUTCOMES_URL, http_method="POST")
    assert "oauth_body_hash" not in headers["Authorization"]
    await tool.send(body, {**headers, "Content-Type": "application/xml"}, status=401)


async def test_a_replayed_request_is_401(lti: LTIHarness, tool: LegacyTool) -> None:
    body = envelope("replaceResult", tool.sourced_id(), score="0.3")
    headers = tool.sign(body)
    await tool.send(body, headers)
    answer = await tool.send(body, headers, status=401)
    assert "nonce" in answer["imsx_description"]


async def test_an_old_timestamp_is_401(tool: LegacyTool) -> None:
    body = envelope("readResult", tool.sourced_id())
    await tool.send(body, status=401, timestamp=str(int(time.time()) - 3600))


async def test_the_signature_is_checked_against_the_public_url(tool: LegacyTool) -> None:
    body = envelope("readResult", tool.sourced_id())
    await tool.send(body, status=401, url="http://127.0.0.1:8080/lti/1.1/outcomes")


async def test_forwarded_headers_count_only_when_trusted(lti: LTIHarness, tool: LegacyTool) -> None:
    public = "https://proxy.example/lrs/lti/1.1/outcomes"
    body = envelope("readResult", tool.sourced_id())
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "proxy.example",
        "X-Forwarded-Prefix": "/lrs",
    }
    await tool.send(body, {**tool.sign(body, url=public), **forwarded}, status=401)
    settings = lti.app[lti_settings_key]
    object.__setattr__(settings, "trust_proxy", True)
    answer = await tool.send(body, {**tool.sign(body, url=public), **forwarded})
    assert answer["imsx_codeMajor"] == "success"


async def test_external_entities_and_dtds_are_refused(lti: LTIHarness, tool: LegacyTool) -> None:
    for body in (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<imsx_POXEnvelopeRequest>&x;</imsx_POXEnvelopeRequest>",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<imsx_POXEnvelopeRequest>&b;</imsx_POXEnvelopeRequest>",
        "not xml at all",
        "<other/>",
    ):
        answer = await tool.send(body, status=400)
        assert answer["imsx_codeMajor"] == "failure"
        assert "passwd" not in answer["body"] and "root:" not in answer["body"]


async def test_unknown_operations_are_unsupported(tool: LegacyTool) -> None:
    answer = await tool.send(envelope("readMembership", tool.sourced_id(), message_id="u"))
    assert answer["imsx_codeMajor"] == "unsupported"
    assert answer["imsx_operationRefIdentifier"] == "readMembership"
    assert answer["imsx_messageRefIdentifier"] == "u"


async def test_the_media_type_must_be_xml(lti: LTIHarness, tool: LegacyTool) -> None:
    body = envelope("readResult", tool.sourced_id())
    headers = {**tool.sign(body), "Content-Type": "application/json"}
    answer = await tool.send(body, headers, status=415)
    assert answer["imsx_codeMajor"] == "failure"


async def test_no_authorization_is_401(lti: LTIHarness, tool: LegacyTool) -> None:
    body = envelope("readResult", tool.sourced_id())
    answer = await tool.send(body, {"Content-Type": "application/xml"}, status=401)
    assert answer["imsx_codeMajor"] == "failure"


async def test_secrets_are_encrypted_and_never_logged(
    lti: LTIHarness, tool: LegacyTool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stored = await lti.app[lti_stores_key].registrations.get_consumer(tool.key)
    assert tool.secret not in stored.secret_enc and tool.secret not in repr(stored)
    assert (
        lti.app[vault_key].decrypt(CONSUMER_SECRET, stored.secret_enc, bound_to=tool.key).decode()
        == tool.secret
    )
    await tool.send(envelope("replaceResult", tool.sourced_id(), score="0.5"))
    await tool.send(envelope("readResult", "x"), status=401, secret="wrong")
    assert tool.secret not in caplog.text


async def test_sourced_ids_are_minted_by_an_authenticated_call(
    lti: LTIHarness, tool: LegacyTool
) -> None:
    body = {"consumer_key": tool.key, "resource_link_id": "link-9", "user_id": "learner-9"}
    response = await lti.http.post("/lti/1.1/sourcedids", json=body)
    assert response.status == 401
    from lrs.auth import create_credential

    reader = await create_credential(lti.backend.credentials, "reader", ["statements/read"])
    response = await lti.http.post(
        "/lti/1.1/sourcedids",
        json=body,
        headers={"Authorization": basic(reader.credential.key, reader.secret)},
    )
    assert response.status == 403
    response = await lti.http.post(
        "/lti/1.1/sourcedids", json=body, headers={"Authorization": lti.xapi_auth}
    )
    assert response.status == 201
    minted = await response.json()
    assert minted["lis_outcome_service_url"] == OUTCOMES_URL
    answer = await tool.send(envelope("replaceResult", minted["lis_result_sourcedid"], score="1"))
    assert answer["imsx_codeMajor"] == "success"
    for bad in ({**body, "consumer_key": "nope"}, {**body, "user_id": ""}, [body]):
        response = await lti.http.post(
            "/lti/1.1/sourcedids", json=bad, headers={"Authorization": lti.xapi_auth}
        )
        assert response.status in (400, 404)
        assert (await response.json())["message"]
