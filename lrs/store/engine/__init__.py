"""The public storage engine every package builds its stores on.

One opened database per process, either
- `sqlite.SQLiteDatabase`: one SQLite file with its group-committing writer thread and pooled
  readers (bulk SQL helpers in `sqlite_bulk`), or
- `mongo.MongoDatabase`: the MongoDB database, with `mongo.translate_errors`, the one
  translation of driver errors for every MongoDB store.

`Backend.engine` is one of the two. A package's store is two classes, one per engine, each
taking the engine in `__init__` (a SQLite store creates its tables there), and one call:
`await open_store(backend, sqlite=SQLiteXStore, mongo=MongoXStore)`, which builds the class
of the configured engine and creates its indexes when it has any (`create_indexes()`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar, runtime_checkable

from lrs.store.engine.sqlite import SQLiteDatabase

if TYPE_CHECKING:  # pymongo is imported only where MongoDB is used
    from lrs.store.base import Backend
    from lrs.store.engine.mongo import MongoDatabase

Engine: TypeAlias = "SQLiteDatabase | MongoDatabase"
T = TypeVar("T")


@runtime_checkable
class Indexed(Protocol):
    """A store with indexes to create before use (idempotent)."""

    async def create_indexes(self) -> None:
        """Create every index the store's queries use."""
        ...


async def open_store(
    backend: Backend,
    *,
    sqlite: Callable[[SQLiteDatabase], T],
    mongo: Callable[[MongoDatabase], T],
) -> T:
    """The store built by `sqlite` or `mongo`, as `backend`'s engine is, its indexes created."""
    engine = backend.engine
    store = sqlite(engine) if isinstance(engine, SQLiteDatabase) else mongo(engine)
    if isinstance(store, Indexed):
        await store.create_indexes()
    return store
