"""The console's marketplace apps page over HTTP: an admin registers an app (the same checks as
`lrs marketplace apps create`, a confidential app's secret shown once), bad input gets a 400
naming the field with nothing written, other roles and forms without the CSRF token get 403, and
an app registered here goes through the whole authorization-code flow."""

from __future__ import annotations

import re
from typing import Any

import pytest

from projections.oauth_apps import NewApp
from projections.oauth_grants import secret_hash
from tests.console.conftest import Console, csrf_of
from tests.console.test_oauth_consent import URI, answer, consent, exchange, projection, signed_in

PAGE = "/console/apps"


def registration(**over: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "Talent app",
        "redirect_uris": f"{URI}\r\nhttp://127.0.0.1:8765/cb\r\n",
        "scopes": ["read:scores", "read:profile"],
        "kind": "confidential",
    }
    form.update(over)
    return form


async def register(console: Console, **over: Any) -> tuple[int, str]:
    """Post the registration form with the page's CSRF token; (status, page)."""
    _, page = await console.page(PAGE)
    fields = [("csrf_token", csrf_of(page))]
    for name, value in registration(**over).items():
        values = value if isinstance(value, list) else [value]
        fields.extend((name, v) for v in values)
    response = await console.http.post(PAGE, data=fields, allow_redirects=False)
    return response.status, await response.text()


def shown(page: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}">([^<]+)<', page)
    return found.group(1) if found else None


async def created_entries(console: Console) -> list[Any]:
    return await projection(console).audit.entries(limit=20, type="oauth.app_created")


async def test_an_admin_registers_a_confidential_app_and_sees_its_secret_once(
    console: Console,
) -> None:
    await signed_in(console)
    status, page = await register(console)
    assert status == 200, page
    client_id, secret = shown(page, "new-client"), shown(page, "new-secret")
    assert client_id and client_id.startswith("app_") and secret
    [app] = await projection(console).apps.list()
    assert app.client_id == client_id and not app.public
    assert app.redirect_uris == (URI, "http://127.0.0.1:8765/cb")
    assert app.scopes == ("read:scores", "read:profile")
    assert app.secret_hash and secret not in app.secret_hash  # only a hash is kept
    assert await projection(console).apps.authenticate(client_id, secret) == app
    [entry] = await created_entries(console)
    assert entry.actor == "operator:ada" and entry.subject == client_id
    assert secret not in str(entry.details)
    _, again = await console.page(PAGE)
    assert client_id in again and secret not in again and 'id="new-secret"' not in again


async def test_a_public_app_has_no_secret(console: Console) -> None:
    await signed_in(console)
    status, page = await register(console, kind="public", redirect_uris="http://[::1]:9000/cb")
    assert status == 200, page
    assert shown(page, "new-client") and 'id="new-secret"' not in page
    [app] = await projection(console).apps.list()
    assert app.public and app.secret_hash is None and app.redirect_uris == ("http://[::1]:9000/cb",)


@pytest.mark.parametrize(
    ("over", "named"),
    [
        ({"name": "  "}, "Name:"),
        ({"name": "x" * 101}, "Name:"),
        ({"redirect_uris": ""}, "Redirect URIs:"),
        ({"redirect_uris": "http://talent.example/cb"}, "Redirect URIs:"),
        ({"redirect_uris": f"{URI}\nhttps://*.example/cb"}, "Redirect URIs:"),
        ({"redirect_uris": "https://talent.example/cb#top"}, "Redirect URIs:"),
        ({"redirect_uris": "/cb"}, "Redirect URIs:"),
        ({"redirect_uris": "\n".join(f"{URI}{i}" for i in range(21))}, "Redirect URIs:"),
        ({"scopes": []}, "Scopes:"),
        ({"scopes": ["read:scores", "read:everything"]}, "Scopes:"),
        ({"kind": "sometimes"}, "Kind:"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    console: Console, over: dict[str, Any], named: str
) -> None:
    await signed_in(console)
    status, page = await register(console, **over)
    assert status == 400
    error = re.search(r'<p class="error" role="alert" id="error">([^<]+)</p>', page)
    assert error and error.group(1).startswith(named), page
    assert 'aria-invalid="true"' in page or "aria-describedby" in page
    assert await projection(console).apps.list() == []
    assert await created_entries(console) == []


async def test_what_was_typed_comes_back_with_the_error(console: Console) -> None:
    await signed_in(console)
    status, page = await register(console, redirect_uris="http://talent.example/cb")
    assert status == 400
    assert 'value="Talent app"' in page and "http://talent.example/cb</textarea>" in page
    ticked = re.findall(r'name="scopes" value="([^"]+)" id="[^"]+" checked', page)
    assert set(ticked) == {"read:profile", "read:scores"}


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_only_an_admin_registers(console: Console, role: str) -> None:
    await console.operator("admin")
    await signed_in(console, role=role)
    assert (await console.page(PAGE))[0] == 403
    _, page = await console.page("/console/")
    posted = await console.http.post(
        PAGE, data={"csrf_token": csrf_of(page), **registration()}, allow_redirects=False
    )
    assert posted.status == 403
    assert await projection(console).apps.list() == []


async def test_a_form_without_the_csrf_token_is_refused(console: Console) -> None:
    await signed_in(console)
    for token in ({}, {"csrf_token": "forged"}):
        posted = await console.http.post(
            PAGE, data={**token, **registration()}, allow_redirects=False
        )
        assert posted.status == 403
    assert await projection(console).apps.list() == []


async def test_an_app_registered_on_the_page_gets_tokens(console: Console) -> None:
    await signed_in(console)
    _, page = await register(console)
    client_id, secret = shown(page, "new-client"), shown(page, "new-secret")
    app = await projection(console).apps.get(client_id or "")
    assert app is not None
    new = NewApp(app=app, secret=secret)
    status, tokens = await exchange(console, new, answer(await consent(console, new))["code"])
    assert status == 200 and tokens["scope"] == "read:scores", tokens


async def test_an_admin_revokes_an_app_once(console: Console) -> None:
    await signed_in(console)
    _, page = await register(console, kind="public")
    client_id = shown(page, "new-client")
    path = f"{PAGE}/{client_id}/revoke"
    done = await console.post_form(path, {}, from_page=PAGE)
    assert done.status == 303 and done.headers["Location"] == PAGE
    _, listed = await console.page(PAGE)
    assert re.search(rf'id="app-{client_id}">.*?<td class="state">revoked</td>', listed, re.S)
    assert (await console.post_form(path, {}, from_page=PAGE)).status == 404
    revoked = await projection(console).audit.entries(limit=5, type="oauth.app_revoked")
    assert [e.actor for e in revoked] == ["operator:ada"]


async def test_revoking_an_app_shows_its_grants_revoked(console: Console) -> None:
    await signed_in(console)
    _, page = await register(console, kind="public")
    app = await projection(console).apps.get(shown(page, "new-client") or "")
    assert app is not None
    new = NewApp(app=app, secret=None)
    _, tokens = await exchange(console, new, answer(await consent(console, new))["code"])
    done = await console.post_form(f"{PAGE}/{app.client_id}/revoke", {}, from_page=PAGE)
    assert done.status == 303
    _, grants = await console.page(f"/console/grants?app={app.client_id}")
    assert "revoked (app_revoked)" in grants and "active" not in grants.split("<tbody>")[1]
    stored = projection(console).stores.oauth
    assert await stored.get_refresh_token(secret_hash(tokens["refresh_token"])) is None
