"""Login, sessions, CSRF, throttling and roles, over HTTP."""

from __future__ import annotations

import base64
from dataclasses import replace

from console.http.auth import COOKIE
from console.secrets import token_hash
from lrs.auth import create_credential
from lrs.keys import marketplace_app_key
from projections.keys import projection_key
from tests.console.conftest import PASSWORD, Console, csrf_of


def session_cookie(console: Console) -> str | None:
    """The console session id the client holds."""
    for cookie in console.http.session.cookie_jar:
        if cookie.key == COOKIE:
            return cookie.value
    return None


async def test_an_operator_signs_in_sees_the_dashboard_and_signs_out(console: Console) -> None:
    await console.operator("ada")
    status, _ = await console.page("/console/")
    assert status == 303  # to the login page
    response = await console.login("ada")
    assert response.status == 303 and response.headers["Location"] == "/console/"
    status, page = await console.page("/console/")
    assert status == 200 and "Dashboard" in page and "ada" in page
    out = await console.post_form("/console/logout", {}, from_page="/console/")
    assert out.status == 303
    assert (await console.page("/console/"))[0] == 303


async def test_the_session_cookie_is_httponly_strict_and_scoped(console: Console) -> None:
    await console.operator("ada")
    response = await console.login("ada")
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/console"
    assert not morsel["secure"]  # plain http here; https sets Secure


async def test_a_wrong_password_an_unknown_name_and_no_password_yet_are_refused(
    console: Console,
) -> None:
    await console.operator("ada")
    await console.accounts.create("bob", "viewer", actor="cli")  # link not used yet
    for name, password in (("ada", "wrong password!"), ("nobody", "whatever1234"), ("bob", "")):
        response = await console.login(name, password)
        assert response.status == 401
        assert "Unknown name or wrong password" in await response.text()
    assert session_cookie(console) is None


async def test_a_login_starts_a_new_session_whatever_cookie_the_browser_had(
    console: Console,
) -> None:
    await console.operator("ada")
    planted = "attacker-chosen-session-id"
    console.http.session.cookie_jar.update_cookies({COOKIE: planted})
    response = await console.login("ada")
    assert response.status == 303
    first = response.cookies[COOKIE].value
    assert first and first != planted
    response = await console.login("ada")
    second = response.cookies[COOKIE].value
    assert second and second != first  # every login a new id


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    form = {"name": "lms", "scopes": "all"}
    for extra in ({}, {"csrf_token": "0" * 64}):
        response = await console.http.post(
            "/console/credentials", data={**form, **extra}, allow_redirects=False
        )
        assert response.status == 403
        assert "CSRF" in await response.text()
    assert await console.backend.credentials.list_credentials() == []
    # the token of another session does not do either
    _, page = await console.page("/console/credentials")
    stale = csrf_of(page)
    await console.login("ada")
    response = await console.http.post(
        "/console/credentials", data={**form, "csrf_token": stale}, allow_redirects=False
    )
    assert response.status == 403


