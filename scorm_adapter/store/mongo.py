"""MongoDB implementation of the AttemptStore: one document per attempt in `scorm_attempts`.

`_id` is the attempt id, so "create unless it exists" is an `insert_one` refused with a
duplicate key error; the compare-and-set is `replace_one({_id, revision: expected})`, atomic on
a single document everywhere (single node, replica set, sharded on `_id`), no transaction.
The state is kept as BSON binary: CMI element names contain dots, which field names cannot.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from pymongo.errors import DuplicateKeyError

from lrs.store.engine.mongo import MongoDatabase, translate_errors
from scorm_adapter.store.base import AttemptRecord

log = logging.getLogger(__name__)

COLLECTION = "scorm_attempts"


class AttemptDoc(TypedDict):
    """One attempt's state in `scorm_attempts`."""

    _id: str
    revision: int
    state: bytes
    updated_us: int


def _doc(record: AttemptRecord) -> AttemptDoc:
    return AttemptDoc(
        _id=record.attempt_id,
        revision=record.revision,
        state=record.state,
        updated_us=record.updated_us,
    )


def _record(doc: dict[str, Any]) -> AttemptRecord:
    return AttemptRecord(
        attempt_id=doc["_id"],
        revision=int(doc["revision"]),
        state=bytes(doc["state"]),
        updated_us=int(doc["updated_us"]),
    )


class MongoAttemptStore:
    """Per-attempt SCORM state in the LRS's MongoDB database."""

    def __init__(self, db: MongoDatabase) -> None:
        self._docs = db[COLLECTION]

    async def create_attempt(self, record: AttemptRecord) -> bool:
        """Insert the record unless its id exists."""
        try:
            with translate_errors("store the SCORM attempt", pass_duplicates=True):
                await self._docs.insert_one(dict(_doc(record)))
        except DuplicateKeyError:
            return False
        return True

    async def get_attempt(self, attempt_id: str) -> AttemptRecord | None:
        """The record, or None."""
        with translate_errors("read the SCORM attempt", pass_duplicates=True):
            doc = await self._docs.find_one({"_id": attempt_id})
        return None if doc is None else _record(doc)

    async def replace_attempt(self, record: AttemptRecord, *, expected_revision: int) -> bool:
        """Compare-and-set on the revision."""
        with translate_errors("update the SCORM attempt", pass_duplicates=True):
            result = await self._docs.replace_one(
                {"_id": record.attempt_id, "revision": expected_revision}, dict(_doc(record))
            )
        return result.matched_count == 1
