"""MongoDB PseudonymKeyStore: collection marketplace_pseudonym_keys, `_id` the version.

The `_id` makes two concurrent rotations to the same version one insert and one duplicate.
"""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.base import PseudonymKey


@translates_errors
class MongoPseudonymKeyStore:
    """Key versions, one document each."""

    def __init__(self, db: MongoDatabase) -> None:
        self._keys = db["marketplace_pseudonym_keys"]

    async def add_pseudonym_key(self, key: PseudonymKey) -> bool:
        """Insert the version; False when it exists."""
        try:
            await self._keys.insert_one({"_id": key.version, "created_us": key.created_us})
        except DuplicateKeyError:
            return False
        return True

    async def pseudonym_keys(self) -> list[PseudonymKey]:
        """Oldest first (by `_id`, always indexed)."""
        cursor = self._keys.find({}).sort("_id", 1)
        return [PseudonymKey(d["_id"], d["created_us"]) async for d in cursor]
