"""Identity operations on the stores: the HRIS import, LMS account links, conflict resolution,
and what operators list (conflicts, unmatched statements).

Each operation writes through the IdentityStore, then re-projects what it changed at once
(`ProjectionWorker.reproject_identities`): held statements of a key that now has one member
project to it; a key that became a conflict is held. A run cut short is completed by running
it again, and the worker re-resolves held statements whenever the identity map moves; a key
that became a conflict in a run cut short is corrected by `lrs reconcile --fix`.

Every operation that changes the identity map writes an entry to the audit log
(`projections.audit`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lrs.errors import BadRequest
from projections.audit import AuditLog
from projections.errors import MemberNotFound, NotAConflict, TooManyTerminations
from projections.identity import ACCOUNT, EMAIL, HRIS, OTHER, account_key, split_account_key
from projections.identity_plan import (
    Plan,
    Stored,
    plan_import,
    plan_terminations,
    refolded,
    row_keys,
    status_transitions,
    termination_share,
)
from projections.identity_rows import IdentityRow
from projections.provisioning import absorb
from projections.store import ProjectionStores
from projections.store.base import Claim, Conflict
from projections.transforms import format_datetime, normalize_email
from projections.worker import ProjectionWorker, wall_clock_us

SHOWN_UNMATCHED = 100


@dataclass(frozen=True)
class UnmatchedReport:
    """Statements held for want of an identity, counted by the identity they wait on."""

    total: int
    by_kind: dict[str, int]
    accounts_by_home_page: list[dict[str, Any]]
    emails: list[dict[str, Any]]
    hris_ids: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The report as the CLI's --json and the admin API give it."""
        return {
            "statements_unmatched": self.total,
            "by_kind": self.by_kind,
            "accounts_by_home_page": self.accounts_by_home_page,
            "emails": self.emails,
            "hris_ids": self.hris_ids,
        }


