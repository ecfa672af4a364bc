"""The console's stores on an opened core backend: SQLite or MongoDB, as the backend is."""

from __future__ import annotations

from dataclasses import dataclass

from console.store.base import OperatorStore, SessionStore
from console.store.mongo import MongoOperatorStore, MongoSessionStore
from console.store.sqlite import SQLiteOperatorStore, SQLiteSessionStore
from lrs.store.base import Backend
from lrs.store.engine import open_store


@dataclass(frozen=True)
class ConsoleStores:
    """Every store the console owns."""

    operators: OperatorStore
    sessions: SessionStore


async def open_console_stores(backend: Backend) -> ConsoleStores:
    """Build the stores on the backend's database, creating tables or indexes (idempotent)."""
    operators: OperatorStore = await open_store(
        backend, sqlite=SQLiteOperatorStore, mongo=MongoOperatorStore
    )
    sessions: SessionStore = await open_store(
        backend, sqlite=SQLiteSessionStore, mongo=MongoSessionStore
    )
    return ConsoleStores(operators=operators, sessions=sessions)
