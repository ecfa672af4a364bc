"""Canonical activity definitions in MongoDB (`activities` collection).

Each document is `{_id: activity id, definition: <JSON bytes>, rev: n}`; the definition is kept
as bytes for the same reason statements are (extension keys full of dots). A merge is a
compare-and-set on `rev`, retried when another writer got there first, so concurrent merges of
the same activity lose nothing without transactions. Merging the same definitions twice gives
the same result, so a statement batch's roll-forward may repeat its merge (`lrs.store.mongo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from bson import Binary
from pymongo.errors import DuplicateKeyError

from lrs.errors import StoreUnavailable
from lrs.model.statements import DefinitionMerge
from lrs.store.engine.mongo import translate_errors

_ATTEMPTS = 20


class MongoActivityStore:
    """Canonical activity definitions, merged with per-document compare-and-set."""

    def __init__(self, db: Any) -> None:
        self._activities = db["activities"]

    async def merge_activities(
        self, definitions: Mapping[str, dict[str, Any]], merge: DefinitionMerge
    ) -> None:
        """Merge each definition into the stored one."""
        with translate_errors("save activity definitions"):
            for activity_id, definition in definitions.items():
                await self._merge_one(activity_id, definition, merge)

    async def _merge_one(
        self, activity_id: str, definition: dict[str, Any], merge: DefinitionMerge
    ) -> None:
        for _attempt in range(_ATTEMPTS):
            doc = await self._activities.find_one({"_id": activity_id})
            if doc is None:
                try:
                    await self._activities.insert_one(
                        {"_id": activity_id, "definition": _pack(merge(None, definition)), "rev": 1}
                    )
                    return
                except DuplicateKeyError:
                    continue
            current = orjson.loads(bytes(doc["definition"]))
            merged = merge(current, definition)
            if merged == current:
                return  # nothing to change: most statements repeat a known definition
            result = await self._activities.update_one(
                {"_id": activity_id, "rev": doc["rev"]},
                {"$set": {"definition": _pack(merged)}, "$inc": {"rev": 1}},
            )
            if result.modified_count == 1:
                return
        raise StoreUnavailable(f"activity {activity_id} is being changed too often to merge")

    async def get_activities(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The canonical definitions among `ids`."""
        if not ids:
            return {}
        with translate_errors("read activity definitions"):
            cursor = self._activities.find({"_id": {"$in": list(dict.fromkeys(ids))}})
            return {doc["_id"]: orjson.loads(bytes(doc["definition"])) async for doc in cursor}


def _pack(definition: dict[str, Any]) -> Binary:
    return Binary(orjson.dumps(definition))
