"""The token service: clients, issuance, verification, rotation, revocation, audit."""

from __future__ import annotations

import time

import jwt
import pytest

from lrs.errors import BadRequest, ConfigError, InsufficientScope, InvalidToken
from projections.audit import AuditLog
from projections.errors import OAuthError, RateLimited
from projections.keyring import Keyring, load_keyring
from projections.ratelimit import RateLimiter
from projections.store import ProjectionStores
from projections.tokens import AUDIENCE, TokenService

KEYRING = Keyring(b"k" * 32)


@pytest.fixture
def clock() -> list[float]:
    return [float(int(time.time()))]  # near real time: MongoDB expires revocations by it


@pytest.fixture
def tokens(stores: ProjectionStores, clock: list[float]) -> TokenService:
    return TokenService(
        stores.access,
        KEYRING,
        audit=AuditLog(stores.audit),
        issuer="https://lrs.test/marketplace",
        ttl_s=60,
        clock=lambda: clock[0],
    )


async def test_issue_and_verify(tokens: TokenService, stores: ProjectionStores) -> None:
    new = await tokens.create_client("market", ["read:activity:aggregate", "read:profile"])
    stored = await stores.access.get_client(new.client.client_id)
    assert stored is not None and new.secret not in stored.secret_hash  # hashed at rest
    client = await tokens.authenticate_client(new.client.client_id, new.secret)
    issued = await tokens.issue(client, None)
    assert issued.expires_in == 60 and issued.scopes == ("read:activity:aggregate", "read:profile")
    header = jwt.get_unverified_header(issued.access_token)
    assert header["alg"] == "HS256" and header["kid"].startswith("k_")
    claims = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert claims["aud"] == AUDIENCE and claims["sub"] == client.client_id
    assert claims["exp"] - claims["iat"] == 60
    verified = await tokens.verify(issued.access_token)
    assert verified.client_id == client.client_id and verified.jti == claims["jti"]
    verified.require("read:profile")
    with pytest.raises(InsufficientScope):
        verified.require("write:badge")


async def test_scopes_are_a_subset_of_the_clients(tokens: TokenService) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    with pytest.raises(OAuthError) as caught:
        await tokens.issue(new.client, ["admin"])
    assert caught.value.code == "invalid_scope"
    narrowed = await tokens.issue(new.client, ["read:profile"])
    assert narrowed.scopes == ("read:profile",)
    with pytest.raises(BadRequest):
        await tokens.create_client("m", ["read:everything"])


async def test_admin_holds_every_scope(tokens: TokenService) -> None:
    new = await tokens.create_client("ops", ["admin"])
    claims = await tokens.verify((await tokens.issue(new.client, None)).access_token)
    claims.require("write:badge")


async def test_wrong_secret_unknown_or_revoked_client_is_invalid_client(
    tokens: TokenService,
) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    for client_id, secret in [(new.client.client_id, "wrong"), ("mkt_nobody", new.secret)]:
        with pytest.raises(OAuthError) as caught:
            await tokens.authenticate_client(client_id, secret)
        assert caught.value.code == "invalid_client" and caught.value.status == 401
    await tokens.revoke_client(new.client.client_id)
    with pytest.raises(OAuthError):
        await tokens.authenticate_client(new.client.client_id, new.secret)


async def test_expired_tampered_and_foreign_tokens_are_refused(
    tokens: TokenService, clock: list[float]
) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    token = (await tokens.issue(new.client, None)).access_token
    head, body, signature = token.split(".")
    with pytest.raises(InvalidToken):
        await tokens.verify(f"{head}.{body}.{signature[::-1]}")
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        "some other key-of-at-least-32-bytes!!",
        algorithm="HS256",
        headers={"kid": jwt.get_unverified_header(token)["kid"]},
    )
    with pytest.raises(InvalidToken):
        await tokens.verify(forged)
    with pytest.raises(InvalidToken):
        await tokens.verify("not.a.jwt")
    none_alg = jwt.encode({"sub": "x"}, None, algorithm="none", headers={"kid": "k_x"})
    with pytest.raises(InvalidToken):
        await tokens.verify(none_alg)
    other_lrs = TokenService(
        tokens._store,
        Keyring(b"o" * 32),
        audit=tokens._audit_log,
        issuer="https://lrs.test/marketplace",
    )
    with pytest.raises(InvalidToken):
        await other_lrs.verify(token)  # same key id, different master key
    clock[0] += 61
    with pytest.raises(InvalidToken, match="expired"):
        await tokens.verify(token)


