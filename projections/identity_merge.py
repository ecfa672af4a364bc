"""Merging one member into another, and undoing it, with an audit trail (issue 17 item 5).

A merge moves every claim of FROM (addresses, LMS accounts, ids merged into it earlier) to
INTO, adds the claim `hris:<FROM>` for INTO (statements by FROM's HRIS account resolve to INTO:
`projections.identity`), marks FROM `merged_into` INTO and re-projects: FROM's facts resolve to
INTO, so FROM's records become removals (`learning.removed`) and INTO's are recomputed with the
facts (`learning.*`). Facts keep their statement ids, so provenance stays in the records.

The audit entry `identities.merged` holds both members' claims and live record counts before
and after: what the identity map holds already, nothing more. `unmerge` reads FROM's claims
back from that entry's `before`. It is refused when a later `identities.merged` entry names
either member and has not been undone since (the audit log is scanned newest first down to
the merge's sequence number: `later_merge`): undoing an older merge under a newer one would
take claims from a member that no longer holds them; undo the newer one first. The state is
also checked (FROM still merged into INTO), so a merge already undone is refused too.

The identity map is written first, the entry last, in that order: a run cut short before the
entry is completed by `lrs reconcile --fix` for the records; its claims moved show in
`lrs identities` listings (no entry to undo from: merge back by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lrs.errors import BadRequest, Conflict, NotFound
from projections.audit import AuditLog
from projections.errors import MemberNotFound
from projections.identity import HRIS
from projections.store import ProjectionStores
from projections.store.audit import AuditRecord
from projections.store.base import Claim, Member
from projections.transforms import format_datetime
from projections.worker import ProjectionWorker, wall_clock_us

MERGED, UNMERGED = "identities.merged", "identities.unmerged"
_SCAN_PAGE = 200


class MergeRefused(Conflict):
    """A merge or undo that the identity map's state does not allow (409)."""

    code = "merge_refused"


@dataclass(frozen=True)
class MergeResult:
    """What a merge or an undo did: its audit entry and the facts re-projected."""

    entry: AuditRecord
    reprojected: int

    def to_json(self) -> dict[str, Any]:
        """The result as the CLI's --json and the admin API give it."""
        return {
            "audit_seq": self.entry.seq,
            "type": self.entry.type,
            "from": self.entry.details["from"],
            "into": self.entry.details["into"],
            "reason": self.entry.details.get("reason"),
            "statements_reprojected": self.reprojected,
            "before": self.entry.before,
            "after": self.entry.after,
        }


