"""LTI storage: the Protocols in `base`, one implementation per backend, and the factory."""

from __future__ import annotations

from lrs.store.base import Backend
from lrs.store.engine import open_store
from lti.store.base import LTIStore
from lti.store.mongo import MongoLTIStore
from lti.store.sqlite import SQLiteLTIStore


async def open_lti_store(backend: Backend) -> LTIStore:
    """The LTI store on the backend's database, its schema or indexes created."""
    store: LTIStore = await open_store(backend, sqlite=SQLiteLTIStore, mongo=MongoLTIStore)
    return store
