"""The console's LTI page: tools and consumer keys listed for every role, disabled by an
admin (audited with the operator's name), refused to the others."""

from __future__ import annotations

from lrs.keys import lti_app_key, marketplace_app_key
from lti.keys import lti_stores_key, vault_key
from lti.registry import register_consumer, register_tool
from projections.keys import projection_key
from tests.console.conftest import Console, csrf_of


async def registered(console: Console) -> tuple[str, str]:
    """A tool and a consumer key, as `lrs lti register-*` makes them; (tool id, key)."""
    lti = console.http.app[lti_app_key]
    store = lti[lti_stores_key].registrations
    tool = await register_tool(store, name="Quiz tool", jwks_url="https://tool.example/jwks")
    new = await register_consumer(store, lti[vault_key], name="Legacy LMS", key="legacy/1")
    return tool.id, new.consumer.key


async def test_an_admin_disables_a_tool_and_a_consumer_key(console: Console) -> None:
    tool_id, key = await registered(console)
    await console.operator("ada")
    await console.login("ada")
    status, page = await console.page("/console/lti")
    assert status == 200 and "Quiz tool" in page and "legacy/1" in page
    assert page.count(">Disable</button>") == 2
    for kind, target in (("tool", tool_id), ("consumer", key)):
        response = await console.post_form(
            "/console/lti/disable", {"kind": kind, "target": target}, from_page="/console/lti"
        )
        assert response.status == 303
    _, page = await console.page("/console/lti")
    assert ">Disable</button>" not in page and page.count("disabled 20") == 2
    store = console.http.app[lti_app_key][lti_stores_key].registrations
    assert (await store.get_tool(tool_id)).disabled_at  # type: ignore[union-attr]
    audit = console.http.app[marketplace_app_key][projection_key].audit
    entries = await audit.entries(limit=10)
    kinds = {(e.type, e.actor, e.subject) for e in entries}
    assert ("console.lti_tool_disabled", "operator:ada", tool_id) in kinds
    assert ("console.lti_consumer_disabled", "operator:ada", key) in kinds


async def test_bad_and_unknown_targets_and_other_roles(console: Console) -> None:
    tool_id, _ = await registered(console)
    await console.operator("ada")
    await console.login("ada")
    response = await console.post_form(
        "/console/lti/disable", {"kind": "app", "target": tool_id}, from_page="/console/lti"
    )
    assert response.status == 400
    response = await console.post_form(
        "/console/lti/disable", {"kind": "tool", "target": "nope"}, from_page="/console/lti"
    )
    assert response.status == 404
    response = await console.http.post(
        "/console/lti/disable", data={"kind": "tool", "target": tool_id}, allow_redirects=False
    )
    assert response.status == 403  # no CSRF token
    await console.operator("olga", role="operator")
    await console.login("olga")
    status, page = await console.page("/console/lti")
    assert status == 200 and "Quiz tool" in page and ">Disable</button>" not in page
    response = await console.http.post(
        "/console/lti/disable",
        data={"csrf_token": csrf_of(page), "kind": "tool", "target": tool_id},
        allow_redirects=False,
    )
    assert response.status == 403
    store = console.http.app[lti_app_key][lti_stores_key].registrations
    assert (await store.get_tool(tool_id)).disabled_at is None  # type: ignore[union-attr]
