"""Issue 14 hardening through HTTP: bodies that cannot be decoded, 405s, numbers, credentials."""

from __future__ import annotations

import base64
import io
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from lrs.app import create_app
from lrs.config import Config
from lrs.errors import PayloadTooLarge
from lrs.http.multipart import parse_multipart
from lrs.params import ascii_int, is_ascii_digits
from lrs.settings import Settings
from lrs.store.base import Backend
from tests.lrs.http.conftest import LRSClient, basic
from tests.lrs.http.test_statements import post, statement


@pytest.mark.parametrize("path", ["/xapi/statements", "/lti/token"])
async def test_gzip_header_on_a_body_that_is_not_gzip_is_400(lrs: LRSClient, path: str) -> None:
    # issue 14.5: RequestPayloadError out of request.read() was a 500
    headers = lrs.headers(**{"Content-Encoding": "gzip", "Content-Type": "application/json"})
    if path == "/lti/token":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = await lrs.http.post(path, data=b"this is not gzip at all", headers=headers)
    assert response.status == 400, await response.text()
    body = await response.json()
    if path == "/lti/token":  # RFC 6749 §5.2 shape kept
        assert body["error"] == "invalid_request"
        assert "error_description" in body
    else:
        assert body["error"] == "bad_request"


@pytest.mark.parametrize(
    "path",
    [
        "/marketplace/v1/oauth/token",
        "/marketplace/v1/oauth/revoke",
        "/lti/token",
        "/xapi/statements",
    ],
)
async def test_a_body_that_is_not_gzip_is_answered_without_an_error_log(
    lrs: LRSClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp drained the rest of the failed body after the 400, logged "Unhandled exception"
    # with a traceback and dropped the connection (the next request on it failed)
    headers = lrs.headers(
        **{"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"}
    )
    body = b"grant_type=client_credentials&" + b"x" * 200
    response = await lrs.http.post(path, data=body, headers=headers)
    assert response.status == 400, await response.text()
    assert response.headers["Connection"] == "close"
    # the next request is served (after the first connection's end was handled)
    assert (await lrs.http.get("/xapi/about")).status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def _not_allowed(methods: set[str]) -> str:
    return next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in methods)


async def test_every_405_carries_allow(lrs: LRSClient) -> None:
    # issue 14.8: RFC 9110 §15.5.6, on every route of the root and of every sub-app
    app = lrs.http.app
    assert app is not None
    routes: dict[str, set[str]] = {}
    for route in app.router.routes():
        if route.resource is not None:
            routes.setdefault(route.resource.canonical, set()).add(route.method)
    assert len(routes) > 20
    for path, methods in routes.items():
        url = path.replace("{", "x").replace("}", "x")
        method = _not_allowed(methods)
        response = await lrs.http.request(method, url, headers=lrs.headers())
        assert response.status == 405, (method, path, response.status)
        allow = response.headers.get("Allow", "")
        assert allow, (method, path)
        assert method not in {m.strip() for m in allow.split(",")}


async def test_xapi_405_names_the_methods_in_allow(lrs: LRSClient) -> None:
    response = await lrs.http.request("PATCH", "/xapi/statements", headers=lrs.headers())
    assert response.status == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "PUT"}


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3", "+5", "%205", "1_0", "-1"])
async def test_limit_takes_ascii_digits_only(lrs: LRSClient, limit: str) -> None:
    # issue 14.7: "²" passed str.isdigit() and int() refused it (500)
    response = await lrs.http.get(f"/xapi/statements?limit={limit}", headers=lrs.headers())
    assert response.status == 400, await response.text()
    assert (await response.json())["parameter"] == "limit"


async def test_marketplace_limit_takes_ascii_digits_only(lrs: LRSClient) -> None:
    response = await lrs.http.get("/marketplace/v1/aggregates?limit=%C2%B2")
    assert response.status in (400, 401)  # never a 500, whatever the order of checks


def test_ascii_digits() -> None:
    assert is_ascii_digits("0123456789")
    assert not any(map(is_ascii_digits, ["", "²", "٣", "+1", " 1", "1_0", "1\n"]))
    assert ascii_int("42") == 42
    assert ascii_int("²") is None


async def test_unknown_key_and_wrong_secret_get_one_message(lrs: LRSClient) -> None:
    # issue 14.15: two messages told which keys exist
    known = await lrs.credential("statements/read")
    key = known.split()[1]
    real_key = base64.b64decode(key).decode().split(":")[0]
    wrong_secret = basic(real_key, "not-the-secret")
    unknown = basic("no-such-key", "not-the-secret")
    answers = []
    for header in (wrong_secret, unknown):
        response = await lrs.http.get("/xapi/statements", headers=lrs.headers(Authorization=header))
        assert response.status == 401
        answers.append(await response.json())
    assert answers[0] == answers[1]


