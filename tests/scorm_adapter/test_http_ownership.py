"""An attempt belongs to the credential that opened it: no other credential can take it over."""

from __future__ import annotations

from tests.scorm_adapter.conftest import SCO, ScormClient


async def test_another_credential_cannot_take_over_an_attempt(scorm: ScormClient) -> None:
    owner_auth, owner_key = await scorm.credential("statements/write")
    other_auth, _ = await scorm.credential("statements/write", "statements/read")
    reader = scorm.auth
    scorm.auth = owner_auth
    first = await scorm.open(attempt=1)
    scorm.auth = other_auth
    refused = await scorm.open(expect=403, attempt=1)
    assert refused["result"] is False and refused["error"] == "attempt_owned_elsewhere"
    assert "commitUrl" not in refused
    # the owner's commit URL keeps working, with the owner's authority
    answer = await scorm.commit(first["commitUrl"], {"cmi.core.lesson_status": "passed"})
    assert answer["status"] == "applied"
    scorm.auth = reader
    statements = await scorm.statements(activity=SCO)  # initialized (first session), passed
    assert {s["verb"]["id"].rsplit("/", 1)[-1] for s in statements} == {"initialized", "passed"}
    assert all(s["authority"]["account"]["name"] == owner_key for s in statements)
    # and the owner can still resume it
    scorm.auth = owner_auth
    again = await scorm.open(expect=200, attempt=1)
    assert again["attemptId"] == first["attemptId"] and again["resumed"] is True


async def test_even_an_all_scope_credential_cannot_take_it_over(scorm: ScormClient) -> None:
    owner_auth, _ = await scorm.credential("statements/write")
    other_auth, _ = await scorm.credential("all")
    scorm.auth = owner_auth
    first = await scorm.open(attempt="https://lms.example.com/attempts/7")
    scorm.auth = other_auth
    await scorm.open(expect=403, attempt="https://lms.example.com/attempts/7")
    answer = await scorm.commit(first["commitUrl"], {"cmi.core.lesson_location": "p2"})
    assert answer["status"] == "applied"
