"""Erasing a member from the projection and their statements from the LRS (issue 17 item 8).

`ErasureService.erase(member_id)`, in this order (each step repeatable, so an erasure cut
short is finished by running it again while the member row remains; the member row goes last):
1. the member's identifiers are collected from the identity map: the HRIS account
   (`LRS_HRIS_HOME_PAGE` + employee id), every email claim (current or closed: the address
   history), every LMS account claim and the HRIS ids merged into the member (`hris:`
   claims, `projections.identity_merge`); the statement ids of their facts are noted;
2. `lrs.services.erasure.erase_person` pseudonymises or deletes their statements
   (`LRS_ERASURE_STATEMENTS`) and deletes the xAPI documents about them. The replacement
   name is an opaque random id (`erased_` + 26 base32 characters), NOT the member's keyed
   pseudonym: a keyed pseudonym can be recomputed from the employee id by whoever holds the
   key, which would undo the erasure; the random id links to nobody;
3. the person's identifiers are cut out of the audit log (their personal parts, by member id,
   merged ids, every claim key and the pseudonym: `projections.audit_personal`; the chain
   still verifies, the entries read `[erased]`) and out of the saved results of HRIS events
   (`HrisStore.forget_members`: the event ids stay, so a repeated event is still answered
   and not applied again);
4. their claims are deleted (after the statements and the audit log, so a run cut short
   before still knows every address when run again), so nothing resolves to them any more;
5. the noted statements are applied again as stored now (`ProjectionWorker.reapply`): their
   facts now carry the pseudonymous account (unmatched: the erased home page is never
   provisioned, see `projections.provisioning`) or are dropped with deleted statements, and
   the member's records are recomputed away; then their data-quality items (by statement
   and by member: they hold offending values and actor keys) are deleted;
6. every record row of the member and every webhook event about them (pending, dead-lettered
   or delivered: the outbox row holds the payload) with its deliveries are deleted
   (`AggregateStore.erase_member`). No `learning.removed` is sent per record: the one
   `member.erased` event, naming the member by the public id the marketplace knew, tells
   subscribers to drop everything they hold about that id;
7. the member row is deleted, with the rows of the members merged into it (the same person
   under another employee id), then the audit entry `identities.erased` is written: counts
   only, its subject the random replacement id (no personal data, and no way back).

What stays, by design: the `member.erased` event naming the public id; the HRIS events' body
digests (SHA-256 over the whole event, kept to tell a repeat from a reused event id).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from lrs.model.erasure import ErasureCounts
from lrs.services.erasure import erase_person
from lrs.store.base import Backend
from projections.audit import AuditLog
from projections.errors import MemberNotFound
from projections.identity import (
    ACCOUNT,
    EMAIL,
    HRIS,
    account_key,
    matching_keys,
    split_account_key,
)
from projections.member_events import ERASED
from projections.provisioning import PROVISIONAL_PREFIX
from projections.pseudonyms import PREFIX as PSEUDONYM_PREFIX
from projections.pseudonyms import Disclosure
from projections.store import ProjectionStores
from projections.store.base import Claim, IdentityStore, Member, OutboxEvent
from projections.transforms import format_datetime
from projections.worker import ProjectionWorker, wall_clock_us

AUDIT_TYPE = "identities.erased"
REPLACEMENT_PREFIX = "erased_"


def replacement_name() -> str:
    """An opaque id for the erased person's pseudonymous account (130 random bits)."""
    return REPLACEMENT_PREFIX + base64.b32encode(secrets.token_bytes(20)).decode()[:26].lower()


@dataclass(frozen=True)
class ErasureResult:
    """What one erasure removed (counts only) and the id it is audited under."""

    erasure_id: str
    statements: ErasureCounts
    claims_deleted: int
    facts_reapplied: int
    records_deleted: int
    events_deleted: int
    audit_seq: int

    def to_json(self) -> dict[str, Any]:
        """The result as the CLI's --json and the admin API give it."""
        return {
            "erasure_id": self.erasure_id,
            **asdict(self.statements),
            "claims_deleted": self.claims_deleted,
            "facts_reapplied": self.facts_reapplied,
            "records_deleted": self.records_deleted,
            "webhook_events_deleted": self.events_deleted,
            "audit_seq": self.audit_seq,
        }


