"""The adapter's rules as plain functions: converters, scores, POX, vault, sourcedIds, paging."""

from __future__ import annotations

import os
import secrets
import stat
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from lrs.errors import BadRequest, ConfigError, ValidationError
from lrs.settings import Settings
from lrs.xapi.validation import validate_statements
from lti import converters, pox
from lti.errors import KeysUnavailable
from lti.gradebook import Gradebook
from lti.lineitems import parse_line_item, rescale
from lti.paging import decode_page, encode_page, parse_limit
from lti.scores import parse_score
from lti.settings import LTISettings
from lti.sourcedids import ResultRef, SourcedIds
from lti.store.base import LineItem, Tool
from lti.urls import request_base
from lti.vault import CONSUMER_SECRET, PLATFORM_KEY, SOURCED_ID, Vault, b64url, load_vault

TOOL = Tool(id="a1b2c3", client_id="client-1", name="Quiz", scopes=(), passing_threshold=0.5)
ITEM = LineItem(id="f00d", tool_id="a1b2c3", properties={"label": "Quiz 1", "scoreMaximum": 20})
SCORE = {
    "userId": "u-42",
    "scoreGiven": 15,
    "scoreMaximum": 20,
    "activityProgress": "Completed",
    "gradingProgress": "FullyGraded",
    "timestamp": "2026-03-01T10:00:00.123+00:00",
    "comment": "good",
}


def gradebook() -> Gradebook:
    return Gradebook(
        store=None,  # type: ignore[arg-type]
        statements=None,  # type: ignore[arg-type]
        iri_base="https://lrs.example",
        authority_home_page="https://lrs.example",
        user_home_page="https://hris.example",
    )


def test_golden_ags_score_to_statements() -> None:
    grade = gradebook().grade(TOOL, ITEM, parse_score(SCORE))
    statements = converters.grade_statements(grade)
    key = ["lti-ags", "client-1", "f00d", "u-42", 1772359200123000]
    ids = [
        str(uuid.uuid5(converters.LTI_NAMESPACE, orjson.dumps([*key, verb]).decode()))
        for verb in (
            "http://adlnet.gov/expapi/verbs/scored",
            "http://adlnet.gov/expapi/verbs/completed",
            "http://adlnet.gov/expapi/verbs/passed",
        )
    ]
    common = {
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://hris.example", "name": "u-42"},
        },
        "object": {
            "objectType": "Activity",
            "id": "https://lrs.example/lti/tools/a1b2c3/lineitems/f00d",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": {"und": "Quiz 1"},
            },
        },
        "context": {
            "contextActivities": {
                "grouping": [
                    {"objectType": "Activity", "id": "https://lrs.example/lti/tools/a1b2c3"}
                ]
            }
        },
        "timestamp": "2026-03-01T10:00:00.123+00:00",
    }
    extensions = {"urn:lrs-marketplace:lti:agsScore": SCORE}
    score = {"scaled": 0.75, "raw": 15, "min": 0, "max": 20}
    assert statements == [
        {
            "id": ids[0],
            "verb": {"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored"}},
            "result": {"score": score, "extensions": extensions},
            **common,
        },
        {
            "id": ids[1],
            "verb": {
                "id": "http://adlnet.gov/expapi/verbs/completed",
                "display": {"en-US": "completed"},
            },
            "result": {"completion": True, "extensions": extensions},
            **common,
        },
        {
            "id": ids[2],
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed"}},
            "result": {
                "score": score,
                "success": True,
                "completion": True,
                "extensions": extensions,
            },
            **common,
        },
    ]
    # every statement is valid xAPI, in both versions
    for version in ("1.0.3", "2.0.0"):
        validate_statements(statements, version)
    # the same score again, whatever the key order: the same statements
    again = converters.grade_statements(
        gradebook().grade(TOOL, ITEM, parse_score(dict(reversed(list(SCORE.items())))))
    )
    assert again == statements


def test_extra_credit_statements_are_valid_xapi() -> None:
    grade = gradebook().grade(TOOL, ITEM, parse_score({**SCORE, "scoreGiven": 25}))
    statements = converters.grade_statements(grade)
    assert statements[0]["result"]["score"] == {"scaled": 1.0, "raw": 25, "min": 0}
    validate_statements(statements, "1.0.3")


def test_voiding_statements_are_deterministic_and_valid() -> None:
    actor = {"objectType": "Agent", "account": {"homePage": "https://h", "name": "c"}}
    targets = [str(uuid.uuid4()), str(uuid.uuid4())]
    first = converters.voiding_statements(targets, actor)
    assert first == converters.voiding_statements(targets, actor)
    assert [s["object"]["id"] for s in first] == targets
    assert "timestamp" not in first[0]
    validate_statements(first, "1.0.3")


def test_a_score_timestamp_needs_a_time_zone() -> None:
    with pytest.raises(ValidationError):
        parse_score({**SCORE, "timestamp": "2026-03-01T10:00:00"})
    assert parse_score({**SCORE, "timestamp": "2026-03-01T11:00:00+01:00"}).timestamp_us == (
        parse_score({**SCORE, "timestamp": "2026-03-01T10:00:00Z"}).timestamp_us
    )


