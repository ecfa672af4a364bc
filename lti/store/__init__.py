"""LTI storage: the Protocols in `base`, one class per Protocol and backend, and the factory."""

from __future__ import annotations

from dataclasses import dataclass

from lrs.store.base import Backend
from lrs.store.engine import open_store
from lti.store.base import (
    GradebookStore,
    OutcomeStore,
    PlatformKeyStore,
    RegistrationStore,
    ReplayStore,
)
from lti.store.mongo import MongoPlatformKeyStore, MongoRegistrationStore, MongoReplayStore
from lti.store.mongo_gradebook import MongoGradebookStore
from lti.store.mongo_outcomes import MongoOutcomeStore
from lti.store.sqlite import SQLitePlatformKeyStore, SQLiteRegistrationStore, SQLiteReplayStore
from lti.store.sqlite_gradebook import SQLiteGradebookStore
from lti.store.sqlite_outcomes import SQLiteOutcomeStore


@dataclass(frozen=True)
class LTIStores:
    """Every store the LTI services use, on one database: each service is given its own."""

    platform_keys: PlatformKeyStore
    registrations: RegistrationStore
    replays: ReplayStore
    gradebook: GradebookStore
    outcomes: OutcomeStore


async def open_lti_stores(backend: Backend) -> LTIStores:
    """The LTI stores on the backend's database, their tables or indexes created."""
    platform_keys: PlatformKeyStore = await open_store(
        backend, sqlite=SQLitePlatformKeyStore, mongo=MongoPlatformKeyStore
    )
    registrations: RegistrationStore = await open_store(
        backend, sqlite=SQLiteRegistrationStore, mongo=MongoRegistrationStore
    )
    replays: ReplayStore = await open_store(
        backend, sqlite=SQLiteReplayStore, mongo=MongoReplayStore
    )
    gradebook: GradebookStore = await open_store(
        backend, sqlite=SQLiteGradebookStore, mongo=MongoGradebookStore
    )
    outcomes: OutcomeStore = await open_store(
        backend, sqlite=SQLiteOutcomeStore, mongo=MongoOutcomeStore
    )
    return LTIStores(platform_keys, registrations, replays, gradebook, outcomes)
