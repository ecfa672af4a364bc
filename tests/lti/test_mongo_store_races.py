"""The LTI MongoDB stores where a real server differs from mongomock: a concurrent upsert's
duplicate key, and a read answered by a lagging secondary (`tests.mongo_fakes`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import DuplicateKeyError

from lrs.store.mongo import MongoBackend
from lti.store.base import OutcomeRecord, PlatformKey
from lti.store.mongo import MongoPlatformKeyStore
from lti.store.mongo_outcomes import MongoOutcomeStore
from tests.mongo_fakes import FakeCollection


@pytest.fixture
async def backend() -> AsyncIterator[MongoBackend]:
    opened = await MongoBackend.open(
        "mongodb://mongomock.invalid", "lrs_test", client=AsyncMongoMockClient()
    )
    yield opened
    await opened.close()


async def test_a_first_result_racing_another_is_stored_not_a_500(backend: MongoBackend) -> None:
    store = MongoOutcomeStore(backend.engine)
    record = OutcomeRecord(
        "ck", "link", "u1", score=0.5, message_id="m", received_us=1, statement_ids=("s1",)
    )
    # the other request's upsert inserted the document between our match and our insert
    await store._outcomes.insert_one(
        {
            "_id": {"consumer": "ck", "link": "link", "user": "u1"},
            "score": 0.2,
            "message_id": "m0",
            "received_us": 0,
            "statement_ids": ["s0"],
        }
    )
    store._outcomes = FakeCollection(store._outcomes).fail(  # type: ignore[assignment]
        "find_one_and_update", DuplicateKeyError("E11000 duplicate key", code=11000)
    )
    stored = await store.put_outcome(record)
    assert stored.score == 0.5 and stored.statement_ids == ("s0", "s1")


async def test_the_platform_key_is_answered_by_its_write_not_a_stale_read(
    backend: MongoBackend,
) -> None:
    store = MongoPlatformKeyStore(backend.engine)
    store._keys = FakeCollection(store._keys).stale("find_one", None)  # type: ignore[assignment]
    key = PlatformKey(kid="k1", private_key_enc="v1.enc", created_at="2026-01-01")
    assert await store.add_platform_key(key) == key  # was an AssertionError (500)
    store._keys.fail(  # type: ignore[attr-defined]
        "find_one_and_update", DuplicateKeyError("E11000 duplicate key", code=11000)
    )
    assert await store.add_platform_key(PlatformKey("k2", "v1.x", "2026-01-02")) == key
