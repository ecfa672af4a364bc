"""MongoDB CounterStore: collection `marketplace_counters`, `_id` "<name>\\n<series>", each
increment a single-document `$inc` with upsert (sent concurrently: they are independent)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.counters import CounterKey


@translates_errors
class MongoCounterStore:
    """Counters, one document each."""

    def __init__(self, db: MongoDatabase) -> None:
        self._counters = db["marketplace_counters"]

    async def add(self, increments: Mapping[CounterKey, float]) -> None:
        """`$inc` each counter, creating it when new."""
        await asyncio.gather(
            *(
                self._counters.update_one(
                    {"_id": f"{name}\n{series}"},
                    {"$inc": {"value": amount}, "$setOnInsert": {"name": name, "series": series}},
                    upsert=True,
                )
                for (name, series), amount in increments.items()
            )
        )

    async def counters(self, prefix: str = "") -> dict[CounterKey, float]:
        """By name prefix (a prefix match on `_id`, served by its index)."""
        query = {"_id": {"$regex": "^" + re.escape(prefix)}} if prefix else {}
        return {(d["name"], d["series"]): d["value"] async for d in self._counters.find(query)}
