"""LTI 1.1 outcomes on the LRS's MongoDB database (collection `lti_outcomes`, see
`lti.store.mongo`)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from lrs.errors import StoreUnavailable
from lrs.store.engine.mongo import MongoDatabase, translate_errors
from lti.store.base import OutcomeRecord


class MongoOutcomeStore:
    """LTI 1.1 results, one document per consumer, resource link and user."""

    def __init__(self, db: MongoDatabase) -> None:
        self._outcomes = db["lti_outcomes"]

    async def get_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str
    ) -> OutcomeRecord | None:
        """The current result."""
        with translate_errors("read the result", pass_duplicates=True):
            doc = await self._outcomes.find_one(
                {"_id": _outcome_id(consumer_key, resource_link_id, user_id)}
            )
        return None if doc is None else _outcome(doc)

    async def put_outcome(self, record: OutcomeRecord) -> OutcomeRecord:
        """Make `record` current, keeping every statement id seen for this result."""
        key = _outcome_id(record.consumer_key, record.resource_link_id, record.user_id)
        update = {
            "$set": {
                "score": record.score,
                "message_id": record.message_id,
                "received_us": record.received_us,
            },
            "$addToSet": {"statement_ids": {"$each": list(record.statement_ids)}},
        }
        with translate_errors("store the result"):
            for _attempt in range(2):
                # two first results at once: one upsert inserts, the other's duplicate key
                # means the document exists now, and the same update applies to it
                with suppress(DuplicateKeyError):
                    doc = await self._outcomes.find_one_and_update(
                        {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
                    )
                    if doc is not None:
                        return _outcome(doc)
        raise StoreUnavailable("the store could not keep the result; retry")

    async def delete_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str, received_us: int
    ) -> bool:
        """Delete the result if unchanged since read."""
        with translate_errors("delete the result", pass_duplicates=True):
            result = await self._outcomes.delete_one(
                {
                    "_id": _outcome_id(consumer_key, resource_link_id, user_id),
                    "received_us": received_us,
                }
            )
        return result.deleted_count == 1


def _outcome_id(consumer_key: str, resource_link_id: str, user_id: str) -> dict[str, str]:
    # An _id cannot be an array; a sub-document compares field by field, in this order.
    return {"consumer": consumer_key, "link": resource_link_id, "user": user_id}


def _outcome(doc: dict[str, Any]) -> OutcomeRecord:
    key = doc["_id"]
    return OutcomeRecord(
        consumer_key=key["consumer"],
        resource_link_id=key["link"],
        user_id=key["user"],
        score=doc["score"],
        message_id=doc["message_id"],
        received_us=doc["received_us"],
        statement_ids=tuple(doc["statement_ids"]),
    )
