"""The AttemptStore contract, asserted on every backend (SQLite, mongomock, and a real
MongoDB when LRS_TEST_MONGODB_URI is set), through the `backend` fixture of tests/conftest.py."""

from __future__ import annotations

import asyncio

from lrs.store.base import Backend
from scorm_adapter.store import AttemptRecord, AttemptStore, open_attempt_store


def record(revision: int, state: bytes = b'{"a":1}', attempt_id: str = "att-1") -> AttemptRecord:
    return AttemptRecord(attempt_id, revision, state, 1_700_000_000_000_000 + revision)


async def test_is_an_attempt_store(backend: Backend) -> None:
    assert isinstance(await open_attempt_store(backend), AttemptStore)


async def test_create_then_get(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    assert await store.get_attempt("att-1") is None
    assert await store.create_attempt(record(0)) is True
    assert await store.get_attempt("att-1") == record(0)


async def test_create_refuses_an_existing_id_and_writes_nothing(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    await store.create_attempt(record(0))
    assert await store.create_attempt(record(5, b'{"b":2}')) is False
    assert await store.get_attempt("att-1") == record(0)


async def test_replace_is_a_compare_and_set_on_the_revision(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    await store.create_attempt(record(0))
    assert await store.replace_attempt(record(1, b'{"a":2}'), expected_revision=0) is True
    assert await store.get_attempt("att-1") == record(1, b'{"a":2}')
    assert await store.replace_attempt(record(2, b'{"a":3}'), expected_revision=0) is False
    assert await store.get_attempt("att-1") == record(1, b'{"a":2}')


async def test_replace_of_a_missing_attempt_does_nothing(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    assert await store.replace_attempt(record(1), expected_revision=0) is False
    assert await store.get_attempt("att-1") is None


async def test_concurrent_replaces_only_one_wins(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    await store.create_attempt(record(0))
    outcomes = await asyncio.gather(
        *(
            store.replace_attempt(record(1, f'{{"w":{i}}}'.encode()), expected_revision=0)
            for i in range(10)
        )
    )
    assert outcomes.count(True) == 1
    stored = await store.get_attempt("att-1")
    assert stored is not None and stored.revision == 1


async def test_state_bytes_survive_untouched(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    raw = '{"cmi.core.lesson_status":"passed","$x":"\\u00e9\u00e9"}'.encode()
    await store.create_attempt(record(0, raw, attempt_id="a.b$c"))
    stored = await store.get_attempt("a.b$c")
    assert stored is not None and stored.state == raw


async def test_attempts_are_independent(backend: Backend) -> None:
    store = await open_attempt_store(backend)
    await store.create_attempt(record(0, attempt_id="one"))
    await store.create_attempt(record(0, attempt_id="two"))
    assert await store.replace_attempt(record(1, attempt_id="one"), expected_revision=0)
    two = await store.get_attempt("two")
    assert two is not None and two.revision == 0
