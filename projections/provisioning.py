"""Unknown learners by policy (`LRS_UNKNOWN_LEARNERS`): `hold` (the default) keeps the
statements of an address or LMS account nobody claims unmatched and listed; `provision` makes
a provisional member for it just in time, and the HRIS absorbs that member later.

Provisioning (the worker, whenever it resolves actors): an `email:` or `account:` key with no
claim at all (a conflict has claims, so it stays held; an unknown HRIS id, or an account on
the erased people's home page `<base>/erased`, is never provisioned)
gets a member `prov_<26 base32>` (random: the id says nothing about the person; the
`pm_v<n>_…` shape is the pseudonyms'), worker type `unknown`, and a claim on the key; its
statements then project to it like any member's. Two workers provisioning the same key at
once each make a member; both then keep the one whose claim is oldest (then the smaller id)
and delete the others, before projecting anything to them.

Absorbing (`absorb`, from `IdentityService.apply`: an HRIS import or event): when a real
member claims a key a provisional member holds, the import sees a conflict; here the key is
given to the real member (`IdentityStore.resolve`), the provisional member is deleted, and the
caller re-projects the key, so its facts move to the real member (the provisional records are
removed with `learning.removed`, the real member's made with `learning.created`); the caller
writes an `identities.merge` audit entry per merge. This is the minimal move of a provisional
member's facts; general merges (`lrs identities merge`) are a separate module.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from projections.identity import ACCOUNT, EMAIL, split_account_key
from projections.identity_plan import Plan
from projections.store.base import Claim, IdentityStore, Member
from projections.store.counters import CounterStore

PROVISIONAL_PREFIX = "prov_"
PROVISIONAL_WORKER_TYPE = "unknown"
POLICIES = ("hold", "provision")
PROVISIONED = "members_provisioned"  # the counter `/metrics` reads (`projections.slo_metrics`)


def is_provisional(member_id: str) -> bool:
    """Whether the member was provisioned for an unknown learner."""
    return member_id.startswith(PROVISIONAL_PREFIX)


def provisional_id() -> str:
    """A new provisional member id: `prov_` and 26 random base32 characters (130 bits)."""
    return PROVISIONAL_PREFIX + base64.b32encode(secrets.token_bytes(20)).decode()[:26].lower()


def provisional_member(member_id: str, key: str) -> Member:
    """The member made for an unknown address or account."""
    if key.startswith(EMAIL):
        return Member(member_id, (key[len(EMAIL) :],), worker_type=PROVISIONAL_WORKER_TYPE)
    return Member(
        member_id, (), worker_type=PROVISIONAL_WORKER_TYPE, accounts=(split_account_key(key),)
    )


class Provisioner:
    """Makes provisional members for unclaimed keys (see the module docstring)."""

    def __init__(
        self,
        identities: IdentityStore,
        *,
        never: Sequence[str] = (),
        counters: CounterStore | None = None,
    ) -> None:
        self._identities = identities
        self._counters = counters  # members provisioned, for /metrics
        # home pages never provisioned: the erased people's (`projections.erasure`)
        self._never = {home.rstrip("/") for home in never}

    async def provision(self, keys: Sequence[str], now: str) -> dict[str, str]:
        """Key → member for the keys (unmatched ones) that could be provisioned."""
        wanted = sorted({k for k in keys if k.startswith((EMAIL, ACCOUNT)) and self._may(k)})
        if not wanted:
            return {}
        claimed = await self._identities.claims_for(wanted)
        new = {k: provisional_id() for k in wanted if k not in claimed}
        if not new:
            return {}
        await self._identities.put_members([provisional_member(m, k) for k, m in new.items()])
        await self._identities.put_claims([Claim(k, m, valid_from=now) for k, m in new.items()])
        losers = _losers(await self._identities.claims_for(list(new)))
        await self._identities.delete_members(losers)
        if self._counters is not None and len(new) > len(losers):
            await self._counters.add({(PROVISIONED, ""): len(new) - len(losers)})
        return await self._identities.member_for_keys(list(new))

    def _may(self, key: str) -> bool:
        """Whether the key may get a provisional member (not an erased person's account)."""
        return not key.startswith(ACCOUNT) or split_account_key(key)[0] not in self._never


def _losers(claims: dict[str, list[Claim]]) -> list[str]:
    """Provisional members made twice for one key: all but the oldest claim's."""
    losers = []
    for found in claims.values():
        if len(found) > 1 and all(is_provisional(c.member_id) for c in found):
            ordered = sorted(found, key=lambda c: (c.valid_from or "", c.member_id))
            losers += [c.member_id for c in ordered[1:]]
    return losers


@dataclass(frozen=True)
class Absorbed:
    """A provisional member merged into a real one through a key they both claimed."""

    key: str
    provisional: str
    member_id: str


async def absorb(identities: IdentityStore, plan: Plan, now: str) -> list[Absorbed]:
    """Give each conflict between provisional members and one real member to the real one;
    delete the provisional members; drop those conflicts from the plan. The merges done."""
    done, kept = [], []
    for conflict in plan.conflicts:
        real = [m for m in conflict.claimants if not is_provisional(m)]
        if len(real) != 1:
            kept.append(conflict)
            continue
        for dropped in await identities.resolve(conflict.key, real[0], now):
            done.append(Absorbed(conflict.key, dropped, real[0]))
    plan.conflicts = kept
    await identities.delete_members(sorted({a.provisional for a in done}))
    return done
