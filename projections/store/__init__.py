"""The projection's stores on an opened core backend: SQLite or MongoDB, as the backend is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrs.store.base import Backend
from projections.store.base import (
    AccessStore,
    AggregateStore,
    DeliveryStore,
    FactStore,
    IdentityStore,
    WorkStore,
)


@dataclass(frozen=True)
class ProjectionStores:
    """Every store the projection uses, on one database."""

    facts: FactStore
    work: WorkStore
    aggregates: AggregateStore
    identities: IdentityStore
    deliveries: DeliveryStore
    access: AccessStore


async def open_stores(backend: Backend) -> ProjectionStores:
    """Build the stores on the backend's database, creating tables or indexes (idempotent)."""
    if backend.kind == "sqlite":
        return _sqlite(backend.db)
    if backend.kind == "mongodb":
        return await _mongo(backend.db)
    raise ValueError(f"no projection store for a {backend.kind} backend")


def _sqlite(db: Any) -> ProjectionStores:
    from projections.store import sqlite, sqlite_access, sqlite_delivery, sqlite_identity

    db.ensure_schema(sqlite.PROJECTION_SCHEMA)
    db.ensure_schema(sqlite_identity.IDENTITY_SCHEMA)
    db.ensure_schema(sqlite_delivery.DELIVERY_SCHEMA)
    db.ensure_schema(sqlite_access.ACCESS_SCHEMA)
    return ProjectionStores(
        facts=sqlite.SQLiteFactStore(db),
        work=sqlite.SQLiteWorkStore(db),
        aggregates=sqlite.SQLiteAggregateStore(db),
        identities=sqlite_identity.SQLiteIdentityStore(db),
        deliveries=sqlite_delivery.SQLiteDeliveryStore(db),
        access=sqlite_access.SQLiteAccessStore(db),
    )


async def _mongo(db: Any) -> ProjectionStores:
    from projections.store import mongo, mongo_access, mongo_delivery, mongo_identity

    facts = mongo.MongoFactStore(db)
    aggregates = mongo.MongoAggregateStore(db)
    identities = mongo_identity.MongoIdentityStore(db)
    deliveries = mongo_delivery.MongoDeliveryStore(db)
    access = mongo_access.MongoAccessStore(db)
    await facts.create_indexes()
    await aggregates.create_indexes()
    await identities.create_indexes()
    await deliveries.create_indexes()
    await access.create_indexes()
    return ProjectionStores(
        facts=facts,
        work=mongo.MongoWorkStore(db),
        aggregates=aggregates,
        identities=identities,
        deliveries=deliveries,
        access=access,
    )