@dataclass
class ImportResult:
    """A plan and what applying it did (`moved`: facts re-projected)."""

    plan: Plan
    applied: bool = False
    moved: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class IdentityService:
    """Identity operations on one backend's stores (see the module docstring)."""

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
        self._audit = audit  # every identity change leaves an entry: who, what, before/after
        self._clock = clock

    def now(self) -> str:
        """The time of an identity change, in the record form."""
        return format_datetime(self._clock())

    async def plan(
        self,
        rows: Sequence[IdentityRow],
        *,
        full: bool,
        present: set[str],
        max_share: float,
        force: bool = False,
    ) -> Plan:
        """What importing `rows` would do; TooManyTerminations when a full import would
        terminate more than `max_share` of the members (unless `force`)."""
        ids = self._stores.identities
        members = await ids.get_members([r.member_id for r in rows])
        keys = row_keys(rows, members)
        stored = Stored(
            members=members,
            member_claims=await ids.member_claims(list(members)),
            key_claims=await ids.claims_for(keys),
            resolutions=await ids.resolutions(keys),
        )
        plan = plan_import(rows, stored, self.now())
        if full:
            statuses = await ids.member_statuses()
            absent = sorted(set(statuses) - present)
            plan_terminations(plan, statuses, present, await ids.get_members(absent), self.now())
            share = termination_share(plan, statuses)
            if share > max_share and not force:
                raise TooManyTerminations(
                    f"the file would terminate {len(plan.terminations)} of "
                    f"{sum(1 for s in statuses.values() if s != 'terminated')} members "
                    f"({share:.0%}, more than LRS_IDENTITY_MAX_TERMINATE_SHARE={max_share:.0%}); "
                    "check the file, or pass --force"
                )
        return plan

    async def apply(self, plan: Plan, *, actor: str = "cli") -> int:
        """Write the plan and re-project what it changes; the facts moved."""
        ids = self._stores.identities
        await ids.put_members(plan.members)
        await ids.put_claims(plan.claims)
        absorbed = await absorb(ids, plan, self.now())
        keys = set(plan.new_keys) | {HRIS + m.member_id for m in plan.hires}
        moved = await self._worker.reproject_identities(keys, refolded(plan))
        await self._worker.announce_members(status_transitions(plan))
        for merge in absorbed:
            await self._audit.append(
                "identities.merge",
                actor=actor,
                subject=merge.member_id,
                details={
                    "from": merge.provisional,
                    "into": merge.member_id,
                    "key": describe_key(merge.key),
                    "reason": "a provisional member's address or account came from the HRIS",
                },
            )
        if plan.change_count:
            await self._audit.append(
                "identities.import",
                actor=actor,
                subject="hris",
                details={
                    "hires": [m.member_id for m in plan.hires],
                    "changes": [a.member_id for _b, a in plan.changes],
                    "terminations": [m.member_id for m in plan.terminations],
                    "conflicts": [c.key for c in plan.conflicts],
                },
            )
        return moved

    async def link(
        self, member_id: str, home_page: str, name: str, *, actor: str = "cli"
    ) -> tuple[bool, int]:
        """Link an LMS account to a member: (newly linked, facts re-projected)."""
        member = await self._stores.identities.get_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id} in the identity map", member_id=member_id)
        account = (home_page.rstrip("/"), name)
        if account in member.accounts:
            return False, 0
        await self._stores.identities.put_members(
            [replace(member, accounts=(*member.accounts, account))]
        )
        key = account_key(*account)
        await self._stores.identities.put_claims([Claim(key, member_id, valid_from=self.now())])
        await self._audit.append(
            "identities.link", actor=actor, subject=member_id, details={"account": list(account)}
        )
        return True, await self._worker.reproject_identities([key])

    async def resolve(
        self, key: str, member_id: str, *, actor: str = "cli"
    ) -> tuple[list[str], int]:
        """Give a conflicting key to one of its claimants: (claimants dropped, facts moved)."""
        claims = (await self._stores.identities.claims_for([key])).get(key, [])
        claimants = [c.member_id for c in claims]
        if len(claimants) < 2 or member_id not in claimants:
            raise NotAConflict(
                f"{describe_key(key)} is not a conflict with {member_id} among its claimants "
                f"(claimed by {', '.join(claimants) or 'nobody'})"
            )
        dropped = await self._stores.identities.resolve(key, member_id, self.now())
        await self._audit.append(
            "identities.resolve",
            actor=actor,
            subject=describe_key(key),
            details={"member": member_id, "dropped": dropped},
        )
        return dropped, await self._worker.reproject_identities([key])

    async def conflicts(self) -> list[Conflict]:
        """Open conflicts, by key."""
        return await self._stores.identities.conflicts()

    async def unmatched(self) -> UnmatchedReport:
        """Held statements counted by what they wait on (see UnmatchedReport)."""
        counts = await self._stores.facts.unmatched_counts()
        kinds = {"email": 0, "account": 0, "hris": 0, "other": 0}
        homes: dict[str, dict[str, int]] = {}
        emails, hris = [], []
        for key, n in counts.items():
            claim = key.removeprefix(OTHER) if key.startswith(OTHER + ACCOUNT) else key
            if claim.startswith(ACCOUNT):
                kinds["account"] += n
                home = homes.setdefault(
                    split_account_key(claim)[0].rstrip("/"), {"accounts": 0, "statements": 0}
                )
                home["accounts"] += 1
                home["statements"] += n
            elif key.startswith(EMAIL):
                kinds["email"] += n
                emails.append({"address": key[len(EMAIL) :], "statements": n})
            elif key.startswith(HRIS):
                kinds["hris"] += n
                hris.append({"employee_id": key[len(HRIS) :], "statements": n})
            else:
                kinds["other"] += n
        return UnmatchedReport(
            total=sum(counts.values()),
            by_kind=kinds,
            accounts_by_home_page=[{"home_page": h, **c} for h, c in sorted(homes.items())],
            emails=_top(emails),
            hris_ids=_top(hris),
        )


def _top(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["statements"], str(r)))[:SHOWN_UNMATCHED]


def parse_key(
    address: str | None, account: Sequence[str] | None, aliases: Mapping[str, str]
) -> str:
    """The claim key an operator names: an email address, or an account (home page, name)."""
    if account:
        return account_key(account[0], account[1])
    email = normalize_email(address or "", aliases)
    if email is None:
        raise BadRequest(f"{address!r} is not an email address (or name an account)")
    return EMAIL + email


def describe_key(key: str) -> str:
    """A key as operators read it: the address, or `account <home page> <name>`."""
    if key.startswith(EMAIL):
        return key[len(EMAIL) :]
    home, name = split_account_key(key)
    return f"account {home} {name}"


def conflict_json(conflict: Conflict) -> dict[str, Any]:
    """A conflict as the CLI's --json and the admin API give it."""
    body: dict[str, Any] = {"key": conflict.key, "claimants": list(conflict.claimants)}
    if conflict.key.startswith(EMAIL):
        body["address"] = conflict.key[len(EMAIL) :]
    else:
        home, name = split_account_key(conflict.key)
        body["account"] = {"homePage": home, "name": name}
    return body
