"""Request bodies of the runtime endpoint → values (no HTTP)."""

from __future__ import annotations

import pytest

from lrs.errors import UnsupportedMediaType
from scorm_adapter import ScormDataError
from scorm_adapter.request_bodies import parse_open_request, read_commit_body, read_commit_fields

OPEN = {
    "learner": {"mbox": "mailto:ada@example.com"},
    "course": "https://lms.example.com/c",
    "sco": "https://lms.example.com/c/s",
    "scormVersion": "SCORM 2004 4th Edition",
}


def test_open_request() -> None:
    request = parse_open_request(
        {
            **OPEN,
            "attempt": 2,
            "registration": "6A8B1C1E-5A5B-4B8A-9D59-1F5B1C2D3E4F",
            "scoName": {"en-US": "Lesson 1"},
            "lmsData": {"cmi": {"learner_id": "E1"}},
        }
    )
    assert request.version == "2004" and request.attempt == 2
    assert request.registration == "6a8b1c1e-5a5b-4b8a-9d59-1f5b1c2d3e4f"
    assert request.names == {"sco_name": {"en-US": "Lesson 1"}}
    assert request.lms_data == {"cmi.learner_id": "E1"}


@pytest.mark.parametrize(
    ("change", "element"),
    [
        ({"course": None}, "course"),
        ({"course": 5}, "course"),
        ({"attempt": True}, "attempt"),
        ({"scoName": "Lesson"}, "scoName"),
        ({"lmsData": []}, "lmsData"),
        ({"lmsData": {"cmi.core.student_id": "E1"}}, "cmi.core.student_id"),
    ],
)
def test_open_request_errors_name_the_field(change: dict, element: str) -> None:
    with pytest.raises(ScormDataError) as error:
        parse_open_request({**OPEN, **change})
    assert error.value.element == element


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"cmi": {"core": {"lesson_status": "passed"}}}', "application/json"),
        (b'{"cmi.core.lesson_status": "passed"}', "application/json; charset=utf-8"),
        (b"cmi.core.lesson_status=passed", "application/x-www-form-urlencoded"),
        (b"cmi%5Bcore%5D%5Blesson_status%5D=passed", "application/x-www-form-urlencoded"),
        (b'\xef\xbb\xbf {"cmi.core.lesson_status": "passed"}', "text/plain;charset=UTF-8"),
        (b"cmi.core.lesson_status=passed", "text/plain"),
        (b'{"cmi.core.lesson_status": "passed"}', ""),
    ],
)
def test_every_shape_gives_the_same_commit(body: bytes, content_type: str) -> None:
    commit = read_commit_body(body, content_type, {}).commit("1.2")
    assert commit.elements == {"cmi.core.lesson_status": "passed"}
    assert (commit.seq, commit.finish) == (None, False)


def test_meta_fields_from_query_or_body() -> None:
    body = read_commit_body(b'{"seq": 3, "finish": true}', "application/json", {})
    assert (body.seq, body.finish) == (3, True)
    body = read_commit_body(b"seq=4&finish=1&cmi.core.exit=", "text/plain", {})
    assert (body.seq, body.finish) == (4, True)
    assert body.commit("1.2").elements == {"cmi.core.exit": ""}
    body = read_commit_body(b"{}", "application/json", {"seq": "5", "finish": "false"})
    assert (body.seq, body.finish) == (5, False)
    body = read_commit_fields([("seq", "6"), ("cmi.core.lesson_location", "p")], {})
    assert body.seq == 6 and body.commit("1.2").elements == {"cmi.core.lesson_location": "p"}


@pytest.mark.parametrize(
    ("body", "query", "element"),
    [
        (b'{"seq": 1}', {"seq": "2"}, "seq"),
        (b'{"seq": "x"}', {}, "seq"),
        (b'{"seq": true}', {}, "seq"),
        (b'{"finish": "maybe"}', {}, "finish"),
        (b"[1, 2]", {}, "body"),
        (b"\xff\xfe", {}, "body"),
    ],
)
def test_bad_meta_and_bodies(body: bytes, query: dict, element: str) -> None:
    with pytest.raises(ScormDataError) as error:
        read_commit_body(body, "application/json", query)
    assert error.value.element == element


def test_unknown_content_type_is_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        read_commit_body(b"<cmi/>", "application/xml", {})


def test_elements_are_checked_against_the_attempts_version() -> None:
    body = read_commit_body(b'{"cmi.completion_status": "completed"}', "application/json", {})
    with pytest.raises(ScormDataError) as error:
        body.commit("1.2")
    assert error.value.element == "cmi.completion_status"
