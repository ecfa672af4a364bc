"""What an HRIS import changes, worked out before anything is written (pure: no store).

`plan_import` compares the file's rows with the stored members and their claims and returns a
`Plan`: hires, changes, terminations (full mode), the claims to write, the conflicts they make,
and what was left alone. `--dry-run` prints it; a real run writes it (`identity_ops`).

Rules (DESIGN.md "Identity"):
- a member's addresses and LMS accounts are claims with a validity period; one no longer
  listed is closed (`valid_to`), never deleted, so it keeps matching the member (history): an
  email change re-points nothing and withdraws nothing;
- a key (address or account) that two members claim, in the file or against what is stored,
  is a conflict: both claims are kept, the key matches neither until an operator resolves it;
  a key resolved for one member earlier is refused to the others (reported, not written);
- a row older (`effective_at`) than the stored state is stale and left alone;
- the same file imported twice plans nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from projections.identity import EMAIL, HRIS, account_key
from projections.identity_rows import IdentityRow
from projections.member_events import TERMINATED, transitions
from projections.store.base import Claim, Conflict, Member


@dataclass(frozen=True)
class Refusal:
    """A claim not written: the key was resolved for another member earlier."""

    key: str
    member_id: str
    resolved_for: str


@dataclass
class Plan:
    """What an import would do (see the module docstring)."""

    hires: list[Member] = field(default_factory=list)
    changes: list[tuple[Member, Member]] = field(default_factory=list)  # (before, after)
    terminations: list[Member] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    new_keys: set[str] = field(default_factory=set)  # keys that gained a claimant
    conflicts: list[Conflict] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def members(self) -> list[Member]:
        """Every member to write."""
        return [*self.hires, *(after for _b, after in self.changes), *self.terminations]

    @property
    def change_count(self) -> int:
        """How many members and claims the plan writes."""
        return len(self.members) + len(self.claims)


@dataclass(frozen=True)
class Stored:
    """What the store holds that the plan compares with (read in a few batched reads)."""

    members: Mapping[str, Member]
    member_claims: Mapping[str, list[Claim]]
    key_claims: Mapping[str, list[Claim]]
    resolutions: Mapping[str, str]


def merged(old: Member | None, row: IdentityRow) -> Member:
    """The member as the row makes it: fields the row has replace the stored ones."""
    base = old or Member(row.member_id, ())
    v = row.values
    primary = v["email"] if "email" in v else (base.emails[0] if base.emails else None)
    secondary = v["secondary_emails"] if "secondary_emails" in v else base.emails[1:]
    emails = tuple(dict.fromkeys(e for e in (primary, *secondary) if e))
    return replace(
        base,
        emails=emails,
        name=v.get("name", base.name),
        department=v.get("department", base.department),
        manager=v.get("manager", base.manager),
        employment_status=v.get("employment_status") or base.employment_status,
        worker_type=v.get("worker_type") or base.worker_type,
        effective_at=v.get("effective_at") or base.effective_at,
        accounts=v.get("lms_accounts", base.accounts),
    )


def member_keys(member: Member) -> list[str]:
    """The claim keys a member's current addresses and accounts make."""
    return [EMAIL + e for e in member.emails] + [account_key(h, n) for h, n in member.accounts]


def row_keys(rows: Iterable[IdentityRow], stored: Mapping[str, Member]) -> list[str]:
    """Every key the rows could claim (for reading their claims in one batch)."""
    return sorted({k for r in rows for k in member_keys(merged(stored.get(r.member_id), r))})


def plan_import(rows: Sequence[IdentityRow], stored: Stored, now: str) -> Plan:
    """The plan of a delta import of `rows` (terminations are `plan_terminations`')."""
    plan = Plan()
    claimants: dict[str, set[str]] = {
        key: {c.member_id for c in claims} for key, claims in stored.key_claims.items()
    }
    for row in rows:
        old = stored.members.get(row.member_id)
        given = row.values.get("effective_at")
        if old and old.effective_at and given and given < old.effective_at:
            plan.stale.append(row.member_id)
            continue
        new = merged(old, row)
        when = given or now
        _claims(plan, new, stored, claimants, when)
        if old is None:
            plan.hires.append(new)
        elif new != old:
            plan.changes.append((old, new))
        else:
            plan.unchanged += 1
    plan.conflicts = [
        Conflict(key, tuple(sorted(claimants[key])))
        for key in sorted(plan.new_keys)
        if len(claimants[key]) > 1
    ]
    return plan


def _claims(
    plan: Plan, new: Member, stored: Stored, claimants: dict[str, set[str]], when: str
) -> None:
    """The claims `new` opens, reopens and closes; refusals of resolved keys. A member merged
    into another claims nothing: its addresses are the other member's (`identity_merge`)."""
    if new.merged_into is not None:
        return
    held = {c.key: c for c in stored.member_claims.get(new.member_id, [])}
    wanted = member_keys(new)
    for key in wanted:
        claim = held.get(key)
        if claim is not None:
            if claim.valid_to is not None:  # listed again: current again
                plan.claims.append(replace(claim, valid_to=None))
            continue
        resolved = stored.resolutions.get(key)
        if resolved is not None and resolved != new.member_id:
            plan.refused.append(Refusal(key, new.member_id, resolved))
            continue
        plan.claims.append(Claim(key, new.member_id, valid_from=when))
        plan.new_keys.add(key)
        claimants.setdefault(key, set()).add(new.member_id)
    for key, claim in held.items():  # `hris:` claims come from merges, not from the HRIS
        if key not in wanted and claim.valid_to is None and not key.startswith(HRIS):
            plan.claims.append(replace(claim, valid_to=when))


def plan_terminations(
    plan: Plan,
    statuses: Mapping[str, str],
    present: set[str],
    stored: Mapping[str, Member],
    now: str,
) -> None:
    """Full mode: every member not in the file (`present`) and not terminated is terminated."""
    for member_id in sorted(set(statuses) - present):
        member = stored.get(member_id)
        if member is not None and statuses[member_id] != "terminated":
            plan.terminations.append(
                replace(member, employment_status="terminated", effective_at=now)
            )


def refolded(plan: Plan) -> list[str]:
    """The members whose records change with the plan: those of a new primary email or a new
    employment status (both fields of every record of theirs)."""
    changed = [
        a.member_id
        for b, a in plan.changes
        if b.emails[:1] != a.emails[:1] or b.employment_status != a.employment_status
    ]
    return changed + [m.member_id for m in plan.terminations]


def status_transitions(plan: Plan) -> list[tuple[Member, str]]:
    """The member events the plan makes (`member.terminated`, `member.rehired`)."""
    return transitions(plan.changes) + [(m, TERMINATED) for m in plan.terminations]


def termination_share(plan: Plan, statuses: Mapping[str, str]) -> float:
    """The share of the members not yet terminated that the plan would terminate."""
    live = sum(1 for s in statuses.values() if s != "terminated")
    return len(plan.terminations) / live if live else 0.0
