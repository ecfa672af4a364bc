"""The identity-conflicts page over HTTP, on every backend: conflicts and unmatched learners,
resolve (audited with the operator's name), roles, CSRF and bad input."""

from __future__ import annotations

from typing import Any

from tests.console.act_support import audited, import_members, market, post_statements
from tests.console.conftest import Console

PAGE = "/console/conflicts"
SHARED = "email:shared@example.com"


def by(email: str) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "mbox": f"mailto:{email}"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": "https://lms.example.com/course/1"},
    }


async def a_conflict(console: Console) -> None:
    """A statement by an address two members then claim, and one by an unknown learner."""
    await post_statements(console, [by("shared@example.com"), by("nobody@example.com")])
    await market(console).worker.drain()
    await import_members(console, ("E1", "shared@example.com"), ("E2", "shared@example.com"))


async def test_a_viewer_sees_conflicts_and_unmatched_learners_but_cannot_resolve(
    console: Console,
) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    await a_conflict(console)
    status, page = await console.page(PAGE)
    assert status == 200
    assert "shared@example.com" in page and "E1, E2" in page
    # held: the unknown learner's statement and the conflicting address's
    assert 'id="unmatched-total">2<' in page and "nobody@example.com" in page
    assert "/console/conflicts/resolve" not in page
    form = {"key": SHARED, "member_id": "E2"}
    response = await console.post_form(PAGE + "/resolve", form, from_page=PAGE)
    assert response.status == 403
    assert len(await market(console).identities.conflicts()) == 1


async def test_an_operator_resolves_a_conflict_audited(console: Console) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    await a_conflict(console)
    form = {"key": SHARED, "member_id": "E2"}
    response = await console.post_form(PAGE + "/resolve", form, from_page=PAGE)
    page = await response.text()
    assert response.status == 200, page
    assert "shared@example.com now belongs to E2 (E1 dropped)" in page
    assert "No conflicts." in page
    assert await market(console).identities.conflicts() == []
    assert len(await market(console).member_learning("E2")) == 1  # projected to E2 at once
    [entry] = await audited(console, "identities.resolve")
    # the member ids are personal parts of the entry (`projections.audit_personal`)
    assert entry.actor == "operator:ola" and set(entry.details) == {"member", "dropped"}


async def test_bad_resolutions_are_named_and_change_nothing(console: Console) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    await a_conflict(console)
    for form, status, why in (
        ({"key": "", "member_id": "E2"}, 400, "key must be"),
        ({"key": "hris:E1", "member_id": "E1"}, 400, "key must be"),
        ({"key": SHARED}, 400, "choose the member"),
        ({"key": SHARED, "member_id": "E9"}, 409, "not a conflict with E9"),
        ({"key": "email:other@example.com", "member_id": "E1"}, 409, "not a conflict"),
    ):
        response = await console.post_form(PAGE + "/resolve", form, from_page=PAGE)
        text = await response.text()
        assert response.status == status and why in text, (form, text)
    response = await console.http.post(PAGE + "/resolve", data={"key": SHARED, "member_id": "E2"})
    assert response.status == 403 and "CSRF" in await response.text()
    assert len(await market(console).identities.conflicts()) == 1
    assert await audited(console, "identities.resolve") == []
