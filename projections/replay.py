"""Webhook replay: the current state of records sent to one subscription, marked as replays.

A marketplace that subscribes late, or a canary receiver, gets the history it missed without a
bulk export: `lrs webhooks replay SUBSCRIPTION [--since T] [--member ID]` queues one event per
live record (updated after T; of that member) that passes the subscription's filters, for
that subscription alone (`DeliveryStore.add_replays`: the events are never fanned out to the
others). The dispatcher then delivers them like any event: signed, retried, dead-lettered.

A replay event is a `learning.updated` whose body has `"replay": true`; `data` is the record
as it is now, `version` its current version (a receiver that has a newer one keeps it),
`changes` names every field (the whole state is sent), `tags` are what creating the record
would tag (`learning.completed`, `badge.awarded`...) and `verbs` the record's verbs, so
event-type and verb filters select replays as they select changes. Removed records are not
replayed (an export delta carries removals).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from lrs.errors import NotFound
from projections.aggregates import CHANGE_FIELDS, change_tags
from projections.pseudonyms import Disclosure, disclose_record
from projections.store import ProjectionStores
from projections.store.base import OutboxEvent, StoredRecord, Subscription
from projections.transforms import format_datetime
from projections.webhooks import matches

_PAGE = 500


@dataclass(frozen=True)
class ReplayReport:
    """What a replay queued: records read, events queued for the subscription."""

    subscription_id: str
    records: int
    queued: int


def replay_event(stored: StoredRecord, public_id: str, now_us: int) -> OutboxEvent:
    """A live record's current state as a replay event (see the module docstring)."""
    record = stored.record or {}
    event_id = f"evt_{uuid.uuid4().hex}"
    body: dict[str, Any] = {
        "id": event_id,
        "type": "learning.updated",
        "replay": True,
        "tags": change_tags(None, record),
        "occurred_at": format_datetime(now_us),
        "member_id": public_id,
        "activity_id": stored.activity_id,
        "version": stored.version,
        "changes": list(CHANGE_FIELDS),
        "verbs": list(record.get("verbs", ())),
        "data": disclose_record(record, public_id),
    }
    return OutboxEvent(
        id=event_id,
        type="learning.updated",
        member_id=stored.member_id,
        activity_id=stored.activity_id,
        occurred_us=now_us,
        body=orjson.dumps(body),
    )


class Replayer:
    """Queues replays for one subscription; see the module docstring."""

    def __init__(
        self, stores: ProjectionStores, disclosure: Disclosure, clock: Callable[[], int]
    ) -> None:
        self._stores = stores
        self._disclosure = disclosure
        self._clock = clock

    async def replay(
        self, subscription_id: str, *, since_us: int | None = None, member_id: str | None = None
    ) -> ReplayReport:
        """Queue the matching records' state for the subscription; NotFound if it is unknown."""
        subscription = await self._stores.deliveries.get_subscription(subscription_id)
        if subscription is None:
            raise NotFound(f"no subscription {subscription_id}")
        records = queued = 0
        async for page in self._pages(since_us, member_id):
            records += len(page)
            queued += await self._queue(subscription, page)
        return ReplayReport(subscription_id, records, queued)

    async def _pages(
        self, since_us: int | None, member_id: str | None
    ) -> AsyncIterator[list[StoredRecord]]:
        """Live records updated after `since_us` (of `member_id`), a page at a time."""
        aggregates = self._stores.aggregates
        if member_id is not None:
            records = await aggregates.member_records(member_id)
            yield [r for r in records if since_us is None or r.updated_us > since_us]
            return
        after = None
        while True:
            page = await aggregates.page_records(after=after, since_us=since_us, limit=_PAGE)
            yield page.records
            if page.next_position is None:
                return
            after = page.next_position

    async def _queue(self, subscription: Subscription, records: list[StoredRecord]) -> int:
        """The page's replay events that pass the subscription's filters, queued for it."""
        public = await self._disclosure.public_ids(r.member_id for r in records)
        now = self._clock()
        events = [replay_event(r, public[r.member_id], now) for r in records]
        wanted = [e for e in events if matches(subscription, orjson.loads(e.body))]
        return await self._stores.deliveries.add_replays(wanted, subscription.id, now)
