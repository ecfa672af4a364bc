"""What a client gets over HTTP when the MongoDB server answers with a real error: the store's
translation (`lrs.store.engine.mongo.translate_errors`) seen through the whole app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import AutoReconnect, DocumentTooLarge, OperationFailure

from lrs.app import create_app
from lrs.auth import create_credential
from lrs.config import Config
from lrs.settings import Settings
from lrs.store.mongo import MongoBackend
from tests.factories import make_statement
from tests.lrs.http.conftest import basic
from tests.mongo_fakes import FakeCollection

STATE = "/xapi/activities/state"
PARAMS = {
    "activityId": "http://example.com/activities/a1",
    "agent": '{"mbox": "mailto:learner@example.com"}',
    "stateId": "bookmark",
}


@pytest.fixture
async def backend() -> AsyncIterator[MongoBackend]:
    opened = await MongoBackend.open(
        "mongodb://mongomock.invalid", "lrs_test", client=AsyncMongoMockClient()
    )
    yield opened
    await opened.close()


@pytest.fixture
async def http(
    aiohttp_client: Callable[..., Any], backend: MongoBackend, tmp_path: Path
) -> tuple[TestClient, dict[str, str]]:
    client = await aiohttp_client(
        create_app(Config(core=Settings(data_dir=tmp_path)), backend=backend)
    )
    new = await create_credential(backend.credentials, "suite", ["all"])
    headers = {
        "Authorization": basic(new.credential.key, new.secret),
        "X-Experience-API-Version": "1.0.3",
    }
    return client, headers


def failing_documents(backend: MongoBackend, method: str, error: BaseException) -> None:
    backend.documents._docs = FakeCollection(backend.documents._docs).fail(  # type: ignore[assignment]
        method, error
    )


async def test_a_state_document_over_the_bson_limit_is_413(
    http: tuple[TestClient, dict[str, str]], backend: MongoBackend
) -> None:
    client, headers = http
    failing_documents(backend, "insert_one", DocumentTooLarge("BSON document too large"))
    response = await client.put(STATE, params=PARAMS, data=b"x" * 1024, headers=headers)
    assert response.status == 413
    assert (await response.json())["error"] == "payload_too_large"
    response = await client.get(STATE, params=PARAMS, headers=headers)
    assert response.status == 404  # nothing half-written


async def test_a_statement_over_the_bson_limit_is_413_and_not_stored(
    http: tuple[TestClient, dict[str, str]], backend: MongoBackend
) -> None:
    client, headers = http
    statements = backend.statements
    statements._docs = FakeCollection(statements._docs).fail(  # type: ignore[assignment]
        "insert_many", DocumentTooLarge("BSON document too large")
    )
    statement = make_statement(id="3c2f6e1a-8d7b-4c3e-9f1a-2b5d7e9c0a11")
    response = await client.post("/xapi/statements", json=statement, headers=headers)
    assert response.status == 413
    found = await client.get(
        "/xapi/statements", params={"statementId": statement["id"]}, headers=headers
    )
    assert found.status == 404


async def test_an_outage_is_503_with_retry_after(
    http: tuple[TestClient, dict[str, str]], backend: MongoBackend
) -> None:
    client, headers = http
    failing_documents(backend, "insert_one", AutoReconnect("connection reset"))
    response = await client.put(STATE, params=PARAMS, data=b"{}", headers=headers)
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert (await response.json())["error"] == "store_unavailable"


async def test_a_deterministic_refusal_names_itself_and_is_not_retried(
    http: tuple[TestClient, dict[str, str]], backend: MongoBackend
) -> None:
    client, headers = http
    failing_documents(backend, "insert_one", OperationFailure("unknown operator", code=2))
    response = await client.put(STATE, params=PARAMS, data=b"{}", headers=headers)
    assert response.status == 500
    assert "Retry-After" not in response.headers
    body = await response.json()
    assert body["error"] == "store_error" and body["server_codes"] == [2]
