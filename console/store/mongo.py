"""MongoDB console stores: `console_operators` and `console_links` keyed by name / token hash
(`_id`), `console_sessions` keyed by id hash with an index on the operator.

A link is consumed by `find_one_and_delete`: one request of two presenting it gets it. No
TTL index: the expiry is checked on use (a TTL monitor deletes late, so it could not be relied
on for the check anyway) and expired sessions are dropped by `drop_expired`.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from console.store.base import Operator, Session
from lrs.store.engine.mongo import MongoDatabase, translates_errors


def _operator(doc: dict[str, Any]) -> Operator:
    return Operator(
        name=doc["_id"],
        role=doc["role"],
        created_us=doc["created_us"],
        password_hash=doc.get("password_hash"),
        disabled=bool(doc.get("disabled", False)),
    )


def _session(doc: dict[str, Any]) -> Session:
    return Session(
        id_hash=doc["_id"],
        operator=doc["operator"],
        created_us=doc["created_us"],
        seen_us=doc["seen_us"],
        expires_us=doc["expires_us"],
    )


@translates_errors
class MongoOperatorStore:
    """Operator accounts and set-password links in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._operators = db["console_operators"]
        self._links = db["console_links"]

    async def create_indexes(self) -> None:
        """Links by operator (replaced when a new one is made)."""
        await self._links.create_indexes([IndexModel([("name", ASCENDING)], name="name")])

    async def add_operator(self, operator: Operator) -> bool:
        """Insert unless the name (`_id`) is taken."""
        doc = {
            "_id": operator.name,
            "role": operator.role,
            "created_us": operator.created_us,
            "password_hash": operator.password_hash,
            "disabled": operator.disabled,
        }
        try:
            await self._operators.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_operator(self, name: str) -> Operator | None:
        """By name."""
        doc = await self._operators.find_one({"_id": name})
        return _operator(doc) if doc else None

    async def list_operators(self) -> list[Operator]:
        """All, by name."""
        return [_operator(d) async for d in self._operators.find({}).sort("_id", ASCENDING)]

    async def set_password(self, name: str, password_hash: str | None) -> bool:
        """Replace the hash."""
        done = await self._operators.update_one(
            {"_id": name}, {"$set": {"password_hash": password_hash}}
        )
        return done.matched_count == 1

    async def set_disabled(self, name: str, disabled: bool) -> bool:
        """Flip the flag."""
        done = await self._operators.update_one({"_id": name}, {"$set": {"disabled": disabled}})
        return done.matched_count == 1

    async def add_link(self, token_hash: str, name: str, expires_us: int) -> None:
        """Replace the operator's links with this one."""
        await self._links.delete_many({"name": name})
        await self._links.insert_one({"_id": token_hash, "name": name, "expires_us": expires_us})

    async def take_link(self, token_hash: str, now_us: int) -> str | None:
        """Delete the link; its name if it was still valid."""
        doc = await self._links.find_one_and_delete({"_id": token_hash})
        return doc["name"] if doc is not None and doc["expires_us"] > now_us else None


@translates_errors
class MongoSessionStore:
    """Console sessions in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._sessions = db["console_sessions"]

    async def create_indexes(self) -> None:
        """Sessions by operator, and by expiry for the sweep."""
        await self._sessions.create_indexes(
            [
                IndexModel([("operator", ASCENDING)], name="operator"),
                IndexModel([("expires_us", ASCENDING)], name="expires"),
            ]
        )

    async def add_session(self, session: Session) -> None:
        """Insert."""
        await self._sessions.insert_one(
            {
                "_id": session.id_hash,
                "operator": session.operator,
                "created_us": session.created_us,
                "seen_us": session.seen_us,
                "expires_us": session.expires_us,
            }
        )

    async def get_session(self, id_hash: str) -> Session | None:
        """By id hash."""
        doc = await self._sessions.find_one({"_id": id_hash})
        return _session(doc) if doc else None

    async def touch_session(self, id_hash: str, seen_us: int) -> None:
        """Move seen_us forward."""
        await self._sessions.update_one({"_id": id_hash}, {"$max": {"seen_us": seen_us}})

    async def drop_session(self, id_hash: str) -> None:
        """Delete one."""
        await self._sessions.delete_one({"_id": id_hash})

    async def drop_sessions_of(self, name: str) -> int:
        """Delete an operator's."""
        return (await self._sessions.delete_many({"operator": name})).deleted_count

    async def drop_expired(self, now_us: int, idle_before_us: int) -> int:
        """Delete the expired and the idle."""
        query = {"$or": [{"expires_us": {"$lte": now_us}}, {"seen_us": {"$lte": idle_before_us}}]}
        return (await self._sessions.delete_many(query)).deleted_count
