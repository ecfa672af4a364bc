"""The MongoDB delivery store claims due deliveries in the order of an index it has: the
equality on `state` (and `subscription_id` for one subscription's), then (next_at_us, _id), so
a real server never sorts in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo import ASCENDING, IndexModel

from lrs.store.engine import open_store
from lrs.store.mongo import MongoBackend
from projections.store.mongo_delivery import MongoDeliveryStore
from projections.store.sqlite_delivery import SQLiteDeliveryStore


@pytest.fixture
async def backend() -> AsyncIterator[MongoBackend]:
    opened = await MongoBackend.open(
        "mongodb://mongomock.invalid", "lrs_test", client=AsyncMongoMockClient()
    )
    yield opened
    await opened.close()


class SortRecorder:
    """The deliveries collection, recording the sort of every `find`."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.sorts: list[list[tuple[str, int]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def find(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self._real.find(*args, **kwargs)
        real_sort = cursor.sort

        def sort(spec: Any, *rest: Any) -> Any:
            self.sorts.append([tuple(key) for key in spec])
            return real_sort(spec, *rest)

        cursor.sort = sort
        return cursor


async def test_claims_and_dead_letters_sort_in_the_order_of_an_index(
    backend: MongoBackend,
) -> None:
    deliveries = backend.engine["webhook_deliveries"]
    # a deployment indexed by an earlier version: the old index is replaced, not kept beside
    await deliveries.create_indexes(
        [IndexModel([("state", ASCENDING), ("next_at_us", ASCENDING)], name="due")]
    )
    store = await open_store(backend, sqlite=SQLiteDeliveryStore, mongo=MongoDeliveryStore)
    assert isinstance(store, MongoDeliveryStore)
    indexes = await deliveries.index_information()
    assert "due" not in indexes
    keys = [tuple(k) for k in indexes["due_order"]["key"]]
    assert keys[0] == ("state", ASCENDING)
    recorder = SortRecorder(store._deliveries)
    store._deliveries = recorder  # type: ignore[assignment]
    await store.claim_deliveries("w1", now_us=10, lease_us=5, limit=10)
    await store.dead_letters(limit=10)
    assert recorder.sorts == [keys[1:], keys[1:]]
    # one subscription's claims: equalities on subscription and state, then the same order
    by_subscription = [tuple(k) for k in indexes["subscription_due"]["key"]]
    assert by_subscription[:2] == [("subscription_id", ASCENDING), ("state", ASCENDING)]
    await store.claim_deliveries("w1", now_us=10, lease_us=5, limit=10, subscription_id="s")
    assert recorder.sorts[-1] == by_subscription[2:]


async def test_one_subscriptions_recent_deliveries_and_dead_letters_read_its_index(
    backend: MongoBackend,
) -> None:
    store = await open_store(backend, sqlite=SQLiteDeliveryStore, mongo=MongoDeliveryStore)
    assert isinstance(store, MongoDeliveryStore)
    indexes = await backend.engine["webhook_deliveries"].index_information()
    by_subscription = [tuple(k) for k in indexes["subscription_due"]["key"]]
    recorder = SortRecorder(store._deliveries)
    store._deliveries = recorder  # type: ignore[assignment]
    await store.dead_letters(limit=10, subscription_id="s")
    assert recorder.sorts == [by_subscription[2:]]  # after the equalities, the index's order
    await store.recent_deliveries("s", 10)
    backwards = [(name, -direction) for name, direction in by_subscription[2:]]
    assert recorder.sorts[1:] == [backwards] * 3  # one per state, the index read backwards
