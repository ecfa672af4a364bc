"""MongoDB AccessStore: marketplace OAuth clients, signing key ids, revoked tokens and
idempotency keys (the audit log is `mongo_audit`). Each write is one single-document operation.

Collections: marketplace_clients (`_id` client id), marketplace_signing_keys (`_id` kid),
marketplace_revoked_tokens (`_id` jti; a TTL index on `expires_at` drops them once the token
would have expired anyway), marketplace_idempotency
(`_id` key; first insert wins).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lrs.errors import Conflict
from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.base import ApiClient, PreviousSecret, SavedResponse, SigningKey


def _client(doc: dict[str, Any]) -> ApiClient:
    return ApiClient(
        client_id=doc["_id"],
        name=doc["name"],
        scopes=tuple(doc["scopes"]),
        secret_hash=doc["secret_hash"],
        created_at=doc["created_at"],
        rate_limit_per_min=doc.get("rate_limit_per_min"),
        revoked=bool(doc.get("revoked")),
        previous_secrets=tuple(
            PreviousSecret(p["secret_hash"], p["until_us"]) for p in doc.get("previous_secrets", [])
        ),
    )


@translates_errors
class MongoAccessStore:
    """Clients, keys, revocations and idempotency in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._clients = db["marketplace_clients"]
        self._keys = db["marketplace_signing_keys"]
        self._revoked = db["marketplace_revoked_tokens"]
        self._idempotency = db["marketplace_idempotency"]

    async def create_indexes(self) -> None:
        """Listing orders, revocation expiry."""
        await self._clients.create_indexes(
            [IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="created")]
        )
        await self._keys.create_indexes(
            [IndexModel([("created_us", ASCENDING), ("_id", ASCENDING)], name="created")]
        )
        await self._revoked.create_indexes(
            [IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=3600)]
        )

    async def add_client(self, client: ApiClient) -> None:
        """Store a new client."""
        doc = {
            "_id": client.client_id,
            "name": client.name,
            "scopes": list(client.scopes),
            "secret_hash": client.secret_hash,
            "created_at": client.created_at,
            "rate_limit_per_min": client.rate_limit_per_min,
            "revoked": client.revoked,
        }
        try:
            await self._clients.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(f"client {client.client_id} exists") from None

    async def get_client(self, client_id: str) -> ApiClient | None:
        """One client."""
        doc = await self._clients.find_one({"_id": client_id})
        return _client(doc) if doc else None

    async def list_clients(self) -> list[ApiClient]:
        """Every client, oldest first."""
        cursor = self._clients.find({}).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [_client(d) for d in await cursor.to_list(None)]

    async def revoke_client(self, client_id: str) -> bool:
        """Mark revoked."""
        result = await self._clients.update_one({"_id": client_id}, {"$set": {"revoked": True}})
        return result.matched_count > 0

    async def replace_client_secret(
        self, client_id: str, secret_hash: str, *, previous_until_us: int, now_us: int
    ) -> bool:
        """New hash; the current one kept until `previous_until_us`.

        One single-document update, conditional on the hash read (compare and set): a
        concurrent rotation makes it read and try again, so neither is lost.
        """
        while True:
            doc = await self._clients.find_one({"_id": client_id, "revoked": False})
            if doc is None:
                return False
            kept = [p for p in doc.get("previous_secrets", []) if p["until_us"] > now_us]
            if previous_until_us > now_us:
                kept.append({"secret_hash": doc["secret_hash"], "until_us": previous_until_us})
            result = await self._clients.update_one(
                {"_id": client_id, "secret_hash": doc["secret_hash"], "revoked": False},
                {"$set": {"secret_hash": secret_hash, "previous_secrets": kept}},
            )
            if result.matched_count:
                return True

    async def add_signing_key(self, key: SigningKey) -> None:
        """Record a key id."""
        await self._keys.insert_one(
            {"_id": key.kid, "created_us": key.created_us, "retired": key.retired}
        )

    async def signing_keys(self) -> list[SigningKey]:
        """Every key id, oldest first."""
        cursor = self._keys.find({}).sort([("created_us", ASCENDING), ("_id", ASCENDING)])
        return [
            SigningKey(d["_id"], d["created_us"], bool(d["retired"]))
            for d in await cursor.to_list(None)
        ]

    async def retire_signing_key(self, kid: str) -> bool:
        """Retire a key id."""
        result = await self._keys.update_one({"_id": kid}, {"$set": {"retired": True}})
        return result.matched_count > 0

    async def revoke_token(self, jti: str, expires_us: int) -> None:
        """Remember a revoked token id until it would expire."""
        expires_at = datetime.fromtimestamp(expires_us / 1_000_000, tz=UTC)
        await self._revoked.replace_one(
            {"_id": jti}, {"expires_us": expires_us, "expires_at": expires_at}, upsert=True
        )

    async def is_token_revoked(self, jti: str) -> bool:
        """Whether it was revoked."""
        return await self._revoked.find_one({"_id": jti}, {"_id": 1}) is not None

    async def any_revoked(self, ids: Sequence[str]) -> bool:
        """Whether any was revoked; one query."""
        found = await self._revoked.find_one({"_id": {"$in": list(ids)}}, {"_id": 1})
        return found is not None

    async def save_response(self, response: SavedResponse) -> SavedResponse:
        """First insert wins."""
        doc = {
            "_id": response.key,
            "request_hash": response.request_hash,
            "status": response.status,
            "body": Binary(response.body),
        }
        with contextlib.suppress(DuplicateKeyError):
            await self._idempotency.insert_one(doc)
        return await self.saved_response(response.key) or response

    async def saved_response(self, key: str) -> SavedResponse | None:
        """The kept response."""
        doc = await self._idempotency.find_one({"_id": key})
        if doc is None:
            return None
        return SavedResponse(doc["_id"], doc["request_hash"], doc["status"], bytes(doc["body"]))
