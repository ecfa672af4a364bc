"""Receiving HRIS events: authenticate, read, apply in effective order, answer (idempotent).

`HrisEventService.receive(source, signature, body)`:
1. the source must exist, not be revoked, and have signed the body within the replay window,
   with a signature not seen before (`HrisSources.authenticate`);
2. the body is read all or nothing (`hris_events.read_events`);
3. events received before (same source and event id) are answered with their saved result
   and applied again never (a repeat); one received before with another body refuses the
   whole request (`EventIdReused`) before anything is applied;
4. the new events are applied oldest `effective_at` first, each as a one-row delta import
   through `IdentityService` (`plan` then `apply`): the member's stored `effective_at` is the
   time of the state applied, and an event older than it is not applied but saved as
   `superseded` (an equal time applies: the later arrival wins); `erase` is saved as
   `queued_not_implemented` and applies nothing (erasure is not built yet);
5. each event's result is saved after it is applied (a crash in between re-applies it on a
   repeat, which plans nothing new: `unchanged`) and audited as `hris.event`.

Events are applied one at a time within a process (a lock). Two processes applying events
for one member at the same moment race as two identity imports would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from projections.audit import AuditLog
from projections.hris_errors import EventIdReused
from projections.hris_events import HrisEvent, read_events
from projections.hris_sources import HrisSources
from projections.identity_ops import IdentityService
from projections.store import ProjectionStores
from projections.store.hris import HrisEventRecord, HrisSource
from projections.transforms import format_datetime
from projections.worker import wall_clock_us

APPLIED, UNCHANGED, SUPERSEDED = "applied", "unchanged", "superseded"
ERASE_QUEUED = "queued_not_implemented"


@dataclass(frozen=True)
class Received:
    """The results of a request, in the order of its events; `batch`: the body was an array."""

    results: list[dict[str, Any]]
    batch: bool

    @property
    def status(self) -> int:
        """202 for a lone erase (recorded, not done), else 200."""
        lone = not self.batch and self.results[0]["status"] == ERASE_QUEUED
        return 202 if lone else 200

    def to_json(self) -> dict[str, Any]:
        """The response body: the event's result, or `{"results": [...]}` for an array."""
        return {"results": self.results} if self.batch else self.results[0]


class HrisEventService:
    """Receives signed HRIS events (see the module docstring)."""

    def __init__(
        self,
        stores: ProjectionStores,
        sources: HrisSources,
        identities: IdentityService,
        audit: AuditLog,
        aliases: Mapping[str, str],
        *,
        clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self._stores = stores
        self.sources = sources
        self._identities = identities
        self._audit = audit
        self._aliases = aliases
        self._clock = clock
        self._lock = asyncio.Lock()

    async def receive(
        self, source_name: str | None, signature: str | None, body: bytes
    ) -> Received:
        """Authenticate, read and apply a request's events (see the module docstring)."""
        source = await self.sources.authenticate(source_name, body, signature)
        events, batch = read_events(body, self._aliases)
        async with self._lock:
            saved = await self._stores.hris.get_events(source.name, [e.event_id for e in events])
            reused = [
                e.event_id
                for e in events
                if e.event_id in saved and saved[e.event_id].digest != e.digest
            ]
            if reused:
                raise EventIdReused(
                    "event ids received before with other content; none applied",
                    event_ids=reused,
                )
            new = sorted((e for e in events if e.event_id not in saved), key=_order)
            results = {e.event_id: await self._apply(source, e) for e in new}
        return Received(
            [
                {**saved[e.event_id].result, "repeat": True}
                if e.event_id in saved
                else {**results[e.event_id], "repeat": False}
                for e in events
            ],
            batch,
        )

    async def _apply(self, source: HrisSource, event: HrisEvent) -> dict[str, Any]:
        """Apply one new event; its saved result."""
        result = await self._outcome(event)
        result = {
            "event_id": event.event_id,
            "type": event.type,
            "employee_id": event.member_id,
            "effective_at": event.effective_at,
            "received_at": format_datetime(self._clock()),
            **result,
        }
        record = HrisEventRecord(
            source.name, event.event_id, event.digest, result["received_at"], result
        )
        saved = await self._stores.hris.save_event(record)
        details = {k: result[k] for k in ("event_id", "type", "status", "effective_at")}
        await self._audit.append(
            "hris.event", actor=f"hris:{source.name}", subject=event.member_id, details=details
        )
        return saved.result

    async def _outcome(self, event: HrisEvent) -> dict[str, Any]:
        """What applying the event did: its status, and what the status needs said."""
        if event.type == "erase":
            return {"status": ERASE_QUEUED}
        plan = await self._identities.plan([event.row], full=False, present=set(), max_share=1.0)
        if plan.stale:
            current = await self._stores.identities.get_member(event.member_id)
            return {
                "status": SUPERSEDED,
                "current_effective_at": current.effective_at if current else None,
            }
        if not plan.change_count:
            return {"status": UNCHANGED}
        await self._identities.apply(plan)
        return {"status": APPLIED, "conflicts": len(plan.conflicts)}


def _order(event: HrisEvent) -> tuple[str, int]:
    return (event.effective_at, event.index)
