"""MongoDB IdentityStore, without transactions: `identity_members` (`_id` member id, the
member's fields), `identity_claims` (`key`, `member_id`, validity; unique on (key, member_id),
indexed by member) and `identity_resolutions` (`_id` key, member_id, resolved_at).

Every write is a sequence of single-document upserts (no bulk write: one path that
mongomock also runs), each idempotent: a write cut short is
repaired by doing it again (an import run again). The identity version (in `projection_meta`)
moves after the writes, so workers re-resolve unmatched facts after it. Emails of the earlier
identity map (`identity_emails`) become claims when the store is opened on a database that has
none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.base import Claim, Conflict, Member
from projections.store.identity_docs import (
    conflicts_of,
    doc_member,
    group_claims,
    member_doc,
    sole_claimants,
)


@translates_errors
class MongoIdentityStore:
    """The identity map: one document per member, per claim, per resolution."""

    def __init__(self, db: MongoDatabase) -> None:
        self._members = db["identity_members"]
        self._claims = db["identity_claims"]
        self._resolutions = db["identity_resolutions"]
        self._old_emails = db["identity_emails"]
        self._meta = db["projection_meta"]

    async def create_indexes(self) -> None:
        """Claims by (key, member) and by member; the earlier email index copied in once."""
        await self._claims.create_indexes(
            [
                IndexModel([("key", ASCENDING), ("member_id", ASCENDING)], name="key", unique=True),
                IndexModel([("member_id", ASCENDING)], name="member"),
            ]
        )
        if await self._claims.find_one({}) is None:
            old = [
                Claim("email:" + d["_id"], d["member_id"]) async for d in self._old_emails.find()
            ]
            if old:
                await self.put_claims(old)

    async def put_members(self, members: Sequence[Member]) -> None:
        """Insert or replace members."""
        for m in members:
            await self._members.replace_one({"_id": m.member_id}, member_doc(m), upsert=True)
        if members:
            await self._bump()

    async def delete_members(self, member_ids: Sequence[str]) -> None:
        """Remove members and every claim of theirs (claims first: a member never outlives
        a claim pointing at it only for as long as a retry takes)."""
        if member_ids:
            await self._claims.delete_many({"member_id": {"$in": list(member_ids)}})
            await self._members.delete_many({"_id": {"$in": list(member_ids)}})
            await self._bump()

    async def put_claims(self, claims: Sequence[Claim]) -> None:
        """Insert or replace claims."""
        for c in claims:
            await self._claims.update_one(
                {"key": c.key, "member_id": c.member_id},
                {"$set": {"valid_from": c.valid_from, "valid_to": c.valid_to}},
                upsert=True,
            )
        if claims:
            await self._bump()

    async def delete_claims(self, claims: Sequence[tuple[str, str]]) -> None:
        """Forget claims by (key, member_id)."""
        for key, member_id in claims:
            await self._claims.delete_one({"key": key, "member_id": member_id})
        if claims:
            await self._bump()

    async def claims_for(self, keys: Sequence[str]) -> dict[str, list[Claim]]:
        """Claims on each key."""
        return group_claims(await self._find_claims("key", keys), "key")

    async def member_claims(self, member_ids: Sequence[str]) -> dict[str, list[Claim]]:
        """Claims of each member."""
        return group_claims(await self._find_claims("member_id", member_ids), "member_id")

    async def member_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The sole claimant of each key."""
        return sole_claimants(await self._find_claims("key", keys))

    async def conflicts(self, limit: int = 1000) -> list[Conflict]:
        """Keys with several claimants."""
        pipeline: list[dict[str, Any]] = [
            {"$group": {"_id": "$key", "n": {"$sum": 1}}},
            {"$match": {"n": {"$gt": 1}}},
            {"$sort": {"_id": 1}},
            {"$limit": limit},
        ]
        keys = [d["_id"] async for d in self._claims.aggregate(pipeline)]
        return conflicts_of(await self._find_claims("key", keys))

    async def resolve(self, key: str, member_id: str, at: str) -> list[str]:
        """Drop the other claims on `key`; remember who it was given to."""
        others = {"key": key, "member_id": {"$ne": member_id}}
        dropped = sorted([d["member_id"] async for d in self._claims.find(others)])
        await self._resolutions.replace_one(
            {"_id": key}, {"member_id": member_id, "resolved_at": at}, upsert=True
        )
        await self._claims.delete_many(others)
        await self._bump()
        return dropped

    async def resolutions(self, keys: Sequence[str]) -> dict[str, str]:
        """Resolved keys → member."""
        if not keys:
            return {}
        cursor = self._resolutions.find({"_id": {"$in": list(dict.fromkeys(keys))}})
        return {d["_id"]: d["member_id"] async for d in cursor}

    async def get_member(self, member_id: str) -> Member | None:
        """One member."""
        doc = await self._members.find_one({"_id": member_id})
        return doc_member(member_id, doc) if doc else None

    async def get_members(self, member_ids: Sequence[str]) -> dict[str, Member]:
        """Known members among the ids."""
        if not member_ids:
            return {}
        cursor = self._members.find({"_id": {"$in": list(dict.fromkeys(member_ids))}})
        return {d["_id"]: doc_member(d["_id"], d) async for d in cursor}

    async def member_statuses(self) -> dict[str, str]:
        """Every member's employment status."""
        cursor = self._members.find({}, {"employment_status": 1})
        return {d["_id"]: d.get("employment_status") or "active" async for d in cursor}

    async def identity_version(self) -> int:
        """Grows with every change."""
        doc = await self._meta.find_one({"_id": "identity_version"})
        return doc["value"] if doc else 0

    async def _find_claims(self, field: str, values: Sequence[str]) -> list[Claim]:
        if not values:
            return []
        cursor = self._claims.find({field: {"$in": list(dict.fromkeys(values))}})
        return [
            Claim(d["key"], d["member_id"], d.get("valid_from"), d.get("valid_to"))
            async for d in cursor
        ]

    async def _bump(self) -> None:
        await self._meta.update_one(
            {"_id": "identity_version"}, {"$inc": {"value": 1}}, upsert=True
        )
