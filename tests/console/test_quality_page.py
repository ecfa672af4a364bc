"""The quality-queue page over HTTP, on every backend: counts and examples per reason, one
reason's items, an item; retry and dismiss, audited; roles, CSRF and bad input."""

from __future__ import annotations

from typing import Any

from projections.quality import UNKNOWN_LEARNER
from projections.store.quality import DISMISSED, OPEN, QualityIssue
from tests.console.act_support import (
    audited,
    import_members,
    market,
    post_statements,
)
from tests.console.conftest import Console

PAGE = "/console/quality"


def learner(n: int) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "mbox": f"mailto:learner{n}@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": f"https://lms.example.com/course/{n}"},
    }


async def unknown_learners(console: Console, *numbers: int) -> list[str]:
    """Statements of learners the HRIS does not know, projected: one item each."""
    ids = await post_statements(console, [learner(n) for n in numbers])
    await market(console).worker.drain()
    return ids


async def test_a_viewer_sees_counts_examples_items_and_an_item(console: Console) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    ids = await unknown_learners(console, 1, 2)
    status, page = await console.page(PAGE)
    assert status == 200
    assert f'id="count-{UNKNOWN_LEARNER}">2<' in page
    assert all(i in page for i in ids)  # the examples
    assert 'id="retry"' not in page and "disabled" in page  # a viewer cannot act
    status, listed = await console.page(f"{PAGE}?reason={UNKNOWN_LEARNER}")
    assert status == 200 and all(i in listed for i in ids)
    status, shown = await console.page(f"{PAGE}/items/{UNKNOWN_LEARNER}:{ids[0]}")
    assert status == 200 and "learner1@example.com" in shown and ids[0] in shown
    assert (await console.page(f"{PAGE}/items/{UNKNOWN_LEARNER}:nope"))[0] == 404
    status, none = await console.page(f"{PAGE}?state=dismissed")
    assert status == 200 and "No dismissed items." in none


async def test_bad_filters_are_a_400_naming_them(console: Console) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    status, page = await console.page(f"{PAGE}?state=gone")
    assert status == 400 and "state must be one of" in page
    status, page = await console.page(f"{PAGE}?reason=whatever")
    assert status == 400 and "reason must be one of" in page


async def test_an_operator_dismisses_ticked_items_audited(console: Console) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    first, _ = await unknown_learners(console, 1, 2)
    item = f"{UNKNOWN_LEARNER}:{first}"
    response = await console.post_form(
        PAGE + "/dismiss", {"ids": [item], "reason": UNKNOWN_LEARNER}, from_page=PAGE
    )
    page = await response.text()
    assert response.status == 200 and "Dismissed 1 item(s)." in page
    store = market(console).stores.quality
    assert (await store.get_item(item)).state == DISMISSED  # type: ignore[union-attr]
    assert await store.reason_counts(OPEN) == {UNKNOWN_LEARNER: 1}
    [entry] = await audited(console, "console.quality_dismissed")
    assert entry.actor == "operator:ola" and entry.details == {"ids": [item], "count": 1}


async def test_retry_projects_again_and_resolves_what_maps_now_audited(console: Console) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    await import_members(console, ("E1", "learner1@example.com"))
    [mapped] = await post_statements(console, [learner(1)])
    [held] = await unknown_learners(console, 2)
    # an item recorded under an earlier mapping, for a statement that maps now
    stale = QualityIssue(mapped, "score_without_scale", "score", {"raw": 5}, "E1", None)
    store = market(console).stores.quality
    await store.record_issues([stale], "old", 1)
    ids = [stale.item_id, f"{UNKNOWN_LEARNER}:{held}"]
    response = await console.post_form(PAGE + "/retry", {"ids": ids}, from_page=PAGE)
    page = await response.text()
    assert response.status == 200, page
    assert "Projected 2 statement(s) again: 1 item(s) resolved, 1 open." in page
    assert (await store.get_item(stale.item_id)).state == "resolved"  # type: ignore[union-attr]
    assert await store.reason_counts(OPEN) == {UNKNOWN_LEARNER: 1}
    [entry] = await audited(console, "console.quality_retried")
    assert entry.actor == "operator:ola"
    assert entry.details == {"ids": ids, "statements": 2, "resolved": 1}


async def test_actions_need_an_operator_a_csrf_token_and_known_items(console: Console) -> None:
    await console.operator("vic", role="viewer")
    await console.operator("ola", role="operator")
    [statement_id] = await unknown_learners(console, 1)
    item = f"{UNKNOWN_LEARNER}:{statement_id}"
    await console.login("vic")
    for action in ("/retry", "/dismiss"):
        response = await console.post_form(PAGE + action, {"ids": [item]}, from_page=PAGE)
        assert response.status == 403, action
    await console.login("ola")
    for action in ("/retry", "/dismiss"):
        response = await console.http.post(PAGE + action, data={"ids": [item]})
        assert response.status == 403 and "CSRF" in await response.text()
        response = await console.post_form(PAGE + action, {}, from_page=PAGE)
        assert response.status == 400 and "tick at least one" in await response.text()
        response = await console.post_form(
            PAGE + action, {"ids": [item, "no_such:item"]}, from_page=PAGE
        )
        text = await response.text()
        assert response.status == 400 and "no quality item no_such:item" in text
    store = market(console).stores.quality
    assert (await store.get_item(item)).state == OPEN  # type: ignore[union-attr]
    assert await audited(console, "console.quality_dismissed") == []
    assert await audited(console, "console.quality_retried") == []


async def test_retry_every_open_item_of_a_reason(console: Console) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    await import_members(console, ("E1", "learner1@example.com"))
    mapped = await post_statements(console, [learner(1), learner(1)])
    [held] = await unknown_learners(console, 2)
    # items recorded under an earlier mapping for statements that map now, and one that does not
    store = market(console).stores.quality
    stale = [
        QualityIssue(i, "score_without_scale", "score", {"raw": 5}, "E1", None) for i in mapped
    ]
    await store.record_issues(stale, "old", 1)
    page = f"{PAGE}?reason=score_without_scale"
    _, listed = await console.page(page)
    assert 'id="retry-reason"' in listed
    response = await console.post_form(
        PAGE + "/retry-reason", {"reason": "score_without_scale"}, from_page=page
    )
    text = await response.text()
    assert response.status == 200
    assert "Projected 2 statement(s) again: 2 item(s) resolved, 1 open." in text
    assert await store.reason_counts(OPEN) == {UNKNOWN_LEARNER: 1}  # the held one's, untouched
    assert (await store.get_item(f"{UNKNOWN_LEARNER}:{held}")).state == OPEN  # type: ignore[union-attr]
    [entry] = await audited(console, "console.quality_retried")
    assert entry.actor == "operator:ola"
    assert entry.details == {"reason": "score_without_scale", "statements": 2, "resolved": 2}
    for form in ({}, {"reason": "nonsense"}):
        response = await console.post_form(PAGE + "/retry-reason", form, from_page=page)
        assert response.status == 400
    assert len(await audited(console, "console.quality_retried")) == 1
