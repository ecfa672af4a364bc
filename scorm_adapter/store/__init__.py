"""Storage of the SCORM endpoint's per-attempt state: a Protocol and one implementation per backend.

`open_attempt_store(backend)` opens the store for the backend the LRS opened (SQLite or
MongoDB); only `sqlite.py` and `mongo.py` know which database they talk to.
"""

from __future__ import annotations

from lrs.store.base import Backend
from lrs.store.engine import open_store
from scorm_adapter.store.base import AttemptRecord, AttemptStore
from scorm_adapter.store.mongo import MongoAttemptStore
from scorm_adapter.store.sqlite import SQLiteAttemptStore

__all__ = ["AttemptRecord", "AttemptStore", "open_attempt_store"]


async def open_attempt_store(backend: Backend) -> AttemptStore:
    """The attempt store on `backend`'s database, its table created."""
    store: AttemptStore = await open_store(
        backend, sqlite=SQLiteAttemptStore, mongo=MongoAttemptStore
    )
    return store
