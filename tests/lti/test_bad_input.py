"""Whatever a client sends to an LTI route, the answer is a clear 4xx, never a 500."""

from __future__ import annotations

import itertools

import pytest

from tests.lti.conftest import LTIHarness

BODIES = [b"", b"{", b"[]", b"null", b'{"a":' * 5000, "\u00e9\u0000".encode(), b"<x/>", b"\xff\xfe"]
AUTHS = [
    None,
    "Bearer",
    "Bearer a.b.c",
    "Bearer eyJhbGciOiJub25lIn0.e30.",
    "OAuth ",
    'OAuth oauth_consumer_key="k", oauth_signature="s"',
    'OAuth realm="x", oauth_consumer_key=unquoted',
    "OAuth \u00e9=\u00e9",
    "Basic !!",
]
TYPES = [
    None,
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/vnd.ims.lis.v2.lineitem+json",
    "application/vnd.ims.lis.v1.score+json",
    "multipart/form-data; boundary=x",
]


@pytest.mark.parametrize(
    "path",
    [
        "/lti/token",
        "/lti/1.1/outcomes",
        "/lti/1.1/sourcedids",
        "/lti/tools/x/lineitems",
        "/lti/tools/x/lineitems/y/scores",
    ],
)
async def test_garbage_never_makes_a_500(lti: LTIHarness, path: str) -> None:
    await lti.add_consumer(key="k")
    for body, auth, content_type in itertools.product(BODIES, AUTHS, TYPES):
        headers = {}
        if auth is not None:
            headers["Authorization"] = auth
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = await lti.http.post(path, data=body, headers=headers)
        assert 400 <= response.status < 500, (path, body[:20], auth, content_type)
        if path != "/lti/1.1/outcomes":
            assert (await response.json())["error"]


async def test_get_routes_with_garbage_parameters(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    token = await lti.token(client)
    base = f"/lti/tools/{client.tool.id}/lineitems"
    for query in ("page=%00", "page=" + "0" * 5000, "limit=" + "9" * 400, "tag=%ff", "limit=-0"):
        response = await lti.http.get(
            f"{base}?{query}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status in (200, 400), query
    response = await lti.http.get("/lti/jwks?x=1")
    assert response.status == 200
    response = await lti.http.put("/lti/jwks")
    assert response.status == 405 and (await response.json())["error"]