IMPOSSIBLE_INSTANTS = [
    "2024-01-01T12:99:00Z",  # minute 99
    "2024-01-01T24:00:00Z",
    "2024-01-01T12:00:61Z",
    "2024-02-30T12:00:00Z",  # no such day
    "2023-02-29T12:00:00Z",  # not a leap year
    "2024-13-01T12:00:00Z",
    "2024-00-10T12:00:00Z",
    "2024-01-01T12:00:00+25:00",  # offset of a day or more
    "0000-01-01T00:00:00Z",
]


@pytest.mark.parametrize("value", IMPOSSIBLE_INSTANTS)
@pytest.mark.parametrize("name", ["startDateTime", "endDateTime"])
def test_line_item_dates_must_be_real_instants(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_line_item({"label": "Quiz", "scoreMaximum": 10, name: value})
    assert error.value.status == 400 and error.value.to_json()["path"] == name


@pytest.mark.parametrize("value", IMPOSSIBLE_INSTANTS)
def test_a_score_timestamp_must_be_a_real_instant(value: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_score({**SCORE, "timestamp": value})
    assert error.value.to_json()["path"] == "timestamp"


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-29T23:59:59.999Z",
        "2024-01-01T12:00Z",
        "2024-01-01T12:00:00+05:30",
        "2024-01-01T00:00:00-0800",
    ],
)
def test_real_zoned_instants_are_kept_as_sent(value: str) -> None:
    properties = parse_line_item({"label": "Quiz", "scoreMaximum": 10, "startDateTime": value})
    assert properties["startDateTime"] == value


@pytest.mark.parametrize(
    ("given", "maximum", "target", "expected"),
    [
        (55, 100, 100, 55),
        (55, 100, 10, 5.5),
        (0.1, 0.3, 0.9, 0.3),
        (1.1, 3.3, 9.9, 3.3),
        (7, 3, 3, 7),
        (7, 3, 6, 14),
        (0.7, 0.1, 0.1, 0.7),
        (12, 10, 100, 120),
        (1, 3, 100, 33.333333333333336),  # no finite decimal: the nearest float
    ],
)
def test_rescale_has_no_float_noise(
    given: float, maximum: float, target: float, expected: float
) -> None:
    assert rescale(given, maximum, target) == expected


def test_rescale_returns_the_score_as_given_when_the_maxima_are_equal() -> None:
    assert type(rescale(55, 100, 100)) is int
    assert rescale(0.30000000000000004, 1, 1) == 0.30000000000000004


def test_a_fingerprint_ignores_key_order_only() -> None:
    a = parse_score(SCORE)
    b = parse_score(dict(reversed(list(SCORE.items()))))
    c = parse_score({**SCORE, "comment": "other"})
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_pox_request_parsing() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><imsx_POXEnvelopeRequest xmlns="'
        + pox.NS.encode()
        + b'"><imsx_POXHeader><imsx_POXRequestHeaderInfo><imsx_version>V1.0</imsx_version>'
        b"<imsx_messageIdentifier> 42 </imsx_messageIdentifier></imsx_POXRequestHeaderInfo>"
        b"</imsx_POXHeader><imsx_POXBody><replaceResultRequest><resultRecord><sourcedGUID>"
        b"<sourcedId>abc</sourcedId></sourcedGUID><result><resultScore><language>en</language>"
        b"<textString>0.5</textString></resultScore></result></resultRecord>"
        b"</replaceResultRequest></imsx_POXBody></imsx_POXEnvelopeRequest>"
    )
    assert pox.parse_request(body) == pox.PoxRequest("42", "replaceResult", "abc", "0.5")


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b'<!DOCTYPE x [<!ENTITY a "a"><!ENTITY b "&a;&a;">]><x>&b;</x>',
        b"<!DOCTYPE x><x/>",
        b"<imsx_POXEnvelopeRequest/>",
        b"<a><b>",
        b"",
        b"x" * (pox.MAX_POX_BYTES + 1),
    ],
)
def test_pox_refuses_what_is_not_a_plain_outcome_request(body: bytes) -> None:
    with pytest.raises(pox.PoxError):
        pox.parse_request(body)


def test_pox_responses_escape_what_they_echo() -> None:
    xml = pox.response(
        code_major="failure", description="<&>", message_ref="<id>", operation="x</y>"
    ).decode()
    assert "&lt;id&gt;" in xml and "&lt;&amp;&gt;" in xml and "x&lt;/y&gt;" in xml
    with pytest.raises(ValueError):
        pox.response(code_major="success", description="", operation="evil><x", body="")