def person_ifis(member: Member, claims: list[Claim], hris_home_page: str | None) -> list[dict]:
    """Every xAPI identifier the member may have been recorded under (each once)."""
    ifis: list[dict[str, Any]] = []
    if hris_home_page:
        ifis.append({"account": {"homePage": hris_home_page, "name": member.member_id}})
    ifis += [{"mbox": "mailto:" + email} for email in member.emails]
    ifis += [{"account": {"homePage": home, "name": name}} for home, name in member.accounts]
    for claim in claims:
        if claim.key.startswith(HRIS) and hris_home_page:  # an id merged into this member
            ifis.append({"account": {"homePage": hris_home_page, "name": claim.key[len(HRIS) :]}})
        elif claim.key.startswith(EMAIL):
            ifis.append({"mbox": "mailto:" + claim.key[len(EMAIL) :]})
        elif claim.key.startswith(ACCOUNT):
            home, name = split_account_key(claim.key)
            ifis.append({"account": {"homePage": home, "name": name}})
    unique = {orjson.dumps(i, option=orjson.OPT_SORT_KEYS): i for i in ifis}
    return list(unique.values())


def person_holders(
    member: Member, claims: list[Claim], merged: list[str], public_id: str
) -> list[str]:
    """What the audit log's personal parts of this person are held by: member ids (their
    own and those merged into it), every identity key they claimed, their public id."""
    holders = {member.member_id, public_id, *merged}
    holders.update(EMAIL + email for email in member.emails)
    holders.update(account_key(home, name) for home, name in member.accounts)
    for claim in claims:
        holders.add(claim.key[len(HRIS) :] if claim.key.startswith(HRIS) else claim.key)
    return sorted(holders)


async def gone_holders(identities: IdentityStore, holders: list[str]) -> set[str]:
    """The holders an erasure removed before the audit log kept personal parts (for the
    migration, `AuditLog.protect_earlier`): member ids the identity map no longer holds and
    keys nobody claims. Provisional ids (deleted when absorbed) and pseudonyms are kept."""
    keys = [h for h in holders if h.startswith((EMAIL, ACCOUNT))]
    ids = [h for h in holders if h not in keys and not h.startswith(_NEVER_GONE)]
    claimed = await identities.claims_for(keys) if keys else {}
    known = await identities.get_members(ids) if ids else {}
    return {k for k in keys if not claimed.get(k)} | {m for m in ids if m not in known}


_NEVER_GONE = (PROVISIONAL_PREFIX, PSEUDONYM_PREFIX)


def erased_event(public_id: str, now_us: int) -> OutboxEvent:
    """The one event of an erasure; `member_id` (internal) is the public id too, so a
    later erasure's cleanup never finds the internal id in the outbox."""
    event_id = "evt_" + hashlib.sha256(f"{public_id}\0{ERASED}".encode()).hexdigest()[:32]
    body: dict[str, Any] = {
        "id": event_id,
        "type": ERASED,
        "tags": [],
        "occurred_at": format_datetime(now_us),
        "member_id": public_id,
        "activity_id": None,
        "employment_status": None,
        "effective_at": None,
        "changes": [],
        "verbs": [],
    }
    return OutboxEvent(event_id, ERASED, public_id, "", now_us, orjson.dumps(body))


