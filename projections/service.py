"""The projection wired on one backend (the one factory), and what its API reads.

`open_projection` builds everything from the opened core backend and the settings; the HTTP
setup and every CLI command use it, so they all run the same code on the same stores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from lrs.services.erasure import erased_home_page
from lrs.settings import Settings, public_base_url
from lrs.store.base import Backend, StatementStore
from projections.aggregates import summarize
from projections.audit import AuditLog
from projections.delivery_metrics import DeliveryOutcomes
from projections.erasure import ErasureService, gone_holders
from projections.errors import MemberNotFound
from projections.facts import Projector
from projections.hris_service import HrisEventService
from projections.hris_sources import HrisSources
from projections.identity_merge import MergeService
from projections.identity_ops import IdentityService
from projections.keyring import Keyring, load_keyring
from projections.mapping_process import StatementMapper
from projections.oauth_apps import OAuthApps
from projections.oauth_grants import DelegatedOAuth
from projections.provisioning import Provisioner
from projections.pseudonyms import Disclosure, Pseudonyms, parse_pseudonym, reveal_candidates
from projections.ratelimit import FailedAttempts, RateLimiter
from projections.reconcile import Reconciler
from projections.reconcile_runs import ReconcileRuns
from projections.retention import Retention
from projections.settings import ProjectionSettings
from projections.store import ProjectionStores, open_stores
from projections.store.base import Member, StoredRecord
from projections.tokens import TokenService
from projections.transforms import format_datetime
from projections.webhook_targets import TargetPolicy
from projections.webhooks import WebhookService
from projections.worker import ProjectionWorker


@dataclass
class Projection:
    """Every part of the marketplace projection on one backend."""

    settings: ProjectionSettings
    statements: StatementStore
    stores: ProjectionStores
    projector: Projector
    keyring: Keyring
    worker: ProjectionWorker
    reconciler: Reconciler
    tokens: TokenService
    apps: OAuthApps
    grants: DelegatedOAuth
    audit: AuditLog
    webhooks: WebhookService
    limiter: RateLimiter
    failed_logins: FailedAttempts
    retention: Retention
    disclosure: Disclosure
    identities: IdentityService
    hris: HrisEventService
    merges: MergeService
    erasure: ErasureService
    reconcile_runs: ReconcileRuns

    async def member_learning(self, member_id: str) -> list[StoredRecord]:
        """A member's records; MemberNotFound when the LRS knows nothing of the member."""
        records = await self.stores.aggregates.member_records(member_id)
        if not records and await self.stores.identities.get_member(member_id) is None:
            raise MemberNotFound(f"no member {member_id}", member_id=member_id)
        return records

    async def known_member(self, member_id: str) -> Member:
        """The identity map's member, else MemberNotFound: a write never invents a member."""
        member = await self.stores.identities.get_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id} in the identity map", member_id=member_id)
        return member

    async def member_summary(self, member_id: str) -> dict[str, Any]:
        """A member's roll-up, with their emails from the identity map (none when the member
        is pseudonymous: the summary then names them by pseudonym)."""
        records = await self.member_learning(member_id)
        member = await self.stores.identities.get_member(member_id)
        public = await self.public_id(member_id)
        summary = summarize(public, [r.record for r in records if r.record is not None])
        summary["emails"] = list(member.emails) if member and public == member_id else []
        summary["employment_status"] = member.employment_status if member else None
        return summary

    async def public_id(self, member_id: str) -> str:
        """The id the marketplace sees for the member (a pseudonym, by worker type)."""
        return (await self.disclosure.public_ids([member_id]))[member_id]

    async def member_behind(self, public_id: str) -> str:
        """The member a marketplace request names by its public id, else MemberNotFound.

        A pseudonymous member is named by its current pseudonym only: their HRIS id (which
        would link the two) and their pseudonyms of older key versions are unknown ids here.
        Finding the member behind a pseudonym recomputes over the identity map's members and
        the members with records (`Pseudonyms.reveal`): its cost grows with them, and only
        requests naming a pseudonym pay it.
        """
        member_id = public_id
        if parse_pseudonym(public_id) is not None:
            candidates = reveal_candidates(self.stores.identities, self.stores.aggregates)
            member_id = await self.disclosure.pseudonyms.reveal(public_id, candidates) or ""
        if not member_id or await self.public_id(member_id) != public_id:
            raise MemberNotFound(f"no member {public_id}", member_id=public_id)
        return member_id

    async def status(self) -> dict[str, Any]:
        """Projection lag, webhook backlog and the open data-quality items (the status endpoint
        and the metrics)."""
        progress = await self.stores.work.progress()
        newest = await self.statements.last_stored_us()
        awaiting = await self.statements.count_awaiting_projection()
        applied = progress.last_applied_stored_us
        lag_s: float | None = 0.0  # how far behind the newest statement projection is
        if awaiting and newest is not None:
            lag_s = max(0.0, (newest - applied) / 1e6) if applied is not None else None
        counts = await self.stores.deliveries.delivery_counts()
        quality = await self.stores.quality.reason_counts()
        return {
            "statements_awaiting_projection": awaiting,
            "statements_unmatched": await self.stores.facts.count_unmatched(),
            "statements_applied": progress.applied,
            "newest_applied_stored_at": format_datetime(applied) if applied else None,
            "newest_stored_at": format_datetime(newest) if newest else None,
            "lag_seconds": None if lag_s is None else round(lag_s, 3),
            "webhook_events_unfanned": counts.unfanned_events,
            "webhook_deliveries_pending": counts.pending,
            "webhook_deliveries_delivered": counts.delivered,
            "webhook_dead_letters": counts.dead,
            "quality_items_open": sum(quality.values()),
            "quality_items_open_by_reason": quality,
            "mapping_version": self.projector.mapping.version,
            "checked_at": format_datetime(time.time_ns() // 1000),
        }


async def open_projection(
    backend: Backend,
    settings: Settings,
    projection_settings: ProjectionSettings,
    *,
    projector: Projector | None = None,
) -> Projection:
    """Wire the projection on an opened backend (creating its tables or indexes)."""
    stores = await open_stores(backend)
    audit = AuditLog(stores.audit)
    await audit.adopt_legacy()  # the unchained log of earlier versions, once
    await audit.protect_earlier(partial(gone_holders, stores.identities))  # idem
    projector = projector or Projector.from_settings(projection_settings)
    keyring = load_keyring(projection_settings.master_key, settings.data_dir)
    disclosure = Disclosure(
        Pseudonyms(keyring, stores.pseudonym_keys),
        stores.identities,
        projection_settings.pseudonymous_worker_types,
    )
    worker = ProjectionWorker(
        backend.statements,
        stores,
        projector,
        batch=projection_settings.worker_batch,
        lease_s=projection_settings.worker_lease_s,
        disclosure=disclosure,
        mapper=StatementMapper(projector, processes=projection_settings.worker_mapping_processes),
        provisioner=Provisioner(
            stores.identities, never=[erased_home_page(settings)], counters=stores.counters
        )
        if projection_settings.unknown_learners == "provision"
        else None,
    )
    identities = IdentityService(stores, worker, audit)
    erasure = ErasureService(
        backend,
        stores,
        worker,
        audit,
        disclosure,
        policy=settings.erasure_statements,
        home_page=erased_home_page(settings),
        hris_home_page=projection_settings.hris_home_page,
    )
    hris = HrisEventService(
        stores,
        HrisSources(stores.hris, keyring, audit),
        identities,
        audit,
        projection_settings.domain_aliases,
        erasure=erasure,
    )
    reconciler = Reconciler(backend.statements, stores, projector, worker)
    tokens = TokenService(
        stores.access,
        keyring,
        audit=audit,
        issuer=public_base_url(settings) + "/marketplace",
        ttl_s=projection_settings.token_ttl_s,
        grants=stores.oauth,
    )
    grants = DelegatedOAuth(stores.oauth, tokens, audit)
    return Projection(
        settings=projection_settings,
        statements=backend.statements,
        stores=stores,
        projector=projector,
        keyring=keyring,
        worker=worker,
        reconciler=reconciler,
        tokens=tokens,
        apps=OAuthApps(stores.oauth, audit, grants=grants),
        grants=grants,
        audit=audit,
        webhooks=WebhookService(
            stores.deliveries,
            stores.aggregates,
            keyring,
            max_attempts=projection_settings.webhook_max_attempts,
            timeout_s=projection_settings.webhook_timeout_s,
            concurrency=projection_settings.webhook_concurrency,
            targets=TargetPolicy(allow_internal=projection_settings.webhook_allow_internal),
            outcomes=DeliveryOutcomes(stores.counters),
        ),
        limiter=RateLimiter(),
        failed_logins=FailedAttempts(),
        retention=Retention(
            stores,
            projector.retention,
            worker.reapply,
            projector.clock,
            audit,
            pseudonymise=erasure.pseudonymise_statements,
        ),
        disclosure=disclosure,
        identities=identities,
        hris=hris,
        merges=MergeService(stores, worker, audit),
        erasure=erasure,
        reconcile_runs=ReconcileRuns(reconciler, stores.reconcile_runs, projector.clock),
    )