async def test_rotation_keeps_old_tokens_until_the_key_is_retired(tokens: TokenService) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    old = (await tokens.issue(new.client, None)).access_token
    old_kid = jwt.get_unverified_header(old)["kid"]
    rotated = await tokens.rotate_key()
    fresh = (await tokens.issue(new.client, None)).access_token
    assert jwt.get_unverified_header(fresh)["kid"] == rotated.kid != old_kid
    await tokens.verify(old)
    await tokens.verify(fresh)
    assert await tokens.retire_key(old_kid)
    with pytest.raises(InvalidToken, match="retired"):
        await tokens.verify(old)
    await tokens.verify(fresh)


async def test_revocation(tokens: TokenService) -> None:
    owner = await tokens.create_client("m", ["read:profile"])
    other = await tokens.create_client("n", ["read:profile"])
    token = (await tokens.issue(owner.client, None)).access_token
    await tokens.revoke(token, other.client)  # not theirs: ignored
    await tokens.verify(token)
    await tokens.revoke("garbage", owner.client)  # ignored, no error
    await tokens.revoke(token, owner.client)
    with pytest.raises(InvalidToken, match="revoked"):
        await tokens.verify(token)
    second = (await tokens.issue(owner.client, None)).access_token
    await tokens.revoke_client(owner.client.client_id)
    with pytest.raises(InvalidToken):
        await tokens.verify(second)


async def test_the_audit_log_records_who_did_what_never_secrets(
    tokens: TokenService, stores: ProjectionStores
) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    token = (await tokens.issue(new.client, None)).access_token
    await tokens.revoke(token, new.client)
    await tokens.rotate_key()
    entries = await AuditLog(stores.audit).entries()
    actions = [e.type for e in entries]
    assert actions[:3] == ["key.rotated", "token.revoked", "token.issued"]
    assert "client.created" in actions
    text = repr(entries)
    assert new.secret not in text and token not in text and new.client.secret_hash not in text


def test_the_rate_limiter() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for _ in range(3):
        limiter.check("c", 3)
    with pytest.raises(RateLimited) as caught:
        limiter.check("c", 3)
    assert caught.value.retry_after == 20  # one request per 20 s at 3/min
    limiter.check("other", 3)
    now[0] += 20
    limiter.check("c", 3)
    limiter.check("c", 0)  # 0 = unlimited


def test_the_keyring(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = load_keyring(None, tmp_path)
    again = load_keyring(None, tmp_path)
    assert first.token_key("k1") == again.token_key("k1") != first.token_key("k2")
    assert (tmp_path / "marketplace-master.key").stat().st_mode & 0o777 == 0o600
    assert first.webhook_secret("s", "a") != first.webhook_secret("s", "b")
    assert "hidden" in repr(first)
    with pytest.raises(ConfigError):
        load_keyring("short", tmp_path)


async def test_a_rotated_secret_works_until_its_grace_ends_then_stops(
    tokens: TokenService, stores: ProjectionStores, clock: list[float]
) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    client_id = new.client.client_id
    rotated = await tokens.rotate_secret(client_id, grace_s=3600)
    assert rotated is not None and rotated.secret != new.secret
    assert rotated.previous_until_us == int((clock[0] + 3600) * 1_000_000)
    stored = await stores.access.get_client(client_id)
    assert stored is not None and rotated.secret not in repr(stored)  # hashed at rest
    assert (await tokens.authenticate_client(client_id, rotated.secret)).client_id == client_id
    clock[0] += 3599
    assert (await tokens.authenticate_client(client_id, new.secret)).client_id == client_id
    clock[0] += 1  # the grace has ended
    with pytest.raises(OAuthError):
        await tokens.authenticate_client(client_id, new.secret)
    await tokens.authenticate_client(client_id, rotated.secret)
    entries = await AuditLog(stores.audit).entries()
    [rotation] = [e for e in entries if e.type == "client.secret_rotated"]
    assert rotation.subject == client_id and rotation.actor == "cli"
    assert rotation.details["previous_secret_valid_until"].endswith("Z")
    [refused] = [e for e in entries if e.type == "client.authentication_failed"]
    assert refused.details["reason"].startswith("previous secret, its grace ended")
    for secret in (new.secret, rotated.secret):
        assert secret not in repr(entries)


async def test_a_rotation_without_grace_stops_the_old_secret_at_once(tokens: TokenService) -> None:
    new = await tokens.create_client("m", ["read:profile"])
    rotated = await tokens.rotate_secret(new.client.client_id, grace_s=0)
    assert rotated is not None
    with pytest.raises(OAuthError):
        await tokens.authenticate_client(new.client.client_id, new.secret)
    assert await tokens.rotate_secret("mkt_nobody", grace_s=0) is None
    await tokens.revoke_client(new.client.client_id)
    assert await tokens.rotate_secret(new.client.client_id, grace_s=60) is None