class ErasureService:
    """Erasure of one member on one backend (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        stores: ProjectionStores,
        worker: ProjectionWorker,
        audit: AuditLog,
        disclosure: Disclosure,
        *,
        policy: str,
        home_page: str,
        hris_home_page: str | None,
        clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self._backend, self._stores, self._worker = backend, stores, worker
        self._audit, self._disclosure = audit, disclosure
        self._policy, self._home_page, self._hris = policy, home_page, hris_home_page
        self._clock = clock

    async def erase(self, member_id: str, *, actor: str = "cli") -> ErasureResult:
        """Erase the member (MemberNotFound when the identity map has no such member)."""
        identities = self._stores.identities
        member = await identities.get_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id} in the identity map", member_id=member_id)
        public_id = await self._public_id(member_id)
        claims = (await identities.member_claims([member_id])).get(member_id, [])
        statement_ids = await self._statement_ids(member_id, claims)
        name = replacement_name()
        ifis = person_ifis(member, claims, self._hris)
        counts = await erase_person(
            self._backend, ifis, name, self._policy, home_page=self._home_page
        )
        merged = await self._cut_traces(member, claims, public_id)
        await identities.delete_claims([(c.key, member_id) for c in claims])
        await self._worker.reapply(statement_ids)
        await self._stores.quality.forget_items(statement_ids, member_id)
        records, events = await self._stores.aggregates.erase_member(member_id)
        await self._stores.aggregates.add_events([erased_event(public_id, self._clock())])
        await identities.delete_members([*merged, member_id])
        result = ErasureResult(name, counts, len(claims), len(statement_ids), records, events, 0)
        details = {k: v for k, v in result.to_json().items() if k not in ("audit_seq",)}
        entry = await self._audit.append(AUDIT_TYPE, actor=actor, subject=name, details=details)
        await self._stores.aggregates.settle_erasure()
        return ErasureResult(
            name, counts, len(claims), len(statement_ids), records, events, entry.seq
        )

    async def pseudonymise_statements(self, member_id: str) -> int:
        """Pseudonymise the member's statements and re-apply them, keeping the member
        (retention's `pseudonymise` action, `projections.retention`): steps 1, 2 and 5 of
        an erasure with the `pseudonymise` policy. How many statements were rewritten. The
        caller settles the store once for a batch (`AggregateStore.settle_erasure`)."""
        member = await self._stores.identities.get_member(member_id)
        if member is None:
            return 0
        claims = (await self._stores.identities.member_claims([member_id])).get(member_id, [])
        statement_ids = await self._statement_ids(member_id, claims)
        counts = await erase_person(
            self._backend,
            person_ifis(member, claims, self._hris),
            replacement_name(),
            "pseudonymise",
            home_page=self._home_page,
        )
        await self._worker.reapply(statement_ids)
        return counts.statements_pseudonymised

    async def _cut_traces(self, member: Member, claims: list[Claim], public_id: str) -> list[str]:
        """Step 3: the person out of the audit log and the HRIS results (while the claims
        are still there to name every key); the ids of the members merged into them."""
        merged = await self._merged_into(member.member_id, claims)
        await self._audit.erase_person(person_holders(member, claims, merged, public_id))
        await self._stores.hris.forget_members([member.member_id, *merged])
        return merged

    async def _merged_into(self, member_id: str, claims: list[Claim]) -> list[str]:
        """The members merged into this one (their `hris:` claims), still in the map."""
        ids = [c.key[len(HRIS) :] for c in claims if c.key.startswith(HRIS)]
        found = await self._stores.identities.get_members(ids) if ids else {}
        return sorted(m for m, row in found.items() if row.merged_into == member_id)

    async def _public_id(self, member_id: str) -> str:
        return (await self._disclosure.public_ids([member_id]))[member_id]

    async def _statement_ids(self, member_id: str, claims: list[Claim]) -> list[str]:
        """The statements behind the member's facts: by their keys and by their records."""
        keys = {k for c in claims for k in matching_keys(c.key)} | {HRIS + member_id}
        facts = await self._stores.facts.facts_for_actors(sorted(keys))
        records = await self._stores.aggregates.member_records(member_id)
        by_pair = await self._stores.facts.facts_for_pairs(
            [(r.member_id, r.activity_id) for r in records]
        )
        ids = {f.statement_id for f in facts}
        ids.update(f.statement_id for found in by_pair.values() for f in found)
        return sorted(ids)
