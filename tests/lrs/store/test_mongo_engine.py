"""The MongoDB engine's own decisions, on the real driver's classes (no server can run here):
which driver errors are outages (503), which name themselves, and the options every store uses
whatever the connection string says."""

from __future__ import annotations

from typing import Any

import pytest
from bson.errors import InvalidDocument
from mongomock_motor import AsyncMongoMockClient
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ReadPreference
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from lrs.errors import BadRequest, LRSError, PayloadTooLarge, StoreError, StoreUnavailable
from lrs.settings import Settings
from lrs.store import factory
from lrs.store.engine.mongo import client_options, database_options, translate_errors
from lrs.store.mongo import MongoBackend

LAX_URI = (
    "mongodb://db.invalid:27017/?readPreference=secondaryPreferred&readConcernLevel=local"
    "&w=1&wtimeoutMS=0&journal=false&serverSelectionTimeoutMS=30000"
)

OUTAGES = [
    AutoReconnect("connection reset"),
    NotPrimaryError("not primary"),
    ServerSelectionTimeoutError("no primary available"),
    NetworkTimeout("timed out"),
    ExecutionTimeout("operation exceeded time limit", code=50),
    WTimeoutError("waiting for replication timed out", code=64),
    OperationFailure("primary stepped down", code=189),
    OperationFailure("interrupted due to repl state change", code=11602),
    OperationFailure("retry me", code=1, details={"errorLabels": ["RetryableWriteError"]}),
    BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "wt"}]}),
]
REFUSALS = [
    DuplicateKeyError("E11000 duplicate key", code=11000),
    OperationFailure("Index with name: x already exists with different options", code=85),
    OperationFailure("unknown operator: $regexp", code=2),
    InvalidDocument("cannot encode object: <object>"),
]
TOO_LARGE = [
    DocumentTooLarge("BSON document too large (20000000 bytes)"),
    OperationFailure("BSONObj size: 17000000 is invalid", code=10334),
    OperationFailure("Resulting document after update is larger than 16777216", code=17419),
]


def _translated(exc: BaseException) -> LRSError:
    with pytest.raises(LRSError) as caught, translate_errors("store the statements"):
        raise exc
    return caught.value


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_outages_are_store_unavailable(exc: BaseException) -> None:
    error = _translated(exc)
    assert type(error) is StoreUnavailable and error.status == 503


@pytest.mark.parametrize("exc", REFUSALS, ids=lambda e: type(e).__name__)
def test_deterministic_failures_name_themselves(exc: BaseException) -> None:
    error = _translated(exc)
    assert type(error) is StoreError and error.status == 500
    assert error.to_json()["error"] == "store_error"
    assert error.details["driver_error"] == type(exc).__name__
    assert error.details["server_codes"] == ([exc.code] if getattr(exc, "code", None) else [])


@pytest.mark.parametrize("exc", TOO_LARGE, ids=lambda e: type(e).__name__)
def test_documents_over_the_bson_limit_are_413(exc: BaseException) -> None:
    error = _translated(exc)
    assert type(error) is PayloadTooLarge and error.status == 413


def test_an_integer_outside_64_bits_is_400() -> None:
    error = _translated(OverflowError("MongoDB can only handle up to 8-byte ints"))
    assert type(error) is BadRequest and error.status == 400


def test_the_options_win_over_the_connection_string() -> None:
    client = AsyncIOMotorClient(LAX_URI, **client_options(1500))  # lazy: connects on first use
    try:
        db = client.get_database("lrs", **database_options(2500))
        assert client.options.server_selection_timeout == 1.5
        for handle in (db, db["statements"]):
            assert handle.read_preference == ReadPreference.PRIMARY
            assert handle.read_concern.level == "majority"
            assert handle.write_concern.document == {"w": "majority", "j": True, "wtimeout": 2500}
    finally:
        client.close()


class RecordingClient:
    """A mongomock-motor client that records how the backend asks for its database."""

    def __init__(self) -> None:
        self.real = AsyncMongoMockClient()
        self.asked: dict[str, Any] = {}

    def get_database(self, name: str, **options: Any) -> Any:
        self.asked = options
        return self.real.get_database(name, **options)


async def test_the_backend_opens_its_database_with_pinned_reads_and_bounded_writes() -> None:
    client = RecordingClient()
    backend = await MongoBackend.open(LAX_URI, "lrs_test", client=client, write_timeout_ms=700)
    try:
        assert client.asked["read_preference"] == ReadPreference.PRIMARY
        assert client.asked["read_concern"].level == "majority"
        assert client.asked["write_concern"].document == {
            "w": "majority",
            "j": True,
            "wtimeout": 700,
        }
    finally:
        await backend.close()


async def test_the_settings_reach_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env(
        {
            "LRS_MONGODB_URI": LAX_URI,
            "LRS_MONGODB_SERVER_SELECTION_MS": "1200",
            "LRS_MONGODB_WRITE_TIMEOUT_MS": "3400",
            "LRS_MONGODB_RECOVERY_INTERVAL_S": "7",
        }
    )
    seen: dict[str, Any] = {}

    async def fake_open(uri: str, database: str, **options: Any) -> Any:
        seen.update(options, uri=uri)
        return None

    monkeypatch.setattr(MongoBackend, "open", fake_open)
    await factory.open_backend(settings)
    assert seen == {
        "uri": LAX_URI,
        "server_selection_ms": 1200,
        "write_timeout_ms": 3400,
        "recovery_interval_s": 7,
    }
    assert Settings().mongodb_server_selection_ms == 5000  # not the driver's 30 s
