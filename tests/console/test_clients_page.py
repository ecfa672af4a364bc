"""The marketplace-clients page over HTTP, on every backend: create (secret once), list,
rotate with a grace period, revoke; admins only, audited with the operator's name; CSRF
and bad input."""

from __future__ import annotations

import base64
import re

from tests.console.act_support import audited, market
from tests.console.conftest import Console

PAGE = "/console/clients"
TOKEN = "/marketplace/v1/oauth/token"


async def token_status(console: Console, client_id: str, secret: str) -> int:
    """The token endpoint's answer to these client credentials."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = await console.http.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    return response.status


def shown_secret(page: str) -> tuple[str, str]:
    client = re.search(r'id="new-client">([^<]+)<', page)
    secret = re.search(r'id="new-secret">([^<]+)<', page)
    assert client and secret, page
    return client.group(1), secret.group(1)


async def create_client(console: Console, **form: object) -> tuple[str, str]:
    data = {"name": "talent app", "scopes": ["read:completions", "read:scores"], **form}
    response = await console.post_form(PAGE, data, from_page=PAGE)
    assert response.status == 200
    return shown_secret(await response.text())


async def test_an_admin_creates_a_client_whose_secret_is_shown_once_and_works(
    console: Console,
) -> None:
    await console.operator("ada")
    await console.login("ada")
    client_id, secret = await create_client(console, rate_limit="120")
    assert await token_status(console, client_id, secret) == 200
    _, page = await console.page(PAGE)
    assert client_id in page and secret not in page
    assert "read:completions read:scores" in page and "120/min" in page
    [entry] = await audited(console, "client.created")
    assert entry.actor == "operator:ada" and entry.subject == client_id
    assert secret not in str(entry.details)
    stored = await market(console).stores.access.get_client(client_id)
    assert stored is not None and stored.rate_limit_per_min == 120
    assert secret not in stored.secret_hash


async def test_rotating_keeps_the_old_secret_for_the_grace_and_revoking_stops_it(
    console: Console,
) -> None:
    await console.operator("ada")
    await console.login("ada")
    client_id, old = await create_client(console)
    response = await console.post_form(
        f"{PAGE}/{client_id}/rotate", {"grace": "1h"}, from_page=PAGE
    )
    page = await response.text()
    assert response.status == 200
    same_id, new = shown_secret(page)
    assert same_id == client_id and new != old
    assert "previous secret works until" in page
    assert await token_status(console, client_id, new) == 200
    assert await token_status(console, client_id, old) == 200  # within its grace
    response = await console.post_form(f"{PAGE}/{client_id}/rotate", {"grace": "0"}, from_page=PAGE)
    _, newest = shown_secret(await response.text())
    assert await token_status(console, client_id, new) == 401  # no grace this time
    assert await token_status(console, client_id, newest) == 200
    [first, second] = await audited(console, "client.secret_rotated")
    assert first.actor == second.actor == "operator:ada"

    response = await console.post_form(f"{PAGE}/{client_id}/revoke", {}, from_page=PAGE)
    assert response.status == 200 and "Revoked" in await response.text()
    assert await token_status(console, client_id, newest) == 401
    _, page = await console.page(PAGE)
    assert re.search(rf'id="state-{client_id}">revoked', page)
    [entry] = await audited(console, "client.revoked")
    assert entry.actor == "operator:ada" and entry.subject == client_id
    response = await console.post_form(f"{PAGE}/{client_id}/rotate", {}, from_page=PAGE)
    assert response.status == 404  # a revoked client gets no new secret
    response = await console.post_form(f"{PAGE}/{client_id}/revoke", {}, from_page=PAGE)
    assert response.status == 404


async def test_bad_input_is_a_400_naming_it_and_nothing_is_made(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    for form, why in (
        ({"name": "", "scopes": ["admin"]}, "needs a name"),
        ({"name": "x" * 101, "scopes": ["admin"]}, "needs a name"),
        ({"name": "app"}, "unknown scope"),  # none ticked
        ({"name": "app", "scopes": ["read:all-the-things"]}, "unknown scope"),
        ({"name": "app", "scopes": ["admin"], "rate_limit": "-5"}, "rate limit"),
        ({"name": "app", "scopes": ["admin"], "rate_limit": "lots"}, "rate limit"),
    ):
        response = await console.post_form(PAGE, form, from_page=PAGE)
        text = await response.text()
        assert response.status == 400 and why in text, (form, text)
    assert await market(console).stores.access.list_clients() == []
    client_id, secret = await create_client(console)
    response = await console.post_form(
        f"{PAGE}/{client_id}/rotate", {"grace": "forever"}, from_page=PAGE
    )
    assert response.status == 400 and "grace" in await response.text()
    assert await token_status(console, client_id, secret) == 200  # unchanged
    assert await audited(console, "client.secret_rotated") == []


async def test_only_admins_see_or_change_clients_and_forms_need_csrf(console: Console) -> None:
    await console.operator("ada")
    await console.operator("ola", role="operator")
    await console.login("ada")
    client_id, secret = await create_client(console)
    for path in (PAGE, f"{PAGE}/{client_id}/rotate", f"{PAGE}/{client_id}/revoke"):
        response = await console.http.post(path, data={"name": "x", "scopes": "admin"})
        assert response.status == 403 and "CSRF" in await response.text(), path
    await console.login("ola")
    status, page = await console.page(PAGE)
    assert status == 403 and client_id not in page
    _, dashboard = await console.page("/console/")
    assert 'href="/console/clients"' not in dashboard  # not in an operator's menu
    for path in (PAGE, f"{PAGE}/{client_id}/rotate", f"{PAGE}/{client_id}/revoke"):
        response = await console.post_form(
            path, {"name": "x", "scopes": "admin"}, from_page="/console/"
        )
        assert response.status == 403, path
    assert len(await market(console).stores.access.list_clients()) == 1
    assert await token_status(console, client_id, secret) == 200
