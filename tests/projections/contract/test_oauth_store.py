"""OAuthStore contract (delegated OAuth: apps, codes, grants, refresh tokens), on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from lrs.errors import Conflict
from lrs.store.sqlite import SQLiteBackend
from projections.store import ProjectionStores, open_stores
from projections.store.oauth import (
    AuthCode,
    Forgotten,
    Grant,
    OAuthApp,
    OAuthStore,
    RefreshToken,
)

FUTURE = 4_000_000_000_000_000  # expired codes may be dropped by the store (a TTL index)


def app(n: int, **kw: object) -> OAuthApp:
    fields: dict[str, object] = {
        "client_id": f"app_{n}",
        "name": f"App {n}",
        "redirect_uris": (f"https://app{n}.example/cb", "http://127.0.0.1:8080/cb"),
        "scopes": ("read:scores", "read:badges"),
        "secret_hash": None,
        "created_us": n,
    }
    fields.update(kw)
    return OAuthApp(**fields)  # type: ignore[arg-type]


def code(h: str = "c1", grant: str = "g1") -> AuthCode:
    return AuthCode(
        h, "app_1", "https://app1.example/cb", "chal", ("read:scores",), "ada", grant, FUTURE
    )


def test_the_store_satisfies_the_protocol(stores: ProjectionStores) -> None:
    assert isinstance(stores.oauth, OAuthStore)


async def test_apps_are_kept_listed_and_revoked(stores: ProjectionStores) -> None:
    oauth = stores.oauth
    await oauth.add_app(app(2, secret_hash="scrypt$x"))
    await oauth.add_app(app(1))
    with pytest.raises(Conflict):
        await oauth.add_app(app(1, name="again"))
    assert await oauth.get_app("app_1") == app(1)
    assert (await oauth.get_app("app_2") or app(9)).secret_hash == "scrypt$x"
    assert app(1).public and not app(2, secret_hash="h").public
    assert await oauth.get_app("app_3") is None
    assert [a.client_id for a in await oauth.list_apps()] == ["app_1", "app_2"]
    assert await oauth.revoke_app("app_1")
    assert not await oauth.revoke_app("app_9")
    assert (await oauth.get_app("app_1") or app(9)).revoked


async def test_a_code_is_used_once_and_its_replay_is_recognised(stores: ProjectionStores) -> None:
    oauth = stores.oauth
    await oauth.add_code(code())
    assert not (await oauth.use_code("c1", "app_2")).first  # another client's: not used
    first = await oauth.use_code("c1", "app_1")
    assert first.first and first.found == code()
    again = await oauth.use_code("c1", "app_1")
    assert not again.first and again.found == code()  # a replay: the code, not first
    unknown = await oauth.use_code("nope", "app_1")
    assert unknown.found is None and not unknown.first


async def test_concurrent_uses_of_one_code_have_one_first(stores: ProjectionStores) -> None:
    await stores.oauth.add_code(code())
    uses = await asyncio.gather(*(stores.oauth.use_code("c1", "app_1") for _ in range(6)))
    assert [u.first for u in uses].count(True) == 1


async def test_grants_are_listed_newest_first_and_revoked_once(stores: ProjectionStores) -> None:
    oauth = stores.oauth
    for n in (1, 3, 2):
        await oauth.add_grant(Grant(f"g{n}", "app_1", "ada", ("read:scores",), n))
    assert [g.grant_id for g in await oauth.list_grants()] == ["g3", "g2", "g1"]
    assert [g.grant_id for g in await oauth.list_grants(limit=1)] == ["g3"]
    assert await oauth.revoke_grant("g2", 50, "operator")
    assert not await oauth.revoke_grant("g2", 60, "again")  # the first revocation stays
    assert not await oauth.revoke_grant("g9", 60, "unknown")
    revoked = await oauth.get_grant("g2")
    assert revoked is not None and revoked.revoked
    assert (revoked.revoked_us, revoked.revoked_reason) == (50, "operator")
    live = await oauth.get_grant("g1")
    assert live is not None and not live.revoked
    assert await oauth.get_grant("g9") is None


async def test_grants_are_paged_newest_first_and_filtered_by_app(
    stores: ProjectionStores,
) -> None:
    oauth = stores.oauth
    made = [Grant(f"g{n}", f"app_{n % 2}", "ada", ("read:scores",), n // 2) for n in range(7)]
    for grant in made:  # pairs share a creation time: the id breaks the tie
        await oauth.add_grant(grant)
    newest = sorted(made, key=lambda g: (g.created_us, g.grant_id), reverse=True)
    pages: list[list[Grant]] = []
    before: tuple[int, str] | None = None
    while page := await oauth.list_grants(3, before=before):
        pages.append(page)
        before = (page[-1].created_us, page[-1].grant_id)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [g for p in pages for g in p] == newest
    app0 = await oauth.list_grants(client_id="app_0")
    assert app0 == [g for g in newest if g.client_id == "app_0"] and len(app0) == 4
    cut = (app0[1].created_us, app0[1].grant_id)
    assert await oauth.list_grants(2, client_id="app_0", before=cut) == app0[2:4]
    assert await oauth.list_grants(client_id="app_9") == []


async def test_a_refresh_token_is_used_once(stores: ProjectionStores) -> None:
    oauth = stores.oauth
    token = RefreshToken("r1", "g1", 10, 1000)
    await oauth.add_refresh_token(token)
    assert await oauth.get_refresh_token("r1") == token
    first = await oauth.use_refresh_token("r1")
    assert first.first and first.found == RefreshToken("r1", "g1", 10, 1000, used=True)
    reused = await oauth.use_refresh_token("r1")
    assert not reused.first and reused.found is not None
    assert (await oauth.get_refresh_token("r1") or token).used
    assert (await oauth.use_refresh_token("r9")).found is None


async def test_concurrent_refreshes_with_one_token_have_one_first(
    stores: ProjectionStores,
) -> None:
    await stores.oauth.add_refresh_token(RefreshToken("r1", "g1", 10, 1000))
    uses = await asyncio.gather(*(stores.oauth.use_refresh_token("r1") for _ in range(6)))
    assert [u.first for u in uses].count(True) == 1


async def test_forget_expired_drops_old_codes_and_expired_refresh_tokens(
    stores: ProjectionStores,
) -> None:
    oauth, hour = stores.oauth, 3600 * 10**6
    await oauth.add_code(replace(code("old"), expires_us=FUTURE - 90 * 60 * 10**6))
    await oauth.add_code(replace(code("recent"), expires_us=FUTURE - 10))
    await oauth.add_code(code("live"))
    for name, expires_us in (
        ("expired", FUTURE - 5),
        ("expired-used", FUTURE - 5),
        ("at-cutoff", FUTURE),
        ("used", FUTURE + hour),
        ("live", FUTURE + hour),
    ):
        await oauth.add_refresh_token(RefreshToken(name, "g1", 1, expires_us))
    for name in ("expired-used", "used"):
        assert (await oauth.use_refresh_token(name)).first
    forgotten = await oauth.forget_expired(codes_before_us=FUTURE - hour, tokens_before_us=FUTURE)
    assert forgotten == Forgotten(codes=1, refresh_tokens=3)
    assert (await oauth.use_code("old", "app_1")).found is None
    assert (await oauth.use_code("recent", "app_1")).first  # expired, kept: replay detection
    for gone in ("expired", "expired-used", "at-cutoff"):
        assert await oauth.get_refresh_token(gone) is None
    kept = await oauth.get_refresh_token("used")  # until it expires: its reuse is recognised
    assert kept is not None and kept.used
    assert not (await oauth.use_refresh_token("used")).first
    assert (await oauth.use_refresh_token("live")).first
    again = await oauth.forget_expired(codes_before_us=FUTURE - hour, tokens_before_us=FUTURE)
    assert again == Forgotten(codes=0, refresh_tokens=0)


async def test_a_grants_refresh_tokens_are_dropped_together(stores: ProjectionStores) -> None:
    oauth = stores.oauth
    for name, grant in (("a1", "g1"), ("a2", "g1"), ("b1", "g2")):
        await oauth.add_refresh_token(RefreshToken(name, grant, 1, FUTURE))
    await oauth.use_refresh_token("a1")
    assert await oauth.drop_refresh_tokens("g1") == 2
    assert await oauth.get_refresh_token("a1") is None
    assert await oauth.get_refresh_token("a2") is None
    assert await oauth.get_refresh_token("b1") is not None
    assert await oauth.drop_refresh_tokens("g1") == 0
    assert await oauth.drop_refresh_tokens("g9") == 0


async def test_sqlite_forgets_codes_long_expired(tmp_path: Path) -> None:
    """What MongoDB's TTL index does for codes, SQLite does when a code is added."""
    backend = SQLiteBackend(tmp_path)
    try:
        oauth = (await open_stores(backend)).oauth
        await oauth.add_code(replace(code("old"), expires_us=FUTURE - 3 * 3600 * 10**6))
        await oauth.add_code(replace(code("recent"), expires_us=FUTURE - 600 * 10**6))
        await oauth.add_code(code("new"))
        assert (await oauth.use_code("old", "app_1")).found is None
        assert (await oauth.use_code("recent", "app_1")).first
    finally:
        await backend.close()
