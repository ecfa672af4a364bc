"""The projection's stores on an opened core backend: SQLite or MongoDB, as the backend is."""

from __future__ import annotations

from dataclasses import dataclass

from lrs.importing.history import open_import_runs
from lrs.store.base import Backend
from lrs.store.engine import open_store
from lrs.store.import_runs import ImportRunStore
from projections.store.audit import AuditStore
from projections.store.base import (
    AccessStore,
    AggregateStore,
    DeliveryStore,
    FactStore,
    IdentityStore,
    PseudonymKeyStore,
    WorkStore,
)
from projections.store.counters import CounterStore
from projections.store.hris import HrisStore
from projections.store.mongo import MongoAggregateStore, MongoFactStore, MongoWorkStore
from projections.store.mongo_access import MongoAccessStore
from projections.store.mongo_audit import MongoAuditStore
from projections.store.mongo_counters import MongoCounterStore
from projections.store.mongo_delivery import MongoDeliveryStore
from projections.store.mongo_hris import MongoHrisStore
from projections.store.mongo_identity import MongoIdentityStore
from projections.store.mongo_oauth import MongoOAuthStore
from projections.store.mongo_pseudonym import MongoPseudonymKeyStore
from projections.store.mongo_quality import MongoQualityStore
from projections.store.mongo_reconcile_runs import MongoReconcileRunStore
from projections.store.oauth import OAuthStore
from projections.store.quality import QualityStore
from projections.store.reconcile_runs import ReconcileRunStore
from projections.store.sqlite import SQLiteAggregateStore, SQLiteFactStore, SQLiteWorkStore
from projections.store.sqlite_access import SQLiteAccessStore
from projections.store.sqlite_audit import SQLiteAuditStore
from projections.store.sqlite_counters import SQLiteCounterStore
from projections.store.sqlite_delivery import SQLiteDeliveryStore
from projections.store.sqlite_hris import SQLiteHrisStore
from projections.store.sqlite_identity import SQLiteIdentityStore
from projections.store.sqlite_oauth import SQLiteOAuthStore
from projections.store.sqlite_pseudonym import SQLitePseudonymKeyStore
from projections.store.sqlite_quality import SQLiteQualityStore
from projections.store.sqlite_reconcile_runs import SQLiteReconcileRunStore


@dataclass(frozen=True)
class ProjectionStores:
    """Every store the projection uses, on one database."""

    facts: FactStore
    work: WorkStore
    aggregates: AggregateStore
    identities: IdentityStore
    deliveries: DeliveryStore
    access: AccessStore
    audit: AuditStore
    pseudonym_keys: PseudonymKeyStore
    hris: HrisStore
    reconcile_runs: ReconcileRunStore
    counters: CounterStore
    quality: QualityStore
    import_runs: ImportRunStore  # the LRS's import history (`lrs.importing.history`)
    oauth: OAuthStore


async def open_stores(backend: Backend) -> ProjectionStores:
    """Build the stores on the backend's database, creating tables or indexes (idempotent)."""
    facts: FactStore = await open_store(backend, sqlite=SQLiteFactStore, mongo=MongoFactStore)
    work: WorkStore = await open_store(backend, sqlite=SQLiteWorkStore, mongo=MongoWorkStore)
    aggregates: AggregateStore = await open_store(
        backend, sqlite=SQLiteAggregateStore, mongo=MongoAggregateStore
    )
    identities: IdentityStore = await open_store(
        backend, sqlite=SQLiteIdentityStore, mongo=MongoIdentityStore
    )
    deliveries: DeliveryStore = await open_store(
        backend, sqlite=SQLiteDeliveryStore, mongo=MongoDeliveryStore
    )
    access: AccessStore = await open_store(
        backend, sqlite=SQLiteAccessStore, mongo=MongoAccessStore
    )
    pseudonym_keys: PseudonymKeyStore = await open_store(
        backend, sqlite=SQLitePseudonymKeyStore, mongo=MongoPseudonymKeyStore
    )
    audit: AuditStore = await open_store(backend, sqlite=SQLiteAuditStore, mongo=MongoAuditStore)
    hris: HrisStore = await open_store(backend, sqlite=SQLiteHrisStore, mongo=MongoHrisStore)
    reconcile_runs: ReconcileRunStore = await open_store(
        backend, sqlite=SQLiteReconcileRunStore, mongo=MongoReconcileRunStore
    )
    counters: CounterStore = await open_store(
        backend, sqlite=SQLiteCounterStore, mongo=MongoCounterStore
    )
    quality: QualityStore = await open_store(
        backend, sqlite=SQLiteQualityStore, mongo=MongoQualityStore
    )
    import_runs = await open_import_runs(backend)
    oauth: OAuthStore = await open_store(backend, sqlite=SQLiteOAuthStore, mongo=MongoOAuthStore)
    return ProjectionStores(
        facts=facts,
        work=work,
        aggregates=aggregates,
        identities=identities,
        deliveries=deliveries,
        access=access,
        audit=audit,
        pseudonym_keys=pseudonym_keys,
        hris=hris,
        reconcile_runs=reconcile_runs,
        counters=counters,
        quality=quality,
        import_runs=import_runs,
        oauth=oauth,
    )
