"""LTI storage: the Protocols in `base`, one implementation per backend, and the factory."""

from __future__ import annotations

from lrs.store.base import Backend
from lti.store.base import LTIStore


async def open_lti_store(backend: Backend) -> LTIStore:
    """The LTI store on the backend's database, its schema or indexes created."""
    if backend.kind == "sqlite":
        from lti.store.sqlite import SQLiteLTIStore

        return SQLiteLTIStore(backend.db)
    if backend.kind == "mongodb":
        from lti.store.mongo import MongoLTIStore

        store = MongoLTIStore(backend.db)
        await store.create_indexes()
        return store
    raise ValueError(f"no LTI store for a {backend.kind!r} backend")
