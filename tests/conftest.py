"""The one fixture that decides which backends tests run on (contract and API tests alike).

- `sqlite`: the embedded default, a real file in the test's temporary directory.
- `mongomock`: the MongoDB backend on mongomock-motor (no server can be installed here).
- `mongodb`: the MongoDB backend on a real server, only when `LRS_TEST_MONGODB_URI` is set;
  each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings
from mongomock_motor import AsyncMongoMockClient

from lrs.store.base import Backend
from lrs.store.mongo import MongoBackend
from lrs.store.sqlite import SQLiteBackend

MONGODB_URI_VAR = "LRS_TEST_MONGODB_URI"


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """An opened, empty backend, closed after the test."""
    if request.param == "sqlite":
        opened: Backend = SQLiteBackend(tmp_path)
        yield opened
        await opened.close()
    elif request.param == "mongomock":
        opened = await MongoBackend.open(
            "mongodb://mongomock.invalid", "lrs_test", client=AsyncMongoMockClient()
        )
        yield opened
        await opened.close()
    else:
        uri = os.environ.get(MONGODB_URI_VAR)
        if not uri:
            pytest.skip(f"{MONGODB_URI_VAR} is not set")
        name = f"lrs_test_{uuid.uuid4().hex}"
        mongo = await MongoBackend.open(uri, name)
        try:
            yield mongo
        finally:
            await mongo.db.client.drop_database(name)
            await mongo.close()


# Hypothesis profiles for the property tests (tests/lrs/http/test_properties.py): "ci" keeps the
# suite fast; `pytest --hypothesis-profile=long` runs 2,000 examples per test. No deadline: the
# examples go through the whole app and its store, whose speed is the host's.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile("ci")
