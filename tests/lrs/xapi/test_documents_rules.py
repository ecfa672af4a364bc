"""Unit tests for lrs.xapi.documents: parameters, merge, ETags and the concurrency decision.

Cases follow xAPI 1.0.3 Part 3 §2.2, §2.3, §2.6, §2.7, §3.1 and the 2.0 changes to §3.1
(`shared/reference/xapi-2.0-differences.md` §2.4).
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qsl

import pytest

from lrs.errors import BadRequest, Conflict, PreconditionFailed
from lrs.model.documents import ACTIVITY_PROFILE, AGENT_PROFILE, STATE, DocumentKey, DocumentScope
from lrs.xapi.documents import (
    Preconditions,
    check_json_content,
    check_preconditions,
    content_etag,
    is_json,
    merge_documents,
    parse_agent,
    parse_document_params,
    parse_preconditions,
    quote_etag,
)
from lrs.xapi.timestamps import timestamp_us

ACTIVITY = "http://example.com/activities/1"
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:Ada@Example.COM"})
AGENT_KEY = "mbox:mailto:Ada@example.com"
REG = "7E0B1A1C-6E56-4F0B-9C35-53D52E1F4A7C"


def params(**values: str) -> list[tuple[str, str]]:
    return list(values.items())


def state(method: str = "GET", **values: str):
    base = {"activityId": ACTIVITY, "agent": AGENT, **values}
    return parse_document_params(STATE, method, [(k, v) for k, v in base.items() if v != "-"])


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def test_state_single_document_key() -> None:
    parsed = state("PUT", stateId="s1", registration=REG)
    assert parsed.key == DocumentKey(STATE, ACTIVITY, AGENT_KEY, REG.lower(), "s1")


def test_state_without_registration_has_empty_registration_in_key_and_none_in_scope() -> None:
    parsed = state("GET", stateId="s1")
    assert parsed.key.registration == ""
    assert state("GET").scope == DocumentScope(STATE, ACTIVITY, AGENT_KEY, None)


def test_multi_get_accepts_since() -> None:
    parsed = state("GET", since="2024-01-02T03:04:05.678Z")
    assert parsed.doc_id is None
    assert parsed.since_us == timestamp_us("2024-01-02T03:04:05.678Z")


def test_head_is_parsed_as_get() -> None:
    assert state("HEAD", since="2024-01-02T03:04:05Z").since_us is not None


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_since_only_on_multiple_document_get(method: str) -> None:
    with pytest.raises(BadRequest) as err:
        state(method, stateId="s1", since="2024-01-02T03:04:05Z")
    assert err.value.details["parameter"] == "since"


def test_since_rejected_with_state_id_on_get() -> None:
    with pytest.raises(BadRequest, match="since"):
        state("GET", stateId="s1", since="2024-01-02T03:04:05Z")


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
@pytest.mark.parametrize("missing", ["activityId", "agent"])
def test_state_scope_parameters_required(method: str, missing: str) -> None:
    with pytest.raises(BadRequest) as err:
        state(method, stateId="s1", **{missing: "-"})
    assert err.value.details["parameter"] == missing
    assert missing in err.value.message


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_state_id_required_for_writes(method: str) -> None:
    with pytest.raises(BadRequest) as err:
        state(method)
    assert err.value.details["parameter"] == "stateId"


def test_state_delete_without_id_is_multiple_delete() -> None:
    assert state("DELETE").doc_id is None


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_profile_id_required_for_writes_and_delete(method: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_document_params(ACTIVITY_PROFILE, method, params(activityId=ACTIVITY))
    assert err.value.details["parameter"] == "profileId"


def test_profiles_keys() -> None:
    activity = parse_document_params(
        ACTIVITY_PROFILE, "PUT", params(activityId=ACTIVITY, profileId="p")
    )
    assert activity.key == DocumentKey(ACTIVITY_PROFILE, ACTIVITY, "", "", "p")
    agent = parse_document_params(AGENT_PROFILE, "PUT", params(agent=AGENT, profileId="p"))
    assert agent.key == DocumentKey(AGENT_PROFILE, "", AGENT_KEY, "", "p")


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (ACTIVITY_PROFILE, {"agent": AGENT}),
        (AGENT_PROFILE, {"activityId": ACTIVITY}),
        (ACTIVITY_PROFILE, {"registration": REG}),
        (STATE, {"profileId": "p"}),
        (STATE, {"StateId": "s"}),  # 1.0.3 Part 3 §3.2: case matters
        (STATE, {"foo": "bar"}),
    ],
)
def test_unknown_parameters_rejected(kind: str, extra: dict[str, str]) -> None:
    base = {
        STATE: {"activityId": ACTIVITY, "agent": AGENT},
        ACTIVITY_PROFILE: {"activityId": ACTIVITY},
        AGENT_PROFILE: {"agent": AGENT},
    }[kind]
    with pytest.raises(BadRequest, match="unknown parameter"):
        parse_document_params(kind, "GET", params(**base, **extra))


def test_repeated_parameter_rejected() -> None:
    items = [*params(activityId=ACTIVITY, agent=AGENT, stateId="a"), ("stateId", "b")]
    with pytest.raises(BadRequest, match="more than once"):
        parse_document_params(STATE, "GET", items)


def test_empty_id_rejected() -> None:
    with pytest.raises(BadRequest, match="must not be empty"):
        state("GET", stateId="")


@pytest.mark.parametrize("value", ["true", "not-a-uuid", "7e0b1a1c6e564f0b9c3553d52e1f4a7c"])
def test_registration_must_be_uuid(value: str) -> None:
    with pytest.raises(BadRequest) as err:
        state("GET", stateId="s", registration=value)
    assert err.value.details["parameter"] == "registration"


@pytest.mark.parametrize("value", ["true", "not a timestamp", "2024-13-01T00:00:00Z"])
def test_since_must_be_timestamp(value: str) -> None:
    with pytest.raises(BadRequest) as err:
        state("GET", since=value)
    assert err.value.details["parameter"] == "since"


@pytest.mark.parametrize("value", ["not an iri", "activity"])
def test_activity_id_must_be_iri(value: str) -> None:
    with pytest.raises(BadRequest) as err:
        state("GET", activityId=value)
    assert err.value.details["parameter"] == "activityId"


@pytest.mark.parametrize(
    "raw",
    [
        "not JSON",
        "true",
        "[]",
        '{"objectType": "Agent"}',
        '{"mbox": "mailto:a@example.com", "openid": "http://example.com/a"}',
        '{"objectType": "Group", "mbox": "mailto:g@example.com"}',
        '{"mbox": "a@example.com"}',
        '{"mbox_sha1sum": "xyz"}',
        '{"openid": "no scheme"}',
        '{"account": {"homePage": "http://example.com"}}',
        '{"account": {"homePage": "nope", "name": "x"}}',
        '{"objectType": "Agent", "account": {"homePage": "http://www.example.com/agentId/1", '
        '"name": "Rick James"}',  # broken JSON, as CTS XAPI-00235 sends it
    ],
)
def test_bad_agents_rejected(raw: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_agent(raw)
    assert err.value.details["parameter"] == "agent"


def test_agent_keys_by_ifi() -> None:
    account = {"homePage": "http://example.com", "name": "n"}
    assert parse_agent(json.dumps({"account": account})) == "account:http://example.com\nn"
    sha1 = "A" * 40
    assert parse_agent(json.dumps({"mbox_sha1sum": sha1})) == "mbox_sha1sum:" + "a" * 40
    assert parse_agent(json.dumps({"openid": "http://id.example.com/x"})) == (
        "openid:http://id.example.com/x"
    )
    # the same agent with a name or without objectType names the same documents
    named = json.dumps({"name": "Ada", "mbox": "mailto:Ada@example.com"})
    assert parse_agent(named) == AGENT_KEY


def test_query_string_round_trip() -> None:
    query = f"activityId={ACTIVITY}&agent={AGENT}&stateId=x%20y"
    assert state("GET", **dict(parse_qsl(query))).doc_id == "x y"


# --------------------------------------------------------------------------------------------
# Content, merge, ETags
# --------------------------------------------------------------------------------------------


def test_is_json_ignores_parameters_and_case() -> None:
    assert is_json("Application/JSON; charset=utf-8")
    assert not is_json("application/octet-stream")
    assert not is_json("")


@pytest.mark.parametrize("body", [b"{", b"NaN", b"", b"\xff", b"[" * 100_000])
def test_check_json_content_rejects(body: bytes) -> None:
    with pytest.raises(BadRequest):
        check_json_content(body)


def test_merge_is_top_level_only() -> None:
    # 1.0.3 Part 3 §2.2: the example from the spec, and a nested object replaced whole
    existing = b'{"x": "foo", "y": "bar", "n": {"a": 1, "b": 2}}'
    posted = b'{"x": "bash", "z": "faz", "n": {"c": 3}}'
    merged = merge_documents(existing, "application/json", posted, "application/json")
    assert json.loads(merged) == {"x": "bash", "y": "bar", "z": "faz", "n": {"c": 3}}


def test_merge_keeps_big_numbers_and_unicode() -> None:
    existing = b'{"big": 123456789012345678901234567890, "s": "\xc3\xa9"}'
    merged = merge_documents(existing, "application/json", b'{"t": "\\ud800"}', "application/json")
    assert json.loads(merged) == {"big": 123456789012345678901234567890, "s": "é", "t": "\ud800"}


@pytest.mark.parametrize(
    ("existing", "existing_type", "posted", "posted_type"),
    [
        (b"{}", "application/json", b"abc", "text/plain"),
        (b"abc", "application/octet-stream", b"{}", "application/json"),
        (b"[1]", "application/json", b"{}", "application/json"),
        (b"{}", "application/json", b"[1]", "application/json"),
        (b"{}", "application/json", b"{", "application/json"),
    ],
)
def test_merge_rejects_anything_but_two_json_objects(
    existing: bytes, existing_type: str, posted: bytes, posted_type: str
) -> None:
    with pytest.raises(BadRequest):
        merge_documents(existing, existing_type, posted, posted_type)


def test_etag_is_sha1_hex_and_quoted() -> None:
    tag = content_etag(b"hello")
    assert tag == hashlib.sha1(b"hello").hexdigest()
    assert quote_etag(tag) == f'"{tag}"'


def test_parse_preconditions() -> None:
    pre = parse_preconditions('"a", W/"b", c', "*")
    assert pre.if_match == ("a", "b", "c")
    assert pre.if_none_match == ("*",)
    assert parse_preconditions(None, "  ") == Preconditions()
    assert not Preconditions().any


# --------------------------------------------------------------------------------------------
# Concurrency (1.0.3 Part 3 §3.1; 2.0 differences §2.4)
# --------------------------------------------------------------------------------------------

V1, V2 = "1.0.3", "2.0.0"
NONE = Preconditions()
MATCH_A = Preconditions(if_match=("a",))
MATCH_ANY = Preconditions(if_match=("*",))
NONE_MATCH_ANY = Preconditions(if_none_match=("*",))
ALL_KINDS = [STATE, ACTIVITY_PROFILE, AGENT_PROFILE]


def decide(version: str, kind: str, method: str, pre: Preconditions, current: str | None):
    check_preconditions(version=version, kind=kind, method=method, pre=pre, current_etag=current)


@pytest.mark.parametrize("version", [V1, V2])
@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_if_match(version: str, kind: str, method: str) -> None:
    decide(version, kind, method, MATCH_A, "a")
    decide(version, kind, method, MATCH_ANY, "a")
    decide(version, kind, method, Preconditions(if_match=("x", "a")), "a")
    with pytest.raises(PreconditionFailed):
        decide(version, kind, method, MATCH_A, "b")
    with pytest.raises(PreconditionFailed):  # RFC 7232 §3.1: no current document, no match
        decide(version, kind, method, MATCH_ANY, None)


@pytest.mark.parametrize("version", [V1, V2])
@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_if_none_match(version: str, kind: str, method: str) -> None:
    decide(version, kind, method, NONE_MATCH_ANY, None)
    decide(version, kind, method, Preconditions(if_none_match=("x",)), "a")
    with pytest.raises(PreconditionFailed):
        decide(version, kind, method, NONE_MATCH_ANY, "a")
    with pytest.raises(PreconditionFailed):
        decide(version, kind, method, Preconditions(if_none_match=("a",)), "a")


@pytest.mark.parametrize("kind", [ACTIVITY_PROFILE, AGENT_PROFILE])
@pytest.mark.parametrize("version", [V1, V2])
def test_profile_put_without_headers_on_existing_is_409(kind: str, version: str) -> None:
    with pytest.raises(Conflict) as err:
        decide(version, kind, "PUT", NONE, "a")
    assert "If-Match" in err.value.message  # §3.1: explain how to resolve it


def test_state_put_without_headers_on_existing_is_409_in_2_0_only() -> None:
    decide(V1, STATE, "PUT", NONE, "a")
    with pytest.raises(Conflict):
        decide(V2, STATE, "PUT", NONE, "a")


@pytest.mark.parametrize("kind", [ACTIVITY_PROFILE, AGENT_PROFILE])
def test_profile_put_without_headers_on_absent_is_400_in_1_0_3_only(kind: str) -> None:
    with pytest.raises(BadRequest):
        decide(V1, kind, "PUT", NONE, None)
    decide(V2, kind, "PUT", NONE, None)


@pytest.mark.parametrize("version", [V1, V2])
def test_state_put_without_headers_on_absent_is_allowed(version: str) -> None:
    decide(version, STATE, "PUT", NONE, None)


@pytest.mark.parametrize("version", [V1, V2])
@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("current", [None, "a"])
def test_post_and_delete_need_no_header(
    version: str, kind: str, method: str, current: str | None
) -> None:
    decide(version, kind, method, NONE, current)
