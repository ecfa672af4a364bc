"""Receiving HRIS events: authenticate, read, apply in effective order, answer (idempotent).

`HrisEventService.receive(source, signature, body)`:
1. the source must exist, not be revoked, and have signed the body within the replay window,
   with a signature not seen before (`HrisSources.authenticate`);
2. the body is read all or nothing (`hris_events.read_events`);
3. events received before (same source and event id) are answered with their saved result
   and applied again never (a repeat); one received before with another body refuses the
   whole request (`EventIdReused`) before anything is applied;
4. the new events are applied oldest `effective_at` first, in rounds of at most one event
   per member (`rounds`), each round as one delta import through `IdentityService` (`plan`
   then `apply`): the member's stored `effective_at` is the time of the state applied, and
   an event older than it is not applied but saved as `superseded` (an equal time applies:
   the later arrival wins); `erase` erases the member (`projections.erasure`, after the
   round's other events: `applied` with the counts; `unchanged` for a member the identity
   map does not hold); `conflicts` counts the conflicts the round made that the
   event's member is party to;
5. each round's results are saved after it is applied (a crash in between re-applies it on a
   repeat, which plans nothing new: `unchanged`) and audited as `hris.event`, named by the
   event id (the employee id is in the saved result, erased with them; an applied erase's
   result names nobody).

Requests are applied one at a time within a process (a lock). Two processes applying events
for one member at the same moment race as two identity imports would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from projections.audit import AuditLog
from projections.erasure import ErasureService
from projections.errors import MemberNotFound
from projections.hris_errors import EventIdReused
from projections.hris_events import HrisEvent, read_events
from projections.hris_sources import HrisSources
from projections.identity_ops import IdentityService
from projections.store import ProjectionStores
from projections.store.hris import HrisEventRecord, HrisSource
from projections.transforms import format_datetime
from projections.worker import wall_clock_us

APPLIED, UNCHANGED, SUPERSEDED = "applied", "unchanged", "superseded"


@dataclass(frozen=True)
class Received:
    """The results of a request, in the order of its events; `batch`: the body was an array."""

    results: list[dict[str, Any]]
    batch: bool

    @property
    def status(self) -> int:
        """200: every event is done (or known as not to be) when the answer goes."""
        return 200

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
        erasure: ErasureService | None = None,
        clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self._stores = stores
        self._erasure = erasure
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
            results = await self._apply_all(source, new)
        return Received(
            [
                {**saved[e.event_id].result, "repeat": True}
                if e.event_id in saved
                else {**results[e.event_id], "repeat": False}
                for e in events
            ],
            batch,
        )

    async def _apply_all(
        self, source: HrisSource, events: list[HrisEvent]
    ) -> dict[str, dict[str, Any]]:
        """Apply new events round by round (`rounds`); their saved results, by event id."""
        results: dict[str, dict[str, Any]] = {}
        for round_ in rounds(events):
            outcomes = await self._outcomes(round_, actor=f"hris:{source.name}")
            received_at = format_datetime(self._clock())
            records = [
                HrisEventRecord(
                    source.name,
                    e.event_id,
                    e.digest,
                    received_at,
                    _result(e, received_at, outcomes[e.event_id]),
                )
                for e in round_
            ]
            saved = await asyncio.gather(*(self._stores.hris.save_event(r) for r in records))
            await asyncio.gather(*(self._audit_event(source, r.result) for r in records))
            results.update({r.event_id: r.result for r in saved})
        return results

    async def _audit_event(self, source: HrisSource, result: dict[str, Any]) -> None:
        """The entry names the event, not the employee: the saved result links the two
        (and is erased with them); the identity changes are audited by the import."""
        details = {k: result[k] for k in ("event_id", "type", "status", "effective_at")}
        await self._audit.append(
            "hris.event", actor=f"hris:{source.name}", subject=result["event_id"], details=details
        )

    async def _outcomes(self, events: list[HrisEvent], *, actor: str) -> dict[str, dict[str, Any]]:
        """Apply events of distinct members as one delta import: each one's status, and what
        the status needs said."""
        found = await self._changes([e for e in events if e.type != "erase"], actor=actor)
        for event in (e for e in events if e.type == "erase"):
            found[event.event_id] = await self._erase(event.member_id, actor=actor)
        return found

    async def _erase(self, member_id: str, *, actor: str) -> dict[str, Any]:
        """An erase event's outcome: the erasure's counts, or unchanged (no such member)."""
        if self._erasure is None:
            raise RuntimeError("this HRIS event service was built without an erasure service")
        try:
            done = await self._erasure.erase(member_id, actor=actor)
        except MemberNotFound:
            return {"status": UNCHANGED}
        counts = {k: v for k, v in done.to_json().items() if k != "erasure_id"}
        return {"status": APPLIED, "erasure": counts}

    async def _changes(self, applying: list[HrisEvent], *, actor: str) -> dict[str, dict[str, Any]]:
        """The outcomes of the round's events other than erasures (one delta import)."""
        found: dict[str, dict[str, Any]] = {}
        if not applying:
            return found
        rows = [e.row for e in applying]
        plan = await self._identities.plan(rows, full=False, present=set(), max_share=1.0)
        stale = set(plan.stale)
        current = await self._stores.identities.get_members(sorted(stale)) if stale else {}
        if plan.change_count:
            await self._identities.apply(plan, actor=actor)
        written = {m.member_id for m in plan.members} | {c.member_id for c in plan.claims}
        for event in applying:
            member = event.member_id
            if member in stale:
                when = current[member].effective_at if member in current else None
                found[event.event_id] = {"status": SUPERSEDED, "current_effective_at": when}
            elif member in written:
                conflicts = sum(1 for c in plan.conflicts if member in c.claimants)
                found[event.event_id] = {"status": APPLIED, "conflicts": conflicts}
            else:
                found[event.event_id] = {"status": UNCHANGED}
        return found


def rounds(events: list[HrisEvent]) -> list[list[HrisEvent]]:
    """The events (in effective order) in rounds holding at most one event per member: a
    member's n-th event is in round n, so each member's events apply in order, and one round
    is one delta import."""
    found: list[list[HrisEvent]] = []
    depth: dict[str, int] = {}
    for event in events:
        n = depth.get(event.member_id, -1) + 1
        depth[event.member_id] = n
        if n == len(found):
            found.append([])
        found[n].append(event)
    return found


def _result(event: HrisEvent, received_at: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """The saved (and answered) result; an applied erase names the employee no more: it is
    saved after the erasure cut the id out of the member's earlier results."""
    erased = event.type == "erase" and outcome.get("status") == APPLIED
    return {
        "event_id": event.event_id,
        "type": event.type,
        "employee_id": None if erased else event.member_id,
        **({"erased": True} if erased else {}),
        "effective_at": event.effective_at,
        "received_at": received_at,
        **outcome,
    }


def _order(event: HrisEvent) -> tuple[str, int]:
    return (event.effective_at, event.index)
