"""MongoDB DeliveryStore: subscriptions, the outbox and deliveries, without transactions.

Collections and indexes
    webhook_subscriptions  `_id` id; (created_at, _id) for listing
    webhook_events         `_id` event id (copied here by `publish_events`, see mongo.py);
                           (fanned, occurred_us, _id) for fan-out in order
    webhook_deliveries     `_id` "<event>.<subscription>"; `due_order` (state, next_at_us, _id)
                           for due and dead ones in the order they are claimed and listed
                           (the equality on state, then the index's own order: no sort in
                           memory); replaces the earlier `due` (state, next_at_us), dropped;
                           `subscription_due` (subscription_id, state, next_at_us, _id) for
                           one subscription's claims and its next due time

Fan-out creates each delivery with an upsert keyed by (event, subscription), then marks the
event fanned: a crash between the two repeats the upserts, which change nothing. A claim is a
compare-and-set per delivery on (state, next_at_us, lease_until_us), so one dispatcher holds
it; an outcome is written only by the lease's owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError, OperationFailure

from lrs.errors import Conflict
from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.base import (
    DEAD,
    DELIVERED,
    PENDING,
    Delivery,
    DeliveryCounts,
    OutboxEvent,
    Subscription,
)
from projections.store.mongo import event_doc
from projections.store.sqlite_delivery import delivery_id

_FILTERS = ("event_types", "verbs", "activities", "members", "scopes")  # + what it sees
# after the equality on `state`, the rest of the `due_order` index: the sort reads the index
_CLAIM_ORDER = [("next_at_us", ASCENDING), ("_id", ASCENDING)]


def _subscription(doc: dict[str, Any]) -> Subscription:
    return Subscription(
        id=doc["_id"],
        url=doc["url"],
        secret_salt=doc["secret_salt"],
        created_at=doc["created_at"],
        **{k: tuple(doc.get(k) or ()) for k in _FILTERS},
    )


def _delivery(doc: dict[str, Any], body: bytes) -> Delivery:
    return Delivery(
        id=doc["_id"],
        event_id=doc["event_id"],
        subscription_id=doc["subscription_id"],
        state=doc["state"],
        attempts=doc["attempts"],
        next_at_us=doc["next_at_us"],
        last_error=doc.get("last_error"),
        body=body,
    )


@translates_errors
class MongoDeliveryStore:
    """Subscriptions, outbox and deliveries in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._subs = db["webhook_subscriptions"]
        self._events = db["webhook_events"]
        self._deliveries = db["webhook_deliveries"]

    async def create_indexes(self) -> None:
        """Listing, fan-out order, due deliveries."""
        await self._subs.create_indexes(
            [IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="created")]
        )
        await self._events.create_indexes(
            [
                IndexModel(
                    [("fanned", ASCENDING), ("occurred_us", ASCENDING), ("_id", ASCENDING)],
                    name="unfanned",
                )
            ]
        )
        order = [("state", ASCENDING), ("next_at_us", ASCENDING), ("_id", ASCENDING)]
        by_subscription = [("subscription_id", ASCENDING), *order]
        await self._deliveries.create_indexes(
            [
                IndexModel(order, name="due_order"),
                IndexModel(by_subscription, name="subscription_due"),
            ]
        )
        if "due" in await self._deliveries.index_information():
            with suppress(OperationFailure):  # another process dropped it first
                await self._deliveries.drop_index("due")

    async def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        doc = {
            "_id": subscription.id,
            "url": subscription.url,
            "secret_salt": subscription.secret_salt,
            "created_at": subscription.created_at,
            **{k: list(getattr(subscription, k)) for k in _FILTERS},
        }
        try:
            await self._subs.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(f"subscription {subscription.id} exists") from None

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        """One subscription."""
        doc = await self._subs.find_one({"_id": subscription_id})
        return _subscription(doc) if doc else None

    async def list_subscriptions(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        cursor = self._subs.find({}).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [_subscription(d) for d in await cursor.to_list(None)]

    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove it and its pending deliveries."""
        result = await self._subs.delete_one({"_id": subscription_id})
        await self._deliveries.delete_many({"subscription_id": subscription_id, "state": PENDING})
        return result.deleted_count > 0

    async def unfanned_events(self, limit: int) -> list[OutboxEvent]:
        """Outbox events oldest first."""
        cursor = (
            self._events.find({"fanned": False})
            .sort([("occurred_us", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [
            OutboxEvent(
                id=d["_id"],
                type=d["type"],
                member_id=d["member_id"],
                activity_id=d["activity_id"],
                occurred_us=d["occurred_us"],
                body=bytes(d["body"]),
            )
            for d in await cursor.to_list(None)
        ]

    async def fan_out(self, event_id: str, subscription_ids: Sequence[str], now_us: int) -> None:
        """Upsert each delivery, then mark the event fanned."""
        for subscription_id in subscription_ids:
            doc = {
                "event_id": event_id,
                "subscription_id": subscription_id,
                "state": PENDING,
                "attempts": 0,
                "next_at_us": now_us,
                "lease_until_us": 0,
            }
            with suppress(DuplicateKeyError):  # a concurrent fan-out created it
                await self._deliveries.update_one(
                    {"_id": delivery_id(event_id, subscription_id)},
                    {"$setOnInsert": doc},
                    upsert=True,
                )
        await self._events.update_one({"_id": event_id}, {"$set": {"fanned": True}})

    async def add_replays(
        self, events: Sequence[OutboxEvent], subscription_id: str, now_us: int
    ) -> int:
        """Each event inserted fanned (no fan-out takes it), then its one delivery upserted:
        a crash between the two loses that replay, never sends it elsewhere; run it again."""
        added = 0
        for event in events:
            doc = {k: v for k, v in event_doc(event).items() if k != "id"}
            with suppress(DuplicateKeyError):  # a concurrent add of the same event
                result = await self._events.update_one(
                    {"_id": event.id}, {"$setOnInsert": {**doc, "fanned": True}}, upsert=True
                )
                added += 1 if result.upserted_id is not None else 0
            await self.fan_out(event.id, [subscription_id], now_us)
        return added

    async def claim_deliveries(
        self,
        owner: str,
        now_us: int,
        lease_us: int,
        limit: int,
        *,
        subscription_id: str | None = None,
    ) -> list[Delivery]:
        """Compare-and-set each due delivery to this owner; due again when the lease ends."""
        due: dict[str, Any] = {
            "state": PENDING,
            "next_at_us": {"$lte": now_us},
            "lease_until_us": {"$lte": now_us},
        }
        if subscription_id is not None:
            due = {"subscription_id": subscription_id, **due}
        cursor = self._deliveries.find(due).sort(_CLAIM_ORDER)
        until = now_us + lease_us
        claimed = []
        for doc in await cursor.limit(limit).to_list(None):
            result = await self._deliveries.update_one(
                {"_id": doc["_id"], **due},
                {"$set": {"owner": owner, "lease_until_us": until, "next_at_us": until}},
            )
            if result.modified_count == 1:
                claimed.append({**doc, "next_at_us": until})
        return await self._with_bodies(claimed)

    async def next_due_us(self, subscription_id: str) -> int | None:
        """The earliest `next_at_us` of its pending deliveries (`subscription_due`'s first)."""
        doc = await self._deliveries.find_one(
            {"subscription_id": subscription_id, "state": PENDING},
            {"next_at_us": 1},
            sort=_CLAIM_ORDER,
        )
        return None if doc is None else int(doc["next_at_us"])

    async def _with_bodies(self, docs: list[dict[str, Any]]) -> list[Delivery]:
        ids = list({d["event_id"] for d in docs})
        bodies = {
            e["_id"]: bytes(e["body"])
            async for e in self._events.find({"_id": {"$in": ids}}, {"body": 1})
        }
        return [_delivery(d, bodies.get(d["event_id"], b"")) for d in docs]

    async def finish_delivery(
        self,
        delivery_id: str,
        owner: str,
        *,
        state: str,
        attempts: int,
        next_at_us: int,
        error: str | None,
    ) -> bool:
        """Record the outcome if still the owner."""
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "owner": owner},
            {
                "$set": {
                    "state": state,
                    "attempts": attempts,
                    "next_at_us": next_at_us,
                    "last_error": error,
                    "lease_until_us": 0,
                },
                "$unset": {"owner": ""},
            },
        )
        return result.matched_count == 1

    async def dead_letters(
        self, limit: int, *, subscription_id: str | None = None
    ) -> list[Delivery]:
        """Dead deliveries with bodies (`due_order`, or `subscription_due` for one's)."""
        query: dict[str, Any] = {"state": DEAD}
        if subscription_id is not None:
            query = {"subscription_id": subscription_id, **query}
        cursor = self._deliveries.find(query).sort(_CLAIM_ORDER)
        return await self._with_bodies(await cursor.limit(limit).to_list(None))

    async def recent_deliveries(self, subscription_id: str, limit: int) -> list[Delivery]:
        """The latest `limit` of each state (`subscription_due` read backwards), merged."""
        latest: list[dict[str, Any]] = []
        for state in (PENDING, DELIVERED, DEAD):
            cursor = self._deliveries.find({"subscription_id": subscription_id, "state": state})
            cursor = cursor.sort([("next_at_us", DESCENDING), ("_id", DESCENDING)]).limit(limit)
            latest.extend(await cursor.to_list(None))
        latest.sort(key=lambda d: (d["next_at_us"], d["_id"]), reverse=True)
        return await self._with_bodies(latest[:limit])

    async def redeliver(self, delivery_ids: Sequence[str] | None, now_us: int) -> int:
        """Dead → pending, attempts reset."""
        query: dict[str, Any] = {"state": DEAD}
        if delivery_ids is not None:
            query["_id"] = {"$in": list(delivery_ids)}
        result = await self._deliveries.update_many(
            query,
            {
                "$set": {"state": PENDING, "attempts": 0, "next_at_us": now_us},
                "$unset": {"owner": ""},
            },
        )
        return result.modified_count

    async def delivery_counts(self) -> DeliveryCounts:
        """The backlog."""
        counts = {
            state: await self._deliveries.count_documents({"state": state})
            for state in (PENDING, DEAD, DELIVERED)
        }
        return DeliveryCounts(
            unfanned_events=await self._events.count_documents({"fanned": False}),
            pending=counts[PENDING],
            dead=counts[DEAD],
            delivered=counts[DELIVERED],
        )

    async def subscription_counts(self, subscription_id: str) -> dict[str, int]:
        """By state, one indexed count each."""
        sub = {"subscription_id": subscription_id}
        queries: dict[str, dict[str, Any]] = {
            "queued": {**sub, "state": PENDING, "attempts": {"$lte": 0}},
            "retrying": {**sub, "state": PENDING, "attempts": {"$gt": 0}},
            DELIVERED: {**sub, "state": DELIVERED},
            DEAD: {**sub, "state": DEAD},
        }
        return {name: await self._deliveries.count_documents(q) for name, q in queries.items()}