class MergeService:
    """Merges and their undo on one backend's stores (see the module docstring)."""

    def __init__(
        self,
        stores: ProjectionStores,
        worker: ProjectionWorker,
        audit: AuditLog,
        *,
        clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self._stores = stores
        self._worker = worker
        self._audit = audit
        self._clock = clock

    async def merge(
        self, from_id: str, into_id: str, reason: str, *, actor: str = "cli"
    ) -> MergeResult:
        """Merge `from_id` into `into_id`; nothing is written when refused."""
        if not reason.strip():
            raise BadRequest("a merge needs a reason", field="reason")
        if from_id == into_id:
            raise BadRequest(f"cannot merge {from_id} into itself", field="into")
        source, target = await self._member(from_id), await self._member(into_id)
        for member in (source, target):
            if member.merged_into is not None:
                raise MergeRefused(f"{member.member_id} is merged into {member.merged_into}")
        before = await self._snapshot(from_id, into_id)
        moved = await self._claims(from_id)
        held = {c.key for c in await self._claims(into_id)}
        given = [replace(c, member_id=into_id) for c in moved if c.key not in held]
        own = Claim(HRIS + from_id, into_id, valid_from=format_datetime(self._clock()))
        await self._stores.identities.put_claims([*given, own])
        await self._stores.identities.delete_claims([(c.key, from_id) for c in moved])
        await self._stores.identities.put_members([replace(source, merged_into=into_id)])
        n = await self._reproject(from_id, into_id, [c.key for c in moved])
        entry = await self._audit.append(
            MERGED,
            actor=actor,
            subject=from_id,
            details={"from": from_id, "into": into_id, "reason": reason, "reprojected": n},
            before=before,
            after=await self._snapshot(from_id, into_id),
        )
        return MergeResult(entry, n)

    async def unmerge(
        self, seq: int, reason: str | None = None, *, actor: str = "cli"
    ) -> MergeResult:
        """Undo the merge audited as entry `seq`: FROM gets its claims back from the entry."""
        merge = await self._audit.entry(seq)
        if merge is None or merge.type != MERGED or merge.before is None:
            raise NotFound(f"audit entry {seq} is not a merge", field="seq")
        from_id, into_id = merge.details["from"], merge.details["into"]
        source = await self._member(from_id)
        if source.merged_into != into_id:
            raise MergeRefused(f"{from_id} is not merged into {into_id} any more")
        later = await self.later_merge(seq, {from_id, into_id})
        if later is not None:
            raise MergeRefused(
                f"audit entry {later.seq} ({later.type}) touched {from_id} or {into_id} "
                f"after merge {seq}: undo that first"
            )
        before = await self._snapshot(from_id, into_id)
        back = [_claim(c, from_id) for c in merge.before["from"]["claims"]]
        kept = {c[0]: _claim(c, into_id) for c in merge.before["into"]["claims"]}
        taken = [(c.key, into_id) for c in back if c.key not in kept] + [(HRIS + from_id, into_id)]
        await self._stores.identities.put_claims(back)
        await self._stores.identities.delete_claims(taken)
        await self._stores.identities.put_claims([kept[c.key] for c in back if c.key in kept])
        await self._stores.identities.put_members([replace(source, merged_into=None)])
        n = await self._reproject(from_id, into_id, [c.key for c in back])
        details = {"from": from_id, "into": into_id, "merge_seq": seq, "reason": reason}
        entry = await self._audit.append(
            UNMERGED,
            actor=actor,
            subject=from_id,
            details={**details, "reprojected": n},
            before=before,
            after=await self._snapshot(from_id, into_id),
        )
        return MergeResult(entry, n)

    async def later_merge(self, seq: int, members: set[str]) -> AuditRecord | None:
        """The newest entry after `seq` naming one of `members` that blocks undoing merge
        `seq`: a merge not undone since, or an undo of a merge not newer than `seq`."""
        later = [
            entry
            for kind in (MERGED, UNMERGED)
            for entry in await self._entries_after(seq, kind)
            if members & {entry.details.get("from"), entry.details.get("into")}
        ]
        undone = {e.details.get("merge_seq") for e in later if e.type == UNMERGED}
        blocking = [
            e
            for e in later
            if (e.type == MERGED and e.seq not in undone)
            or (e.type == UNMERGED and e.details.get("merge_seq", 0) <= seq)
        ]
        return max(blocking, key=lambda e: e.seq, default=None)

    async def _entries_after(self, seq: int, kind: str) -> list[AuditRecord]:
        """The audit entries of `kind` after `seq`, read newest first a page at a time."""
        found: list[AuditRecord] = []
        below: int | None = None
        while True:
            page = await self._audit.entries(limit=_SCAN_PAGE, before_seq=below, type=kind)
            found += [e for e in page if e.seq > seq]
            if len(page) < _SCAN_PAGE or page[-1].seq <= seq:
                return found
            below = page[-1].seq

    async def _member(self, member_id: str) -> Member:
        member = await self._stores.identities.get_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id} in the identity map", member_id=member_id)
        return member

    async def _claims(self, member_id: str) -> list[Claim]:
        return (await self._stores.identities.member_claims([member_id])).get(member_id, [])

    async def _reproject(self, from_id: str, into_id: str, keys: Sequence[str]) -> int:
        """Resolve again the facts of the moved keys, of FROM's HRIS id and of both members'
        records (facts a run cut short left on the wrong member included)."""
        wanted = {*keys, HRIS + from_id}
        for member_id in (from_id, into_id):
            records = await self._stores.aggregates.member_records(member_id)
            facts = await self._stores.facts.facts_for_pairs(
                [(r.member_id, r.activity_id) for r in records]
            )
            wanted.update(f.actor_key for found in facts.values() for f in found)
        return await self._worker.reproject_identities(wanted, [into_id])

    async def _snapshot(self, from_id: str, into_id: str) -> dict[str, Any]:
        """Both members' claims and record counts (the audit entry's before / after)."""
        found: dict[str, Any] = {}
        for side, member_id in (("from", from_id), ("into", into_id)):
            claims = await self._claims(member_id)
            records = await self._stores.aggregates.member_records(member_id)
            found[side] = {
                "member": member_id,
                "claims": [[c.key, c.valid_from, c.valid_to] for c in claims],
                "records": len(records),
            }
        return found


def _claim(stored: Sequence[Any], member_id: str) -> Claim:
    """A claim from its audit form [key, valid_from, valid_to]."""
    return Claim(stored[0], member_id, stored[1], stored[2])
