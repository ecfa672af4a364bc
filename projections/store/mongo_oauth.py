"""MongoDB OAuthStore: collections `oauth_apps` (`_id` client id), `oauth_codes` (`_id` the
code's hash; a TTL index drops them an hour after they expired, and `forget_expired` does
too, whatever the TTL monitor's pace), `oauth_grants` (`_id` grant
id), `oauth_refresh_tokens` (`_id` the token's hash). Every write is one single-document
operation; a code or refresh token is used by `find_one_and_update` on `used: false`, so of two
concurrent uses exactly one matches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lrs.errors import Conflict
from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.oauth import AuthCode, Forgotten, Grant, OAuthApp, RefreshToken, Use


def _app(doc: dict[str, Any]) -> OAuthApp:
    return OAuthApp(
        client_id=doc["_id"],
        name=doc["name"],
        redirect_uris=tuple(doc["redirect_uris"]),
        scopes=tuple(doc["scopes"]),
        secret_hash=doc.get("secret_hash"),
        created_us=doc["created_us"],
        revoked=bool(doc.get("revoked")),
    )


def _code(doc: dict[str, Any]) -> AuthCode:
    return AuthCode(
        code_hash=doc["_id"],
        client_id=doc["client_id"],
        redirect_uri=doc["redirect_uri"],
        code_challenge=doc["code_challenge"],
        scopes=tuple(doc["scopes"]),
        operator=doc["operator"],
        grant_id=doc["grant_id"],
        expires_us=doc["expires_us"],
    )


def _grant(doc: dict[str, Any]) -> Grant:
    return Grant(
        grant_id=doc["_id"],
        client_id=doc["client_id"],
        operator=doc["operator"],
        scopes=tuple(doc["scopes"]),
        created_us=doc["created_us"],
        revoked_us=doc.get("revoked_us"),
        revoked_reason=doc.get("revoked_reason"),
    )


def _refresh(doc: dict[str, Any]) -> RefreshToken:
    return RefreshToken(
        token_hash=doc["_id"],
        grant_id=doc["grant_id"],
        created_us=doc["created_us"],
        expires_us=doc["expires_us"],
        used=bool(doc.get("used")),
    )


async def _use(
    collection: Any,
    key: str,
    parse: Callable[[dict[str, Any]], Any],
    also: dict[str, Any] | None = None,
) -> Use:
    """Mark the document used unless it was (one `find_one_and_update`), else read it."""
    doc = await collection.find_one_and_update(
        {"_id": key, "used": False, **(also or {})},
        {"$set": {"used": True}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is not None:
        return Use(parse(doc), True)
    doc = await collection.find_one({"_id": key})
    return Use(parse(doc) if doc else None, False)


@translates_errors
class MongoOAuthStore:
    """Delegated OAuth's apps, codes, grants and refresh tokens in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._apps = db["oauth_apps"]
        self._codes = db["oauth_codes"]
        self._grants = db["oauth_grants"]
        self._refresh = db["oauth_refresh_tokens"]

    async def create_indexes(self) -> None:
        """Listing orders; expired codes dropped by a TTL index."""
        await self._apps.create_indexes(
            [IndexModel([("created_us", ASCENDING), ("_id", ASCENDING)], name="created")]
        )
        newest = [("created_us", DESCENDING), ("_id", DESCENDING)]
        await self._grants.create_indexes(
            [
                IndexModel(newest, name="created"),
                IndexModel([("client_id", ASCENDING), *newest], name="app_created"),
            ]
        )
        await self._codes.create_indexes(
            [
                IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=3600),
                IndexModel([("expires_us", ASCENDING)], name="expires_us"),
            ]
        )
        await self._refresh.create_indexes(
            [
                IndexModel([("grant_id", ASCENDING)], name="grant"),
                IndexModel([("expires_us", ASCENDING)], name="expiry"),
            ]
        )

    async def add_app(self, app: OAuthApp) -> None:
        """Insert the app."""
        doc = {
            "_id": app.client_id,
            "name": app.name,
            "redirect_uris": list(app.redirect_uris),
            "scopes": list(app.scopes),
            "secret_hash": app.secret_hash,
            "created_us": app.created_us,
            "revoked": app.revoked,
        }
        try:
            await self._apps.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(f"app {app.client_id} exists") from None

    async def get_app(self, client_id: str) -> OAuthApp | None:
        """One app."""
        doc = await self._apps.find_one({"_id": client_id})
        return _app(doc) if doc else None

    async def list_apps(self) -> list[OAuthApp]:
        """Oldest first."""
        cursor = self._apps.find({}).sort([("created_us", ASCENDING), ("_id", ASCENDING)])
        return [_app(d) for d in await cursor.to_list(None)]

    async def revoke_app(self, client_id: str) -> bool:
        """Mark revoked."""
        result = await self._apps.update_one({"_id": client_id}, {"$set": {"revoked": True}})
        return result.matched_count > 0

    async def add_code(self, code: AuthCode) -> None:
        """Insert the code, unused."""
        await self._codes.insert_one(
            {
                "_id": code.code_hash,
                "client_id": code.client_id,
                "redirect_uri": code.redirect_uri,
                "code_challenge": code.code_challenge,
                "scopes": list(code.scopes),
                "operator": code.operator,
                "grant_id": code.grant_id,
                "expires_us": code.expires_us,
                "expires_at": datetime.fromtimestamp(code.expires_us / 1_000_000, tz=UTC),
                "used": False,
            }
        )

    async def use_code(self, code_hash: str, client_id: str) -> Use:
        """Compare-and-set `used` (for the code's own client); a miss reads the code."""
        return await _use(self._codes, code_hash, _code, {"client_id": client_id})

    async def add_grant(self, grant: Grant) -> None:
        """Insert the grant."""
        await self._grants.insert_one(
            {
                "_id": grant.grant_id,
                "client_id": grant.client_id,
                "operator": grant.operator,
                "scopes": list(grant.scopes),
                "created_us": grant.created_us,
                "revoked_us": grant.revoked_us,
                "revoked_reason": grant.revoked_reason,
            }
        )

    async def get_grant(self, grant_id: str) -> Grant | None:
        """One grant."""
        doc = await self._grants.find_one({"_id": grant_id})
        return _grant(doc) if doc else None

    async def list_grants(
        self,
        limit: int = 1000,
        *,
        client_id: str | None = None,
        before: tuple[int, str] | None = None,
    ) -> list[Grant]:
        """Newest first, by the creation index (or the app's)."""
        query: dict[str, Any] = {}
        if client_id is not None:
            query["client_id"] = client_id
        if before is not None:
            created, grant_id = before
            query["$or"] = [
                {"created_us": {"$lt": created}},
                {"created_us": created, "_id": {"$lt": grant_id}},
            ]
        cursor = (
            self._grants.find(query)
            .sort([("created_us", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_grant(d) for d in await cursor.to_list(None)]

    async def revoke_grant(self, grant_id: str, at_us: int, reason: str) -> bool:
        """Revoke once: only a live grant changes."""
        result = await self._grants.update_one(
            {"_id": grant_id, "revoked_us": None},
            {"$set": {"revoked_us": at_us, "revoked_reason": reason}},
        )
        return result.modified_count > 0

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Insert the token, unused."""
        await self._refresh.insert_one(
            {
                "_id": token.token_hash,
                "grant_id": token.grant_id,
                "created_us": token.created_us,
                "expires_us": token.expires_us,
                "used": False,
            }
        )

    async def use_refresh_token(self, token_hash: str) -> Use:
        """Compare-and-set `used`; a miss reads the token to tell reuse from an unknown one."""
        return await _use(self._refresh, token_hash, _refresh)

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """One refresh token."""
        doc = await self._refresh.find_one({"_id": token_hash})
        return _refresh(doc) if doc else None

    async def forget_expired(self, codes_before_us: int, tokens_before_us: int) -> Forgotten:
        """Two `delete_many`, each served by its expiry index."""
        codes = await self._codes.delete_many({"expires_us": {"$lt": codes_before_us}})
        tokens = await self._refresh.delete_many({"expires_us": {"$lte": tokens_before_us}})
        return Forgotten(codes=codes.deleted_count, refresh_tokens=tokens.deleted_count)

    async def drop_refresh_tokens(self, grant_id: str) -> int:
        """One `delete_many` by the grant index."""
        result = await self._refresh.delete_many({"grant_id": grant_id})
        return int(result.deleted_count)
