"""MongoDB IdentityStore: `identity_members` (`_id` member id, emails) and `identity_emails`
(`_id` email, member_id; index on member_id), without transactions.

A load is a sequence of single-document writes, each idempotent; a load cut short is
repaired by loading the same file again. The identity version counter (in
`projection_meta`) moves after the writes, so workers re-resolve unmatched facts after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.base import Member


@translates_errors
class MongoIdentityStore:
    """The identity map: one document per member, one per email (the lookup index)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._members = db["identity_members"]
        self._emails = db["identity_emails"]
        self._meta = db["projection_meta"]

    async def create_indexes(self) -> None:
        """Emails by member."""
        await self._emails.create_indexes([IndexModel([("member_id", ASCENDING)], name="member")])

    async def put_members(self, members: Sequence[Member]) -> set[str]:
        """Upsert members; the emails whose member changed. Repeating a load repairs a crash."""
        changed: set[str] = set()
        for member in members:
            current = await self._emails.find({"member_id": member.member_id}).to_list(None)
            for doc in current:
                if doc["_id"] not in member.emails:
                    await self._emails.delete_one(
                        {"_id": doc["_id"], "member_id": member.member_id}
                    )
                    changed.add(doc["_id"])
            for email in member.emails:
                found = await self._emails.find_one({"_id": email})
                if found is not None and found["member_id"] == member.member_id:
                    continue
                if found is not None:
                    await self._members.update_one(
                        {"_id": found["member_id"]}, {"$pull": {"emails": email}}
                    )
                await self._emails.replace_one(
                    {"_id": email}, {"member_id": member.member_id}, upsert=True
                )
                changed.add(email)
            await self._members.replace_one(
                {"_id": member.member_id}, {"emails": list(member.emails)}, upsert=True
            )
        if changed:
            await self._meta.update_one(
                {"_id": "identity_version"}, {"$inc": {"value": 1}}, upsert=True
            )
        return changed

    async def member_for_emails(self, emails: Sequence[str]) -> dict[str, str]:
        """Member per known email."""
        if not emails:
            return {}
        cursor = self._emails.find({"_id": {"$in": list(dict.fromkeys(emails))}})
        return {d["_id"]: d["member_id"] async for d in cursor}

    async def get_member(self, member_id: str) -> Member | None:
        """One member."""
        doc = await self._members.find_one({"_id": member_id})
        return Member(member_id, tuple(doc["emails"])) if doc else None

    async def get_members(self, member_ids: Sequence[str]) -> dict[str, Member]:
        """Known members among the ids."""
        if not member_ids:
            return {}
        cursor = self._members.find({"_id": {"$in": list(dict.fromkeys(member_ids))}})
        return {d["_id"]: Member(d["_id"], tuple(d["emails"])) async for d in cursor}

    async def identity_version(self) -> int:
        """Grows with every change."""
        doc = await self._meta.find_one({"_id": "identity_version"})
        return doc["value"] if doc else 0