async def test_statement_post_still_works(lrs: LRSClient) -> None:
    assert (await post(lrs, statement())).status == 200


async def _first_page_more(lrs: LRSClient) -> str:
    for _ in range(3):
        assert (await post(lrs, statement())).status == 200
    response = await lrs.http.get("/xapi/statements?limit=1", headers=lrs.headers())
    more = (await response.json())["more"]
    assert more.startswith("/xapi/statements?more=")
    return more.split("=", 1)[1]


def _unsigned(data: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


async def test_forged_tampered_and_injected_more_tokens_are_400(lrs: LRSClient) -> None:
    # issue 15: the token was unsigned JSON; `{"$regex": ".*"}` matched everything on MongoDB
    token = await _first_page_more(lrs)
    payload, signature = token.split(".")
    data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = [
        _unsigned({"agent": {"$regex": ".*"}, "limit": 1}),  # the old, unsigned form
        _unsigned({"limit": "x"}),
        _unsigned(data) + "." + signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"),
        _unsigned({**data, "limit": 1000}) + "." + signature,  # tampered, old signature
        _unsigned({**data, "agent": {"$regex": ".*"}}) + "." + signature,
        "garbage!",
        token + "x",
        "é" * 10,
    ]
    for bad in forged:
        response = await lrs.http.get(
            "/xapi/statements?" + urlencode({"more": bad}), headers=lrs.headers()
        )
        assert response.status == 400, (bad, await response.text())
        assert (await response.json())["parameter"] == "more"
    good = await lrs.http.get(f"/xapi/statements?more={token}", headers=lrs.headers())
    assert good.status == 200


async def test_more_token_survives_a_restart(
    aiohttp_client: Callable, backend: Backend, settings: Settings, lrs: LRSClient
) -> None:
    token = await _first_page_more(lrs)
    again = await aiohttp_client(create_app(Config(core=settings), backend=backend))
    response = await again.get(f"/xapi/statements?more={token}", headers=lrs.headers())
    assert response.status == 200, await response.text()
    assert len((await response.json())["statements"]) == 1


def _voiding(target: str) -> dict:
    return statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target},
    )


async def _post_as(lrs: LRSClient, auth: str, body: object) -> Any:
    return await lrs.http.post(
        "/xapi/statements", json=body, headers=lrs.headers(Authorization=auth)
    )


async def test_voiding_others_statements_needs_a_scope_that_says_so(lrs: LRSClient) -> None:
    # issue 14.14: any statements/write credential could void anyone's statements
    writer = await lrs.credential("statements/write")
    other = await lrs.credential("statements/write")
    voider = await lrs.credential("statements/write", "statements/void")
    [theirs] = await (await _post_as(lrs, other, statement())).json()
    refused = await _post_as(lrs, writer, _voiding(theirs))
    assert refused.status == 403, await refused.text()
    assert (await refused.json())["statement_id"] == theirs
    found = await lrs.http.get(f"/xapi/statements?statementId={theirs}", headers=lrs.headers())
    assert found.status == 200  # not voided
    put = await lrs.http.put(
        f"/xapi/statements?statementId={uuid.uuid4()}",
        json=_voiding(theirs),
        headers=lrs.headers(Authorization=writer),
    )
    assert put.status == 403
    # a target not stored yet: its owner is unknown, so refused too
    early = await _post_as(lrs, writer, _voiding(str(uuid.uuid4())))
    assert early.status == 403
    assert (await _post_as(lrs, voider, _voiding(theirs))).status == 200
    gone = await lrs.http.get(f"/xapi/statements?statementId={theirs}", headers=lrs.headers())
    assert gone.status == 404


async def test_own_statements_and_all_scope_may_void(lrs: LRSClient) -> None:
    writer = await lrs.credential("statements/write")
    [mine] = await (await _post_as(lrs, writer, statement())).json()
    assert (await _post_as(lrs, writer, _voiding(mine))).status == 200
    target, voiding = str(uuid.uuid4()), _voiding("")
    voiding["object"]["id"] = target
    batch = [statement(id=target), voiding]  # a target in the same batch is its own
    assert (await _post_as(lrs, writer, batch)).status == 200
    [theirs] = await (await _post_as(lrs, writer, statement())).json()
    assert (await post(lrs, _voiding(theirs))).status == 200  # `all` voids anything
    early = await post(lrs, _voiding(str(uuid.uuid4())))  # and before the target arrives
    assert early.status == 200


