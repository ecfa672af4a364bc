"""`open_store`: a package's store is two classes and one call, on whichever engine is open."""

from __future__ import annotations

from typing import Protocol

import pytest

from lrs.errors import StoreError, StoreUnavailable
from lrs.store.base import Backend
from lrs.store.engine import open_store
from lrs.store.engine.mongo import MongoDatabase, translate_errors, translates_errors
from lrs.store.engine.sqlite import SQLiteDatabase
from lrs.store.mongo import MongoBackend
from lrs.store.sqlite import SQLiteBackend


class NoteStore(Protocol):
    """A new package's store, as its services see it."""

    async def notes(self) -> list[str]: ...


class SQLiteNoteStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.engine = db
        db.ensure_schema("CREATE TABLE IF NOT EXISTS notes (text TEXT NOT NULL);")

    async def notes(self) -> list[str]:
        rows = await self.engine.read(
            lambda conn: conn.execute("SELECT text FROM notes").fetchall()
        )
        return [text for (text,) in rows]


class MongoNoteStore:
    def __init__(self, db: MongoDatabase) -> None:
        self.engine = db
        self.indexed = 0

    async def create_indexes(self) -> None:
        self.indexed += 1

    async def notes(self) -> list[str]:
        return [d["text"] for d in await self.engine["notes"].find({}).to_list(None)]


async def test_open_store_builds_the_class_of_the_configured_engine(backend: Backend) -> None:
    store: NoteStore = await open_store(backend, sqlite=SQLiteNoteStore, mongo=MongoNoteStore)
    if isinstance(backend, SQLiteBackend):
        assert type(store) is SQLiteNoteStore
    else:
        assert isinstance(backend, MongoBackend)
        assert type(store) is MongoNoteStore
        assert store.indexed == 1  # its indexes created once, before use
    assert store.engine is backend.engine  # type: ignore[attr-defined]
    assert await store.notes() == []  # the SQLite table was created as the store was built


async def test_backend_engines_are_typed_handles(backend: Backend) -> None:
    expected = SQLiteDatabase if isinstance(backend, SQLiteBackend) else MongoDatabase
    assert isinstance(backend.engine, expected)


def test_translate_errors_reports_outages_as_store_unavailable() -> None:
    from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

    with (
        pytest.raises(StoreUnavailable, match="the store could not read notes"),
        translate_errors("read notes"),
    ):
        raise ServerSelectionTimeoutError("no server")
    # a duplicate key the store did not expect is no outage: retrying fails the same way
    with (
        pytest.raises(StoreError, match="refused to add a note"),
        translate_errors("add a note"),
    ):
        raise DuplicateKeyError("E11000")
    # passed through to a store that handles it
    with pytest.raises(DuplicateKeyError), translate_errors("add a note", pass_duplicates=True):
        raise DuplicateKeyError("E11000")


async def test_translates_errors_guards_every_public_coroutine_method() -> None:
    from pymongo.errors import AutoReconnect

    @translates_errors
    class Failing:
        async def notes(self) -> list[str]:
            raise AutoReconnect("connection lost")

        async def _private(self) -> None:
            raise AutoReconnect("connection lost")

    with pytest.raises(StoreUnavailable, match="the store could not answer"):
        await Failing().notes()
    with pytest.raises(AutoReconnect):
        await Failing()._private()
