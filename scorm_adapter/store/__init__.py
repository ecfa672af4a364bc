"""Storage of the SCORM endpoint's per-attempt state: a Protocol and one implementation per backend.

`attempt_store(backend)` builds the store for the backend the LRS opened (SQLite or MongoDB);
only `sqlite.py` and `mongo.py` know which database they talk to.
"""

from __future__ import annotations

from lrs.store.base import Backend
from scorm_adapter.store.base import AttemptRecord, AttemptStore

__all__ = ["AttemptRecord", "AttemptStore", "attempt_store"]


def attempt_store(backend: Backend) -> AttemptStore:
    """The attempt store on `backend`'s database, its table or indexes created."""
    if backend.kind == "sqlite":
        from scorm_adapter.store.sqlite import SQLiteAttemptStore

        return SQLiteAttemptStore(backend.db)
    if backend.kind == "mongodb":
        from scorm_adapter.store.mongo import MongoAttemptStore

        return MongoAttemptStore(backend.db)
    raise ValueError(f"no SCORM attempt store for a {backend.kind!r} backend")
