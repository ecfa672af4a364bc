"""Bodies and URLs no runtime should send still get the runtimes' 4xx answer, never a 500."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.scorm_adapter.conftest import SCO, ScormClient

BAD_PART_HEADER = (
    b"--b\r\n"
    b'Content-Disposition: form-data; name="cmi.core.lesson_status"\r\n'
    b"X-Bad\x01Header: 1\r\n"
    b"\r\n"
    b"passed\r\n"
    b"--b--\r\n"
)


async def _post(scorm: ScormClient, path: str, body: bytes, **headers: str) -> dict:
    response = await scorm.http.post(path, data=body, headers=headers)
    answer = await response.json()
    assert response.status == 400, answer
    assert answer["result"] is False and answer["errorCode"] == 101
    return answer


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--b\r\n\r\n", "multipart/form-data"),  # no boundary parameter
        (BAD_PART_HEADER, "multipart/form-data; boundary=b"),  # control character in a header
        (b"--b\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data; boundary=b"),
    ],
)
async def test_unreadable_multipart_commit_is_400(
    scorm: ScormClient, body: bytes, content_type: str
) -> None:
    opened = await scorm.open()
    path = urlsplit(opened["commitUrl"]).path
    answer = await _post(scorm, path, body, **{"Content-Type": content_type})
    assert answer["element"] == "body"
    assert await scorm.statements(activity=SCO) == []
    # the attempt is untouched: a good commit still applies
    good = await scorm.commit(opened["commitUrl"], {"cmi.core.lesson_status": "passed"})
    assert good["status"] == "applied"


async def test_body_that_does_not_decompress_is_400(scorm: ScormClient) -> None:
    opened = await scorm.open()
    path = urlsplit(opened["commitUrl"]).path
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = await _post(scorm, path, b"{not gzip at all}", **headers)
    assert answer["element"] == "body"


@pytest.mark.parametrize("token", ["%C3%A9.AAAA", "AAAA.%C3%A9", "%F0%9F%98%80", "e30.%E2%80%8B"])
async def test_non_ascii_token_is_refused_like_any_bad_token(
    scorm: ScormClient, token: str
) -> None:
    response = await scorm.http.post(f"/scorm/v1/commits/{token}", json={})
    answer = await response.json()
    assert response.status == 403, answer
    assert answer["result"] is False and answer["error"] == "invalid_token"
