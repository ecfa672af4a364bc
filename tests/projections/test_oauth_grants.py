"""Delegated OAuth as plain services: app registration, authorization requests, code + PKCE,
refresh rotation, reuse and replay detection, revocation, introspection, audit; every backend."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from lrs.errors import BadRequest, InvalidToken
from projections.audit import AuditLog
from projections.errors import AuthorizeError, OAuthError
from projections.keyring import Keyring
from projections.oauth_apps import NewApp, OAuthApps, check_redirect_uri
from projections.oauth_authorize import (
    AuthorizeRequest,
    check_request,
    error_redirect,
    granted_scopes,
    redirect_with,
)
from projections.oauth_grants import (
    CODE_TTL_S,
    CODES_KEPT_S,
    REFRESH_TTL_S,
    DelegatedOAuth,
    Tokens,
    pkce_matches,
    secret_hash,
)
from projections.oauth_housekeeping import HOUR_US, OAuthHousekeeping, summary
from projections.store import ProjectionStores
from projections.store.oauth import Forgotten
from projections.tokens import TokenService

VERIFIER = "v" * 20 + "-._~" + "x" * 30
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
URI = "https://app.example/cb"


class Parts:
    """The services on one backend, with one clock."""

    def __init__(self, stores: ProjectionStores) -> None:
        self.now = [float(int(time.time()))]
        self.stores = stores
        self.audit = AuditLog(stores.audit)
        self.tokens = TokenService(
            stores.access,
            Keyring(b"k" * 32),
            audit=self.audit,
            issuer="https://lrs.test/marketplace",
            ttl_s=60,
            clock=lambda: self.now[0],
            grants=stores.oauth,
        )
        self.grants = DelegatedOAuth(
            stores.oauth, self.tokens, self.audit, clock=lambda: self.now[0]
        )
        self.apps = OAuthApps(
            stores.oauth, self.audit, clock=lambda: self.now[0], grants=self.grants
        )

    async def app(self, *, public: bool = True, scopes: str = "read:scores read:badges") -> NewApp:
        return await self.apps.create("Talent app", [URI], scopes.split(), public=public)

    def query(self, new: NewApp, **over: str) -> dict[str, str]:
        query = {
            "response_type": "code",
            "client_id": new.app.client_id,
            "redirect_uri": URI,
            "scope": "read:scores",
            "state": "st-1",
            "code_challenge": CHALLENGE.decode(),
            "code_challenge_method": "S256",
        }
        query.update(over)
        return query

    async def code(
        self, new: NewApp, role: str = "admin", **over: str
    ) -> tuple[str, AuthorizeRequest]:
        request = check_request(new.app, self.query(new, **over))
        return await self.grants.approve(request, granted_scopes(request, role), "ada"), request

    async def audit_types(self) -> list[str]:
        return [e.type for e in reversed(await self.audit.entries(limit=100))]


@pytest.fixture
async def parts(stores: ProjectionStores) -> Parts:
    return Parts(stores)


# --- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/cb",  # http off loopback
        "https://*.example/cb",
        "https://app.example/*",
        "https://app.example/cb#frag",
        "app.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://localhost@evil.example/cb",
    ],
)
def test_redirect_uris_that_cannot_be_registered(uri: str) -> None:
    with pytest.raises(BadRequest):
        check_redirect_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb?x=1",
        "http://127.0.0.1:8765/cb",
        "http://[::1]/cb",
        "http://localhost:3000/cb",
    ],
)
def test_redirect_uris_that_can(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


async def test_an_app_is_registered_audited_and_its_secret_hashed(parts: Parts) -> None:
    new = await parts.app(public=False)
    assert new.secret and new.app.client_id.startswith("app_")
    stored = await parts.stores.oauth.get_app(new.app.client_id)
    assert stored is not None and stored.secret_hash and new.secret not in stored.secret_hash
    assert await parts.apps.authenticate(new.app.client_id, new.secret) == stored
    with pytest.raises(OAuthError) as wrong:
        await parts.apps.authenticate(new.app.client_id, "wrong")
    assert wrong.value.code == "invalid_client"
    with pytest.raises(OAuthError):
        await parts.apps.authenticate("app_unknown", "x")
    with pytest.raises(BadRequest):
        await parts.apps.create("x", [URI], ["read:everything"], public=True)
    with pytest.raises(BadRequest):
        await parts.apps.create("x", [], ["read:scores"], public=True)
    types = await parts.audit_types()
    assert "oauth.app_created" in types and types.count("client.authentication_failed") == 2


async def test_a_revoked_app_is_unknown(parts: Parts) -> None:
    new = await parts.app()
    assert await parts.apps.revoke(new.app.client_id)
    with pytest.raises(OAuthError):
        await parts.apps.authenticate(new.app.client_id, None)
    with pytest.raises(AuthorizeError) as caught:
        check_request(await parts.stores.oauth.get_app(new.app.client_id), parts.query(new))
    assert not caught.value.redirectable


# --- the authorization request -----------------------------------------------------------------


async def test_a_bad_client_or_redirect_uri_is_never_redirected(parts: Parts) -> None:
    new = await parts.app()
    for app, query in [
        (None, parts.query(new)),
        (new.app, parts.query(new, redirect_uri="https://evil.example/cb")),
        (new.app, parts.query(new, redirect_uri=URI + "/")),  # exact match only
    ]:
        with pytest.raises(AuthorizeError) as caught:
            check_request(app, query)
        assert not caught.value.redirectable


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "admin"}, "invalid_scope"),
    ],
)
async def test_other_errors_go_back_to_the_app(
    parts: Parts, over: dict[str, str], code: str
) -> None:
    new = await parts.app()
    with pytest.raises(AuthorizeError) as caught:
        check_request(new.app, parts.query(new, **over))
    assert caught.value.redirectable and caught.value.code == code
    back = urlsplit(error_redirect(URI, caught.value, "st-1", "https://lrs.test/marketplace"))
    answer = parse_qs(back.query)
    assert answer["error"] == [code] and answer["state"] == ["st-1"]
    assert answer["iss"] == ["https://lrs.test/marketplace"]


def test_a_redirect_keeps_the_registered_query() -> None:
    assert redirect_with("https://a.example/cb?x=1", {"code": "c", "state": None}) == (
        "https://a.example/cb?x=1&code=c"
    )


async def test_granted_scopes_never_exceed_the_role(parts: Parts) -> None:
    new = await parts.app(scopes="read:scores read:profile write:badge admin")
    request = check_request(new.app, parts.query(new, scope="read:scores read:profile admin"))
    assert granted_scopes(request, "viewer") == ("read:scores",)
    assert granted_scopes(request, "operator") == ("read:scores", "read:profile")
    assert granted_scopes(request, "admin") == ("read:scores", "read:profile", "admin")
    assert granted_scopes(request, "nobody") == ()


# --- code exchange ------------------------------------------------------------------------------


def test_pkce_s256() -> None:
    assert pkce_matches(VERIFIER, CHALLENGE.decode())
    assert not pkce_matches(VERIFIER + "x", CHALLENGE.decode())
    assert not pkce_matches(CHALLENGE.decode(), CHALLENGE.decode())  # "plain" never matches


async def test_code_exchange_gives_tokens_of_the_grant(parts: Parts) -> None:
    new = await parts.app()
    code, _ = await parts.code(new, role="viewer")
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    assert got.access.scopes == ("read:scores",) and got.refresh_token.startswith("rt_")
    claims = await parts.tokens.verify(got.access.access_token)
    assert claims.client_id == new.app.client_id and claims.grant_id == got.grant_id
    grant = await parts.stores.oauth.get_grant(got.grant_id)
    assert grant is not None and grant.operator == "ada" and not grant.revoked
    assert (await parts.stores.oauth.use_code(code, new.app.client_id)).found is None  # hashed
    assert await parts.stores.oauth.get_refresh_token(secret_hash(got.refresh_token))


async def test_a_wrong_verifier_redirect_uri_or_app_is_refused(parts: Parts) -> None:
    new, other = await parts.app(), await parts.app()
    for app, uri, verifier in [
        (new.app, URI, VERIFIER[:-1] + "y"),
        (new.app, "https://app.example/other", VERIFIER),
        (other.app, URI, VERIFIER),
    ]:
        code, _ = await parts.code(new)
        with pytest.raises(OAuthError) as caught:
            await parts.grants.exchange_code(app, code, uri, verifier)
        assert caught.value.code == "invalid_grant"


async def test_another_apps_attempt_does_not_use_up_the_code(parts: Parts) -> None:
    new, other = await parts.app(), await parts.app()
    code, _ = await parts.code(new)
    with pytest.raises(OAuthError):
        await parts.grants.exchange_code(other.app, code, URI, VERIFIER)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    assert (await parts.tokens.verify(got.access.access_token)).grant_id == got.grant_id


async def test_an_expired_code_is_refused(parts: Parts) -> None:
    new = await parts.app()
    code, _ = await parts.code(new)
    parts.now[0] += CODE_TTL_S
    with pytest.raises(OAuthError) as caught:
        await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    assert "expired" in caught.value.message


async def test_a_replayed_code_is_refused_and_revokes_its_grant(parts: Parts) -> None:
    new = await parts.app()
    code, _ = await parts.code(new)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    with pytest.raises(OAuthError) as caught:
        await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    assert caught.value.code == "invalid_grant"
    grant = await parts.stores.oauth.get_grant(got.grant_id)
    assert grant is not None and grant.revoked_reason == "code_replayed"
    with pytest.raises(InvalidToken):
        await parts.tokens.verify(got.access.access_token)
    with pytest.raises(OAuthError):
        await parts.grants.refresh(new.app, got.refresh_token, None)


# --- refresh --------------------------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_grant(parts: Parts) -> None:
    new = await parts.app(public=False)
    code, _ = await parts.code(new)
    first = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    second = await parts.grants.refresh(new.app, first.refresh_token, None)
    third = await parts.grants.refresh(new.app, second.refresh_token, "read:scores")
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert (await parts.tokens.verify(third.access.access_token)).grant_id == first.grant_id
    with pytest.raises(OAuthError) as reused:
        await parts.grants.refresh(new.app, first.refresh_token, None)
    assert reused.value.code == "invalid_grant"
    for access in (second.access, third.access):
        with pytest.raises(InvalidToken):
            await parts.tokens.verify(access.access_token)
    with pytest.raises(OAuthError):  # the newest refresh token dies with the grant
        await parts.grants.refresh(new.app, third.refresh_token, None)
    types = await parts.audit_types()
    assert types.count("oauth.token_refreshed") == 2
    assert {"oauth.grant_issued", "oauth.refresh_reused", "oauth.grant_revoked"} <= set(types)


async def test_two_concurrent_refreshes_with_one_token_end_the_grant(parts: Parts) -> None:
    """One wins the compare-and-set, the other is reuse and ends the grant (RFC 9700 §4.14.2
    makes no exception for a race: the app must not send one refresh token twice). The winner
    may still be issuing when the grant goes, so it may fail too; whatever it got is dead."""
    new = await parts.app()
    code, _ = await parts.code(new)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    outcomes = await asyncio.gather(
        *(parts.grants.refresh(new.app, got.refresh_token, None) for _ in range(2)),
        return_exceptions=True,
    )
    assert any(isinstance(o, OAuthError) for o in outcomes)
    assert all(isinstance(o, (OAuthError, Tokens)) for o in outcomes), outcomes
    grant = await parts.stores.oauth.get_grant(got.grant_id)
    assert grant is not None and grant.revoked_reason == "refresh_reused"
    for won in (o for o in outcomes if isinstance(o, Tokens)):
        with pytest.raises(InvalidToken):
            await parts.tokens.verify(won.access.access_token)
        with pytest.raises(OAuthError):
            await parts.grants.refresh(new.app, won.refresh_token, None)


async def test_refresh_cannot_widen_nor_be_used_by_another_app(parts: Parts) -> None:
    new, other = await parts.app(), await parts.app()
    code, _ = await parts.code(new)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    with pytest.raises(OAuthError) as wider:
        await parts.grants.refresh(new.app, got.refresh_token, "read:badges")
    assert wider.value.code == "invalid_scope"
    with pytest.raises(OAuthError) as stolen:
        await parts.grants.refresh(other.app, got.refresh_token, None)
    assert stolen.value.code == "invalid_grant"


# --- revocation, introspection -------------------------------------------------------------------


async def test_an_operator_revokes_a_grant_and_its_tokens_stop(parts: Parts) -> None:
    new = await parts.app()
    code, _ = await parts.code(new)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    assert await parts.grants.revoke_grant(got.grant_id, actor="operator:ada", reason="operator")
    assert not await parts.grants.revoke_grant(got.grant_id, actor="operator:ada", reason="x")
    with pytest.raises(InvalidToken):
        await parts.tokens.verify(got.access.access_token)
    listed = await parts.grants.list_grants()
    assert [(g.grant_id, g.revoked) for g in listed] == [(got.grant_id, True)]


async def test_introspection_and_rfc7009_revocation(parts: Parts) -> None:
    new, other = await parts.app(), await parts.app()
    code, _ = await parts.code(new)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    me = new.app.client_id
    access = await parts.grants.introspect(got.access.access_token, me, any_owner=False)
    assert access["active"] and access["scope"] == "read:scores" and access["client_id"] == me
    refresh = await parts.grants.introspect(got.refresh_token, me, any_owner=False)
    assert refresh["active"] and refresh["token_type"] == "refresh_token"
    theirs = other.app.client_id
    assert await parts.grants.introspect(got.refresh_token, theirs, any_owner=False) == {
        "active": False
    }
    assert await parts.grants.introspect("garbage", me, any_owner=False) == {"active": False}
    await parts.grants.revoke_token(got.access.access_token, theirs)  # not theirs: ignored
    assert (await parts.grants.introspect(got.access.access_token, me, any_owner=False))["active"]
    await parts.grants.revoke_token(got.access.access_token, me)
    assert not (await parts.grants.introspect(got.access.access_token, me, any_owner=False))[
        "active"
    ]
    await parts.grants.revoke_token(got.refresh_token, me)  # RFC 7009 §2.1: the whole grant
    grant = await parts.stores.oauth.get_grant(got.grant_id)
    assert grant is not None and grant.revoked_reason == "token_revoked"
    assert await parts.grants.introspect(got.refresh_token, me, any_owner=False) == {
        "active": False
    }


# --- housekeeping --------------------------------------------------------------------------------


async def test_housekeeping_keeps_what_reuse_and_replay_detection_need(parts: Parts) -> None:
    new = await parts.app()
    code, _ = await parts.code(new)
    got = await parts.grants.exchange_code(new.app, code, URI, VERIFIER)
    second = await parts.grants.refresh(new.app, got.refresh_token, None)
    assert await parts.grants.forget_expired() == Forgotten(codes=0, refresh_tokens=0)
    parts.now[0] += CODE_TTL_S + CODES_KEPT_S + 1  # the code: expired over an hour ago
    assert await parts.grants.forget_expired() == Forgotten(codes=1, refresh_tokens=0)
    used = await parts.stores.oauth.get_refresh_token(secret_hash(got.refresh_token))
    assert used is not None and used.used  # kept until it expires: reuse is still recognised
    parts.now[0] += REFRESH_TTL_S  # every refresh token has expired by now
    assert await parts.grants.forget_expired() == Forgotten(codes=0, refresh_tokens=2)
    for token in (got.refresh_token, second.refresh_token):
        assert await parts.stores.oauth.get_refresh_token(secret_hash(token)) is None
    with pytest.raises(OAuthError) as caught:
        await parts.grants.refresh(new.app, second.refresh_token, None)
    assert caught.value.code == "invalid_grant"


async def test_a_revoked_grants_refresh_tokens_go_with_it(parts: Parts) -> None:
    new = await parts.app()
    kept = await parts.grants.exchange_code(new.app, (await parts.code(new))[0], URI, VERIFIER)
    got = await parts.grants.exchange_code(new.app, (await parts.code(new))[0], URI, VERIFIER)
    second = await parts.grants.refresh(new.app, got.refresh_token, None)
    assert await parts.grants.revoke_grant(got.grant_id, actor="operator:ada", reason="operator")
    for token in (got.refresh_token, second.refresh_token):
        assert await parts.stores.oauth.get_refresh_token(secret_hash(token)) is None
    assert await parts.stores.oauth.get_refresh_token(secret_hash(kept.refresh_token))
    with pytest.raises(OAuthError):
        await parts.grants.refresh(new.app, second.refresh_token, None)
    assert (await parts.grants.refresh(new.app, kept.refresh_token, None)).grant_id == kept.grant_id


async def test_housekeeping_runs_at_start_then_hourly(parts: Parts) -> None:
    clock = [0]
    job = OAuthHousekeeping(parts.grants, lambda: clock[0])
    assert await job.run_due() == Forgotten(codes=0, refresh_tokens=0)
    clock[0] += HOUR_US - 1
    assert await job.run_due() is None  # not due yet
    clock[0] += 1
    assert await job.run_due() is not None
    assert summary(Forgotten(0, 0)) is None and summary(None) is None
    assert summary(Forgotten(2, 3)) == "oauth: forgot 2 expired codes and 3 refresh tokens"


async def test_revoking_an_app_revokes_its_live_grants_and_drops_their_tokens(
    parts: Parts,
) -> None:
    new, other = await parts.app(), await parts.app()
    done = [
        await parts.grants.exchange_code(new.app, (await parts.code(new))[0], URI, VERIFIER)
        for _ in range(3)
    ]
    kept = await parts.grants.exchange_code(other.app, (await parts.code(other))[0], URI, VERIFIER)
    assert await parts.grants.revoke_grant(done[0].grant_id, actor="cli", reason="operator")
    assert await parts.apps.revoke(new.app.client_id, actor="operator:ada")
    reasons = {
        g.grant_id: g.revoked_reason
        for g in await parts.grants.list_grants(client_id=new.app.client_id)
    }
    assert reasons == {
        done[0].grant_id: "operator",  # revoked before: its reason stays
        done[1].grant_id: "app_revoked",
        done[2].grant_id: "app_revoked",
    }
    for got in done:
        assert await parts.stores.oauth.get_refresh_token(secret_hash(got.refresh_token)) is None
    assert await parts.stores.oauth.get_refresh_token(secret_hash(kept.refresh_token))
    other_grant = await parts.stores.oauth.get_grant(kept.grant_id)
    assert other_grant is not None and not other_grant.revoked
    entries = await parts.audit.entries(limit=20, type="oauth.grant_revoked")
    assert sorted(e.details["reason"] for e in entries) == [
        "app_revoked",
        "app_revoked",
        "operator",
    ]
    assert all(e.actor == "operator:ada" for e in entries if e.details["reason"] == "app_revoked")