async def test_the_login_form_needs_its_own_token(console: Console) -> None:
    await console.operator("ada")
    await console.http.get("/console/login")
    response = await console.http.post(
        "/console/login",
        data={"name": "ada", "password": PASSWORD, "csrf_token": "forged"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert session_cookie(console) is None


async def test_failed_logins_lock_the_account_with_a_clear_message(console: Console) -> None:
    await console.operator("ada")
    limit = console.accounts.settings.failures_per_account
    for _ in range(limit):
        assert (await console.login("ada", "wrong password!")).status == 401
    response = await console.login("ada")  # the right password, too late
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in await response.text()
    assert session_cookie(console) is None


async def test_failed_logins_from_one_address_are_throttled_across_accounts(
    console: Console,
) -> None:
    await console.operator("ada")
    limit = console.accounts.settings.failures_per_address
    for n in range(limit):
        assert (await console.login(f"guess{n}", "wrong password!")).status == 401
    assert (await console.login("ada")).status == 429


async def test_a_viewer_sees_pages_but_changes_nothing(console: Console) -> None:
    await console.operator("ada")
    await console.operator("vic", role="viewer")
    await console.login("vic")
    assert (await console.page("/console/"))[0] == 200
    assert (await console.page("/console/statements"))[0] == 200
    assert (await console.page("/console/credentials"))[0] == 403
    response = await console.post_form(
        "/console/credentials", {"name": "lms", "scopes": "all"}, from_page="/console/"
    )
    assert response.status == 403
    assert await console.backend.credentials.list_credentials() == []
    revoke = await console.post_form(
        "/console/credentials/somekey/revoke", {}, from_page="/console/"
    )
    assert revoke.status == 403


async def test_an_expired_or_idle_session_sends_to_the_login_page(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    sessions = console.backend_sessions
    raw = session_cookie(console)
    assert raw
    stored = await sessions.get_session(token_hash(raw))
    assert stored is not None
    await sessions.drop_session(stored.id_hash)
    await sessions.add_session(replace(stored, expires_us=stored.created_us + 1))
    assert (await console.page("/console/"))[0] == 303
    assert await sessions.get_session(stored.id_hash) is None  # and forgotten
    await console.login("ada")
    raw = session_cookie(console)
    assert raw
    stored = await sessions.get_session(token_hash(raw))
    assert stored is not None
    idle = console.accounts.settings.idle_minutes * 60_000_000
    await sessions.drop_session(stored.id_hash)
    await sessions.add_session(replace(stored, seen_us=stored.seen_us - idle))
    assert (await console.page("/console/"))[0] == 303


async def test_a_disabled_operator_is_signed_out_at_once(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    await console.accounts.disable("ada", actor="cli")
    assert (await console.page("/console/"))[0] == 303
    assert (await console.login("ada")).status == 401


async def test_an_xapi_key_or_a_marketplace_token_never_opens_the_console(
    console: Console,
) -> None:
    await console.operator("ada")
    new = await create_credential(console.backend.credentials, "lms", ["all"])
    xapi = "Basic " + base64.b64encode(f"{new.credential.key}:{new.secret}".encode()).decode()
    projection = console.http.app[marketplace_app_key][projection_key]
    client = await projection.tokens.create_client("m", ["admin"])
    basic = base64.b64encode(f"{client.client.client_id}:{client.secret}".encode()).decode()
    issued = await console.http.post(
        "/marketplace/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert issued.status == 200
    bearer = "Bearer " + (await issued.json())["access_token"]
    for auth in (xapi, bearer, "Basic " + base64.b64encode(b"ada:" + PASSWORD.encode()).decode()):
        page = await console.http.get(
            "/console/", headers={"Authorization": auth}, allow_redirects=False
        )
        assert page.status == 303 and page.headers["Location"] == "/console/login"
        post = await console.http.post(
            "/console/credentials",
            data={"name": "x", "scopes": "all"},
            headers={"Authorization": auth},
            allow_redirects=False,
        )
        assert post.status == 403
    assert [c.name for c in await console.backend.credentials.list_credentials()] == ["lms"]


async def test_logins_logouts_and_changes_are_audited_with_the_operators_name(
    console: Console,
) -> None:
    await console.operator("ada")
    await console.login("ada")
    await console.post_form(
        "/console/credentials", {"name": "lms", "scopes": "all"}, from_page="/console/"
    )
    await console.post_form("/console/logout", {}, from_page="/console/")
    projection = console.http.app[marketplace_app_key][projection_key]
    entries = await projection.stores.audit.newest(limit=20)
    seen = [(e.type, e.actor) for e in reversed(entries)]
    assert seen == [
        ("console.operator_created", "cli"),
        ("console.password_set", "operator:ada"),
        ("console.login", "operator:ada"),
        ("console.credential_created", "operator:ada"),
        ("console.logout", "operator:ada"),
    ]
    text = str([e.details for e in entries])
    assert PASSWORD not in text


async def test_the_stylesheet_is_served_before_login_from_the_package(console: Console) -> None:
    response = await console.http.get("/console/static/console.css")
    assert response.status == 200 and response.content_type == "text/css"
    assert ":focus-visible" in await response.text()  # keyboard focus is visible
    status, page = await console.page("/console/login")
    assert status == 200
    assert 'href="/console/static/console.css"' in page and "http" not in page.split("<body")[0]


async def test_a_method_a_route_does_not_take_is_405_with_allow(console: Console) -> None:
    response = await console.http.request("PATCH", "/console/credentials")
    assert response.status == 405 and "POST" in response.headers["Allow"]
    assert (await console.http.get("/console/no-such-page")).status == 404
