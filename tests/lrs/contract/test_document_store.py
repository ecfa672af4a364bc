"""The DocumentStore contract, asserted on every backend.

SQLite always, MongoDB on mongomock-motor always, and a real MongoDB when LRS_TEST_MONGODB_URI
is set (each test on its own database, dropped afterwards). The fixture is defined here, not
in conftest.py, so this module opens only the document store it tests.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from lrs.model.documents import (
    ACTIVITY_PROFILE,
    AGENT_PROFILE,
    STATE,
    Document,
    DocumentKey,
    DocumentScope,
)
from lrs.store.documents import DocumentStore
from lrs.xapi.documents import Preconditions, content_etag

MONGODB_URI = os.environ.get("LRS_TEST_MONGODB_URI")
KINDS = ["sqlite", "mongomock"] + (["mongodb"] if MONGODB_URI else [])

ACTIVITY = "http://example.com/activities/a.b$c"
AGENT = "mbox:mailto:ada@example.com"
REG1 = "11111111-1111-4111-8111-111111111111"
REG2 = "22222222-2222-4222-8222-222222222222"
T0 = 1_700_000_000_000_000


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """An empty document store on each backend."""
    if request.param == "sqlite":
        from lrs.store.engine.sqlite import SQLiteDatabase
        from lrs.store.sqlite_documents import DOCUMENTS_SCHEMA, SQLiteDocumentStore

        db = SQLiteDatabase(tmp_path / "docs.sqlite3")
        db.open([DOCUMENTS_SCHEMA])
        yield SQLiteDocumentStore(db)
        await db.close()
        return
    from lrs.store.mongo_documents import MongoDocumentStore

    if request.param == "mongomock":
        from mongomock_motor import AsyncMongoMockClient

        mongo = MongoDocumentStore(AsyncMongoMockClient()["x"])
        await mongo.ensure_indexes()
        yield mongo
        return
    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(MONGODB_URI)
    name = f"lrs_test_{uuid.uuid4().hex[:12]}"
    mongo = MongoDocumentStore(client[name])
    await mongo.ensure_indexes()
    try:
        yield mongo
    finally:
        await client.drop_database(name)
        client.close()


def state_key(doc_id: str = "s1", registration: str = "", agent: str = AGENT) -> DocumentKey:
    return DocumentKey(STATE, ACTIVITY, agent, registration, doc_id)


def doc(
    key: DocumentKey, content: bytes = b'{"a":1}', updated: int = 0, ctype: str = ""
) -> Document:
    return Document(
        key=key,
        content=content,
        content_type=ctype or "application/json",
        etag=content_etag(content),
        updated_us=T0 + updated,
    )


async def test_satisfies_protocol(store: DocumentStore) -> None:
    assert isinstance(store, DocumentStore)


async def test_absent_document_is_none(store: DocumentStore) -> None:
    assert await store.get_document(state_key()) is None


async def test_create_then_get_returns_bytes_exactly(store: DocumentStore) -> None:
    content = b"\x00\xff binary \xe9 not utf-8 \r\n"
    created = doc(state_key(), content, ctype="application/octet-stream; x=1")
    assert await store.write_document(created, replacing=None)
    assert await store.get_document(state_key()) == created


async def test_create_only_if_absent(store: DocumentStore) -> None:
    first = doc(state_key(), b'{"first":1}')
    assert await store.write_document(first, replacing=None)
    assert not await store.write_document(doc(state_key(), b'{"second":1}'), replacing=None)
    assert await store.get_document(state_key()) == first


async def test_replace_only_if_etag_matches(store: DocumentStore) -> None:
    first = doc(state_key(), b'{"v":1}')
    await store.write_document(first, replacing=None)
    second = doc(state_key(), b'{"v":2}', updated=1)
    assert not await store.write_document(second, replacing="0" * 40)
    assert await store.get_document(state_key()) == first
    assert await store.write_document(second, replacing=first.etag)
    assert await store.get_document(state_key()) == second


async def test_replace_of_absent_document_is_refused(store: DocumentStore) -> None:
    assert not await store.write_document(doc(state_key()), replacing="0" * 40)
    assert await store.get_document(state_key()) is None


async def test_delete(store: DocumentStore) -> None:
    await store.write_document(doc(state_key()), replacing=None)
    assert await store.delete_document(state_key())
    assert await store.get_document(state_key()) is None
    assert not await store.delete_document(state_key())


async def test_conditional_delete(store: DocumentStore) -> None:
    current = doc(state_key())
    await store.write_document(current, replacing=None)
    assert not await store.delete_document(state_key(), etag="0" * 40)
    assert await store.get_document(state_key()) == current
    assert await store.delete_document(state_key(), etag=current.etag)
    assert await store.get_document(state_key()) is None


async def test_keys_are_distinct_in_every_part(store: DocumentStore) -> None:
    keys = [
        DocumentKey(STATE, ACTIVITY, AGENT, "", "id"),
        DocumentKey(STATE, ACTIVITY, AGENT, REG1, "id"),
        DocumentKey(STATE, ACTIVITY + "x", AGENT, "", "id"),
        DocumentKey(STATE, ACTIVITY, AGENT + "x", "", "id"),
        DocumentKey(ACTIVITY_PROFILE, ACTIVITY, "", "", "id"),
        DocumentKey(AGENT_PROFILE, "", AGENT, "", "id"),
        DocumentKey(STATE, ACTIVITY, AGENT, "", "id.$x"),
    ]
    for n, key in enumerate(keys):
        assert await store.write_document(doc(key, orjson.dumps({"n": n})), replacing=None)
    for n, key in enumerate(keys):
        found = await store.get_document(key)
        assert found is not None and orjson.loads(found.content) == {"n": n}


async def test_list_scope_sorted_with_last_updated(store: DocumentStore) -> None:
    for n, doc_id in enumerate(["b", "a", "c"]):
        await store.write_document(doc(state_key(doc_id), updated=n), replacing=None)
    await store.write_document(doc(state_key("z", agent="other")), replacing=None)
    await store.write_document(
        doc(DocumentKey(ACTIVITY_PROFILE, ACTIVITY, "", "", "p"), updated=99), replacing=None
    )
    found = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT), None)
    assert list(found.ids) == ["a", "b", "c"]
    assert found.last_updated_us == T0 + 2


async def test_list_empty_scope(store: DocumentStore) -> None:
    found = await store.list_documents(DocumentScope(AGENT_PROFILE, "", AGENT), None)
    assert list(found.ids) == []
    assert found.last_updated_us is None


async def test_list_since_is_exclusive(store: DocumentStore) -> None:
    for n in range(3):
        await store.write_document(doc(state_key(f"s{n}"), updated=n * 10), replacing=None)
    found = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT), T0 + 10)
    assert list(found.ids) == ["s2"]
    found = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT), T0 + 9)
    assert list(found.ids) == ["s1", "s2"]


async def test_list_since_sees_updates(store: DocumentStore) -> None:
    first = doc(state_key("s"), b"{}", updated=0)
    await store.write_document(first, replacing=None)
    await store.write_document(doc(state_key("s"), b'{"x":1}', updated=50), replacing=first.etag)
    found = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT), T0 + 10)
    assert list(found.ids) == ["s"]


async def test_list_registrations(store: DocumentStore) -> None:
    await store.write_document(doc(state_key("x", REG1)), replacing=None)
    await store.write_document(doc(state_key("x", REG2)), replacing=None)
    await store.write_document(doc(state_key("y", REG2)), replacing=None)
    await store.write_document(doc(state_key("n")), replacing=None)
    every = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT), None)
    assert list(every.ids) == ["n", "x", "y"]  # an id shared by registrations listed once
    one = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT, REG2), None)
    assert list(one.ids) == ["x", "y"]
    unregistered = await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT, ""), None)
    assert list(unregistered.ids) == ["n"]


async def test_delete_scope(store: DocumentStore) -> None:
    await store.write_document(doc(state_key("x", REG1)), replacing=None)
    await store.write_document(doc(state_key("y", REG2)), replacing=None)
    await store.write_document(doc(state_key("z")), replacing=None)
    other = state_key("o", agent="other")
    await store.write_document(doc(other), replacing=None)
    profile = DocumentKey(ACTIVITY_PROFILE, ACTIVITY, "", "", "x")
    await store.write_document(doc(profile), replacing=None)

    assert await store.delete_documents(DocumentScope(STATE, ACTIVITY, AGENT, REG1)) == 1
    assert await store.get_document(state_key("y", REG2)) is not None
    assert await store.delete_documents(DocumentScope(STATE, ACTIVITY, AGENT)) == 2
    assert list((await store.list_documents(DocumentScope(STATE, ACTIVITY, AGENT), None)).ids) == []
    assert await store.get_document(other) is not None
    assert await store.get_document(profile) is not None


async def test_concurrent_creates_one_wins(store: DocumentStore) -> None:
    attempts = [doc(state_key(), orjson.dumps({"n": n})) for n in range(20)]
    results = await asyncio.gather(*(store.write_document(d, replacing=None) for d in attempts))
    assert results.count(True) == 1
    winner = attempts[results.index(True)]
    assert await store.get_document(state_key()) == winner


async def test_concurrent_replaces_of_one_version_one_wins(store: DocumentStore) -> None:
    base = doc(state_key(), b"{}")
    await store.write_document(base, replacing=None)
    attempts = [doc(state_key(), orjson.dumps({"n": n}), updated=1) for n in range(20)]
    results = await asyncio.gather(
        *(store.write_document(d, replacing=base.etag) for d in attempts)
    )
    assert results.count(True) == 1
    assert await store.get_document(state_key()) == attempts[results.index(True)]


async def test_concurrent_merges_lose_no_update(store: DocumentStore) -> None:
    """Through the service: many POSTs at once each add a property; all of them survive."""
    from lrs.services.documents import DocumentService

    service = DocumentService(store, attempts=100)
    key = state_key()

    async def post(n: int) -> None:
        body = orjson.dumps({f"k{n}": n})
        await service.post_document(key, body, "application/json", pre=Preconditions(), version="")

    await asyncio.gather(*(post(n) for n in range(25)))
    final = await store.get_document(key)
    assert final is not None
    assert orjson.loads(final.content) == {f"k{n}": n for n in range(25)}


async def test_delete_agent_documents_takes_states_and_profiles_of_those_agents(
    store: DocumentStore,
) -> None:
    other = "mbox:mailto:bob@example.com"
    profile = DocumentKey(AGENT_PROFILE, "", AGENT, "", "p")
    kept = [state_key(agent=other), DocumentKey(ACTIVITY_PROFILE, ACTIVITY, "", "", "a")]
    for key in [state_key(), state_key("s2", REG1), profile, *kept]:
        assert await store.write_document(doc(key), replacing=None)
    assert await store.delete_agent_documents([AGENT, "openid:http://nobody"]) == 3
    assert await store.get_document(state_key()) is None
    assert await store.get_document(profile) is None
    for key in kept:
        assert await store.get_document(key) is not None
    assert await store.delete_agent_documents([AGENT]) == 0
