"""Delegated OAuth over HTTP: authorize → console consent → code → PKCE exchange → refresh
rotation, reuse and replay, introspection, revocation, the grants page; open-redirect and CSRF
refusals."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from lrs.keys import marketplace_app_key
from projections.keys import projection_key
from projections.oauth_apps import NewApp
from projections.service import Projection
from tests.console.conftest import Console, csrf_of

VERIFIER = "verifier-" + "a" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
URI = "https://app.example/cb"
V1 = "/marketplace/v1"


def projection(console: Console) -> Projection:
    return console.http.app[marketplace_app_key][projection_key]


async def new_app(console: Console, scopes: str = "read:scores read:profile", **kw: Any) -> NewApp:
    return await projection(console).apps.create(
        "Talent app", [URI], scopes.split(), public=kw.get("public", True)
    )


def authorize_query(app: NewApp, **over: str) -> str:
    query = {
        "response_type": "code",
        "client_id": app.app.client_id,
        "redirect_uri": URI,
        "scope": "read:scores",
        "state": "xyz-123",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
    }
    query.update(over)
    return urlencode(query)


def hidden_fields(page: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in found}


async def consent(console: Console, app: NewApp, decision: str = "approve", **over: str) -> Any:
    """Through the authorize endpoint to the consent page, then Approve / Deny."""
    sent = await console.http.get(
        f"{V1}/oauth/authorize?{authorize_query(app, **over)}", allow_redirects=False
    )
    assert sent.status == 302, await sent.text()
    location = sent.headers["Location"]
    assert location.startswith("/console/oauth/consent?")
    status, page = await console.page(location)
    assert status == 200, page
    form = {**hidden_fields(page), "decision": decision}
    return await console.http.post("/console/oauth/consent", data=form, allow_redirects=False)


def answer(response: Any) -> dict[str, str]:
    """The query sent back to the app's redirect URI."""
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith(URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def token(console: Console, app: NewApp, **form: str) -> tuple[int, dict[str, Any]]:
    data = {"client_id": app.app.client_id, **form}
    if app.secret:
        data["client_secret"] = app.secret
    response = await console.http.post(f"{V1}/oauth/token", data=data)
    return response.status, await response.json()


async def exchange(console: Console, app: NewApp, code: str, verifier: str = VERIFIER) -> Any:
    return await token(
        console,
        app,
        grant_type="authorization_code",
        code=code,
        redirect_uri=URI,
        code_verifier=verifier,
    )


async def api_status(console: Console, access: str) -> int:
    got = await console.http.get(f"{V1}/aggregates", headers={"Authorization": f"Bearer {access}"})
    return got.status


async def signed_in(console: Console, role: str = "admin") -> None:
    await console.operator("ada", role)
    assert (await console.login("ada")).status == 303


async def test_pkce_code_flow_refresh_rotation_and_reuse(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    back = answer(await consent(console, app))
    assert back["state"] == "xyz-123" and back["iss"].endswith("/marketplace")
    status, first = await exchange(console, app, back["code"])
    assert status == 200, first
    assert first["token_type"] == "Bearer" and first["scope"] == "read:scores"
    assert first["expires_in"] == 900 and first["refresh_token"].startswith("rt_")
    assert await api_status(console, first["access_token"]) == 200
    refreshed = []
    previous = first["refresh_token"]
    for _ in range(2):
        status, body = await token(console, app, grant_type="refresh_token", refresh_token=previous)
        assert status == 200 and body["refresh_token"] != previous
        refreshed.append(body)
        previous = body["refresh_token"]
    status, reused = await token(
        console, app, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 400 and reused["error"] == "invalid_grant"
    assert await api_status(console, refreshed[-1]["access_token"]) == 401  # grant revoked
    status, after = await token(console, app, grant_type="refresh_token", refresh_token=previous)
    assert status == 400 and after["error"] == "invalid_grant"
    _, grants_page = await console.page("/console/grants")
    assert "revoked (refresh_reused)" in grants_page
    entries = await projection(console).audit.entries(limit=50)
    types = {e.type for e in entries}
    assert {"oauth.grant_issued", "oauth.token_refreshed", "oauth.refresh_reused"} <= types
    assert any(e.type == "oauth.grant_issued" and e.actor == "operator:ada" for e in entries)


async def test_a_wrong_verifier_is_refused(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    back = answer(await consent(console, app))
    status, body = await exchange(console, app, back["code"], verifier=VERIFIER + "x")
    assert status == 400 and body["error"] == "invalid_grant"


async def test_a_replayed_code_is_refused_and_revokes_the_grant(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    code = answer(await consent(console, app))["code"]
    status, first = await exchange(console, app, code)
    assert status == 200
    status, again = await exchange(console, app, code)
    assert status == 400 and again["error"] == "invalid_grant"
    assert await api_status(console, first["access_token"]) == 401
    grants = await projection(console).grants.list_grants()
    assert grants[0].revoked_reason == "code_replayed"


async def test_the_plain_pkce_method_goes_back_as_an_error_with_state(console: Console) -> None:
    app = await new_app(console)
    for over in ({"code_challenge_method": "plain"}, {"code_challenge_method": ""}):
        sent = await console.http.get(
            f"{V1}/oauth/authorize?{authorize_query(app, **over)}", allow_redirects=False
        )
        back = answer(sent)
        assert back["error"] == "invalid_request" and back["state"] == "xyz-123"


async def test_an_unknown_app_or_unregistered_redirect_uri_is_not_redirected_to(
    console: Console,
) -> None:
    app = await new_app(console)
    for query in (
        authorize_query(app, redirect_uri="https://evil.example/cb"),
        authorize_query(app, redirect_uri=URI + "?extra=1"),
        authorize_query(app, client_id="app_unknown"),
    ):
        for path in (f"{V1}/oauth/authorize", "/console/oauth/consent"):
            await signed_in_once(console)
            got = await console.http.get(f"{path}?{query}", allow_redirects=False)
            assert got.status == 400 and "Location" not in got.headers
            assert "evil.example" not in got.headers.get("Location", "")


async def signed_in_once(console: Console) -> None:
    if (await console.page("/console/"))[0] != 200:
        await signed_in(console)


async def test_consent_without_a_session_goes_to_login_and_back(console: Console) -> None:
    await console.operator("ada")
    app = await new_app(console)
    sent = await console.http.get(
        f"{V1}/oauth/authorize?{authorize_query(app)}", allow_redirects=False
    )
    consent_url = sent.headers["Location"]
    status, _ = await console.page(consent_url)
    assert status == 303
    to_login = (await console.http.get(consent_url, allow_redirects=False)).headers["Location"]
    assert to_login.startswith("/console/login?next=")
    after = parse_qs(urlsplit(to_login).query)["next"][0]
    assert urlsplit(after).path == "/console/oauth/consent"
    assert parse_qs(urlsplit(after).query) == parse_qs(urlsplit(consent_url).query)
    status, login_page = await console.page(to_login)
    fields = hidden_fields(login_page)
    assert fields["next"] == after
    response = await console.http.post(
        "/console/login",
        data={**fields, "name": "ada", "password": "correct horse battery"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == after
    status, page = await console.page(after)
    assert status == 200 and 'id="approve"' in page


async def test_login_next_never_leaves_the_console(console: Console) -> None:
    await console.operator("ada")
    for evil in (
        "https://evil.example/",
        "//evil.example/console/",
        "/\\evil.example/",
        "/console/\\\\evil.example",
        "javascript:alert(1)",
        "/elsewhere",
        "/console/\r\nSet-Cookie: x=1",
    ):
        page = await (await console.http.get("/console/login")).text()
        response = await console.http.post(
            "/console/login",
            data={
                "csrf_token": csrf_of(page),
                "name": "ada",
                "password": "correct horse battery",
                "next": evil,
            },
            allow_redirects=False,
        )
        assert response.status == 303 and response.headers["Location"] == "/console/", evil


async def test_consent_needs_the_csrf_token(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    sent = await console.http.get(
        f"{V1}/oauth/authorize?{authorize_query(app)}", allow_redirects=False
    )
    _, page = await console.page(sent.headers["Location"])
    fields = {k: v for k, v in hidden_fields(page).items() if k != "csrf_token"}
    for form in (fields, {**fields, "csrf_token": "forged"}):
        posted = await console.http.post(
            "/console/oauth/consent", data={**form, "decision": "approve"}, allow_redirects=False
        )
        assert posted.status == 403 and "Location" not in posted.headers
    assert await projection(console).grants.list_grants() == []


async def test_a_viewer_grants_only_what_the_role_allows(console: Console) -> None:
    await signed_in(console, role="viewer")
    app = await new_app(console)
    sent = await console.http.get(
        f"{V1}/oauth/authorize?{authorize_query(app, scope='read:scores read:profile')}",
        allow_redirects=False,
    )
    _, page = await console.page(sent.headers["Location"])
    assert "not granted: your role does not allow it" in page
    back = answer(await consent(console, app, scope="read:scores read:profile"))
    status, body = await exchange(console, app, back["code"])
    assert status == 200 and body["scope"] == "read:scores"
    only_profile = answer(await consent(console, app, scope="read:profile"))
    assert only_profile["error"] == "invalid_scope"


async def test_deny_goes_back_with_access_denied(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    back = answer(await consent(console, app, decision="deny"))
    assert back == {
        "error": "access_denied",
        "error_description": "the operator denied the request",
        "state": "xyz-123",
        "iss": back["iss"],
    }
    assert await projection(console).grants.list_grants() == []


async def test_introspection_and_revocation_over_http(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console, public=False)
    code = answer(await consent(console, app))["code"]
    _, tokens = await exchange(console, app, code)
    creds = {"client_id": app.app.client_id, "client_secret": app.secret or ""}

    async def introspect(value: str, auth: dict[str, str]) -> dict[str, Any]:
        got = await console.http.post(f"{V1}/oauth/introspect", data={**auth, "token": value})
        assert got.status == 200 and got.headers["Cache-Control"] == "no-store"
        body: dict[str, Any] = await got.json()
        return body

    active = await introspect(tokens["access_token"], creds)
    assert active["active"] and active["scope"] == "read:scores"
    assert active["client_id"] == app.app.client_id and active["token_type"] == "Bearer"
    assert (await introspect(tokens["refresh_token"], creds))["active"]
    assert await introspect("not-a-token", creds) == {"active": False}
    wrong = await console.http.post(
        f"{V1}/oauth/introspect", data={**creds, "client_secret": "x", "token": "t"}
    )
    assert wrong.status == 401 and (await wrong.json())["error"] == "invalid_client"
    revoked = await console.http.post(
        f"{V1}/oauth/revoke", data={**creds, "token": tokens["refresh_token"]}
    )
    assert revoked.status == 200
    assert await introspect(tokens["refresh_token"], creds) == {"active": False}
    assert await introspect(tokens["access_token"], creds) == {"active": False}  # its grant
    assert await api_status(console, tokens["access_token"]) == 401


async def test_grant_types_belong_to_their_kind_of_client(console: Console) -> None:
    client = await projection(console).tokens.create_client("cc", ["read:scores"])
    got = await console.http.post(
        f"{V1}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client.client.client_id,
            "client_secret": client.secret,
            "code": "x",
        },
    )
    assert got.status == 400 and (await got.json())["error"] == "unauthorized_client"
    app = await new_app(console)
    status, body = await token(console, app, grant_type="client_credentials")
    assert status == 400 and body["error"] == "unauthorized_client"


async def test_an_operator_revokes_a_grant_on_the_grants_page(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    _, tokens = await exchange(console, app, answer(await consent(console, app))["code"])
    grant = (await projection(console).grants.list_grants())[0]
    _, page = await console.page("/console/grants")
    assert grant.grant_id in page and "active" in page
    no_csrf = await console.http.post(
        f"/console/grants/{grant.grant_id}/revoke", data={}, allow_redirects=False
    )
    assert no_csrf.status == 403
    done = await console.post_form(
        f"/console/grants/{grant.grant_id}/revoke", {}, from_page="/console/grants"
    )
    assert done.status == 303
    assert await api_status(console, tokens["access_token"]) == 401
    entries = await projection(console).audit.entries(limit=20, type="oauth.grant_revoked")
    assert entries[0].actor == "operator:ada" and entries[0].details == {"reason": "operator"}


async def test_the_grants_page_is_for_admins(console: Console) -> None:
    await signed_in(console, role="operator")
    assert (await console.page("/console/grants"))[0] == 403


async def test_the_consent_page_lets_its_form_reach_only_the_apps_origin(
    console: Console,
) -> None:
    await signed_in(console)
    app = await new_app(console)
    sent = await console.http.get(
        f"{V1}/oauth/authorize?{authorize_query(app)}", allow_redirects=False
    )
    page = await console.http.get(sent.headers["Location"], allow_redirects=False)
    policy = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://app.example;" in policy
    assert "frame-ancestors 'none'" in policy and page.headers["X-Frame-Options"] == "DENY"
    other_policy = (await console.http.get("/console/grants")).headers["Content-Security-Policy"]
    assert "form-action 'self';" in other_policy  # other pages: their own forms only


async def test_an_admin_revokes_an_app_on_the_apps_page(console: Console) -> None:
    await signed_in(console)
    app = await new_app(console)
    _, tokens = await exchange(console, app, answer(await consent(console, app))["code"])
    _, page = await console.page("/console/apps")
    assert app.app.client_id in page and "public (PKCE)" in page
    path = f"/console/apps/{app.app.client_id}/revoke"
    assert (await console.http.post(path, data={}, allow_redirects=False)).status == 403
    done = await console.post_form(path, {}, from_page="/console/apps")
    assert done.status == 303
    assert await api_status(console, tokens["access_token"]) == 401
    status, again = await token(
        console, app, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert status == 401 and again["error"] == "invalid_client"
    entries = await projection(console).audit.entries(limit=5, type="oauth.app_revoked")
    assert entries[0].actor == "operator:ada" and entries[0].subject == app.app.client_id
    missing = await console.post_form(
        "/console/apps/app_nobody/revoke", {}, from_page="/console/apps"
    )
    assert missing.status == 404