def test_the_vault_binds_ciphertexts_to_their_record_and_purpose() -> None:
    vault = Vault(secrets.token_bytes(32))
    sealed = vault.encrypt(CONSUMER_SECRET, b"s3cret", bound_to="key-1")
    assert b"s3cret" not in sealed.encode() and sealed.startswith("v1.")
    assert vault.decrypt(CONSUMER_SECRET, sealed, bound_to="key-1") == b"s3cret"
    for purpose, bound in ((CONSUMER_SECRET, "key-2"), (PLATFORM_KEY, "key-1")):
        with pytest.raises(KeysUnavailable):
            vault.decrypt(purpose, sealed, bound_to=bound)
    with pytest.raises(KeysUnavailable):
        Vault(secrets.token_bytes(32)).decrypt(CONSUMER_SECRET, sealed, bound_to="key-1")
    with pytest.raises(KeysUnavailable):
        vault.decrypt(CONSUMER_SECRET, "v1.garbage!", bound_to="key-1")
    assert "s3cret" not in repr(vault)


def test_the_master_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_vault(LTISettings(), tmp_path)
    path = tmp_path / "lti-master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_vault(LTISettings(), tmp_path)
    assert first.sign(SOURCED_ID, b"x") == second.sign(SOURCED_ID, b"x")
    from_env = load_vault(LTISettings(master_key=path.read_text().strip()), tmp_path / "other")
    assert from_env.sign(SOURCED_ID, b"x") == first.sign(SOURCED_ID, b"x")
    with pytest.raises(ConfigError):
        load_vault(LTISettings(master_key="too-short"), tmp_path)
    os.chmod(path, 0o644)  # readable by others: still loads (with a warning)
    assert load_vault(LTISettings(), tmp_path).sign(SOURCED_ID, b"x") == first.sign(
        SOURCED_ID, b"x"
    )


def test_sourced_ids_verify_only_as_issued() -> None:
    ids = SourcedIds(Vault(secrets.token_bytes(32)))
    ref = ResultRef("key", "link/1", "user 1")
    minted = ids.mint(ref)
    assert ids.verify(minted) == ref
    assert ids.verify(minted[:-2] + ("AA" if not minted.endswith("AA") else "BB")) is None
    assert ids.verify("nonsense") is None and ids.verify("a.b.c") is None
    assert SourcedIds(Vault(secrets.token_bytes(32))).verify(minted) is None
    with pytest.raises(BadRequest):
        ids.mint(ResultRef("key", "", "u"))


def test_page_cursors_survive_a_change_of_case() -> None:
    state = {"tag": "Week-1", "after": "123:AbC", "limit": 10}
    cursor = encode_page(state)
    assert cursor == cursor.lower()
    assert decode_page(cursor.upper()) == state
    for bad in ("zz", "", "5b5d"):
        with pytest.raises(BadRequest):
            decode_page(bad)
    assert parse_limit(None, default=5, maximum=10) == 5
    assert parse_limit("50", default=5, maximum=10) == 10
    with pytest.raises(BadRequest):
        parse_limit("-1", default=5, maximum=10)
    for not_ascii in ("٣", "1_0", " 5", "+5"):  # int() read them all
        with pytest.raises(BadRequest):
            parse_limit(not_ascii, default=5, maximum=10)


def _request(headers: dict[str, str]) -> Any:
    return make_mocked_request("POST", "/lti/token", headers=headers)


def test_forwarded_headers_only_when_trusted() -> None:
    settings = Settings(public_base_url="https://lrs.example/")
    forwarded = {
        "X-Forwarded-Proto": "https, http",
        "X-Forwarded-Host": "proxy.example",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/lrs/",
    }
    assert request_base(_request(forwarded), settings, LTISettings()) == "https://lrs.example"
    trusted = LTISettings(trust_proxy=True)
    assert request_base(_request(forwarded), settings, trusted) == "https://proxy.example:8443/lrs"
    assert request_base(_request({}), settings, trusted) == "https://lrs.example"
    assert request_base(_request({"Host": "evil.example"}), settings, LTISettings()) == (
        "https://lrs.example"
    )
    for bad in (
        {"X-Forwarded-Host": "a/b"},
        {"X-Forwarded-Host": "a", "X-Forwarded-Proto": "ftp"},
        {"X-Forwarded-Host": "a", "X-Forwarded-Port": "x"},
        {"X-Forwarded-Host": "a", "X-Forwarded-Port": "٤٤٣"},  # str.isdigit() took it
        {"X-Forwarded-Host": "a", "X-Forwarded-Prefix": "no-slash"},
    ):
        with pytest.raises(BadRequest):
            request_base(_request(bad), settings, trusted)


def test_settings_from_the_environment() -> None:
    key = b64url(secrets.token_bytes(32))
    settings = LTISettings.from_env(
        {"LRS_LTI_TRUST_PROXY": "true", "LRS_LTI_MASTER_KEY": key, "LRS_LTI_TOKEN_SECONDS": "600"}
    )
    assert settings.trust_proxy and settings.token_seconds == 600 and settings.master_key == key
    assert key not in repr(settings)
    assert LTISettings.from_env({}) == LTISettings()
    for bad in ({"LRS_LTI_TRUST_PROXY": "maybe"}, {"LRS_LTI_PAGE_SIZE": "0"}):
        with pytest.raises(ConfigError):
            LTISettings.from_env(bad)