def _nested(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("levels", [97, 101, 253, 300, 1000])
async def test_statement_nesting_limit(lrs: LRSClient, levels: int) -> None:
    # issue 14.6: 252-1023 levels were a 500; a statement adds 3 levels above its extensions
    raw = orjson.dumps(statement(result={"extensions": {}}))
    body = raw.replace(
        b'"extensions":{}', b'"extensions":{"http://example.com/x":' + _nested(levels) + b"}"
    )
    response = await lrs.http.post(
        "/xapi/statements", data=body, headers=lrs.headers(**{"Content-Type": "application/json"})
    )
    if levels <= 97:
        assert response.status == 200, await response.text()
    else:
        assert response.status == 400, await response.text()
        assert "nests more than 100 levels" in (await response.json())["message"]


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_document_nesting_limit(lrs: LRSClient, method: str) -> None:
    # issue 14.6: the same limit for JSON documents (POST merges them)
    agent = orjson.dumps({"mbox": "mailto:ada@example.com"}).decode()
    url = "/xapi/activities/state?" + urlencode(
        {"activityId": "http://example.com/a", "agent": agent, "stateId": "s"}
    )
    headers = lrs.headers(**{"Content-Type": "application/json"})
    assert (await lrs.http.put(url, data=b'{"ok":1}', headers=headers)).status == 204
    deep = b'{"x":' + _nested(500) + b"}"
    response = await lrs.http.request(method, url, data=deep, headers=headers)
    assert response.status == 400, await response.text()
    fine = b'{"x":' + _nested(90) + b"}"
    assert (await lrs.http.request(method, url, data=fine, headers=headers)).status == 204


async def test_a_multipart_request_of_millions_of_parts_is_413(lrs: LRSClient) -> None:
    # issue 14.9: one JSON part then "--a" millions of times blocked the loop ~15 s, 2 GB RSS
    json_part = b"--a\r\nContent-Type: application/json\r\n\r\n" + orjson.dumps(statement())
    body = json_part + b"\r\n" + b"--a" * 3_000_000 + b"--a--\r\n"
    headers = lrs.headers(**{"Content-Type": "multipart/mixed; boundary=a"})
    response = await lrs.http.post("/xapi/statements", data=io.BytesIO(body), headers=headers)
    assert response.status == 413, await response.text()
    assert "at most 1001 parts" in (await response.json())["message"]  # the JSON part too


class _CountingBody(bytes):
    """bytes that count how often the scanner looks for a delimiter."""

    finds = 0

    def find(self, *args: Any) -> int:  # type: ignore[override]
        type(self).finds += 1
        return super().find(*args)


def test_the_multipart_scan_stops_at_the_part_cap() -> None:
    body = _CountingBody(b"--a\r\nContent-Type: application/json\r\n\r\n{}\r\n" + b"--a" * 100_000)
    with pytest.raises(PayloadTooLarge):
        parse_multipart(body, "multipart/mixed; boundary=a", max_parts=10)
    assert _CountingBody.finds <= 12  # bounded work: it never walks the other 99,990


def test_the_part_cap_allows_exactly_max_parts() -> None:
    parts = b"".join(b"--a\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(9))
    body = b"--a\r\nContent-Type: application/json\r\n\r\n{}\r\n" + parts + b"--a--\r\n"
    json_bytes, rest = parse_multipart(body, "multipart/mixed; boundary=a", max_parts=10)
    assert json_bytes == b"{}" and len(rest) == 9
    with pytest.raises(PayloadTooLarge):
        parse_multipart(body, "multipart/mixed; boundary=a", max_parts=9)


async def test_iri_and_extension_value_lengths(lrs: LRSClient) -> None:
    # issue 14.12: a 5 MB activity IRI was accepted
    long_iri = "http://example.com/" + "a" * (5 * 1024 * 1024)
    cases = {
        "object.id": statement(object={"objectType": "Activity", "id": long_iri}),
        "verb.id": statement(verb={"id": long_iri}),
        "context.extensions key": statement(context={"extensions": {long_iri[:9000]: 1}}),
        "result.extensions.http://example.com/e": statement(
            result={"extensions": {"http://example.com/e": "x" * (1024 * 1024 + 1)}}
        ),
        "[1].object.definition.type": [
            statement(),
            statement(object={"id": "http://example.com/a", "definition": {"type": long_iri}}),
        ],
    }
    for path, body in cases.items():
        response = await lrs.http.post(
            "/xapi/statements",
            data=io.BytesIO(orjson.dumps(body)),
            headers=lrs.headers(**{"Content-Type": "application/json"}),
        )
        assert response.status == 400, (path, await response.text())
        assert (await response.json()).get("path") == path, (path, await response.text())
    fine = statement(
        object={"objectType": "Activity", "id": "http://example.com/" + "a" * 8000},
        result={"extensions": {"http://example.com/e": "x" * 500_000}},
    )
    response = await lrs.http.post(
        "/xapi/statements",
        data=io.BytesIO(orjson.dumps(fine)),
        headers=lrs.headers(**{"Content-Type": "application/json"}),
    )
    assert response.status == 200, await response.text()
