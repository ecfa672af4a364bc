"""Who a statement is about: actor → member (DESIGN.md "Identity").

An actor maps to a member by, in order:
1. an `account` whose `homePage` is `LRS_HRIS_HOME_PAGE`: its `name` is the employee id, once
   the HRIS knows that id (an id the HRIS never gave is held, never made a member); an id
   merged into another member (`lrs identities merge`) is claimed by it (`hris:<id>` claim);
2. its `mbox`, normalised (lower-case, `+tag` stripped, domain aliases made canonical), claimed
   by exactly one member: current or earlier addresses alike (history);
3. any other `account` (an LMS's: Open edX, Moodle...) linked to exactly one member;
4. otherwise it is *unmatched*: its contribution is kept under its actor key and projected as
   soon as the identity map learns it (`lrs identities import` / `link` / `resolve`).

Actor keys name the identity a fact waits on: `hris:<employee id>`, `email:<normalised>`,
`account:<homePage>\n<name>` (a trailing `/` of the home page dropped), or `ifi:<IFI>` for
identities that can never match (an `mbox_sha1sum`, an `openid`). Facts stored before LMS
accounts could match carry `ifi:account:<homePage>\n<name>`; they resolve like `account:`.
No member is ever invented here; under `LRS_UNKNOWN_LEARNERS=provision` the worker makes
provisional members for unclaimed addresses and accounts (`projections.provisioning`).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from typing import Any

from lrs.xapi.agents import ifi_key
from projections.store.base import IdentityStore

HRIS, EMAIL, ACCOUNT, OTHER = "hris:", "email:", "account:", "ifi:"
_LEGACY_ACCOUNT = OTHER + ACCOUNT


def account_key(home_page: str, name: str) -> str:
    """The actor key of an LMS account."""
    return f"{ACCOUNT}{home_page.rstrip('/')}\n{name}"


def split_account_key(key: str) -> tuple[str, str]:
    """(home page, name) of an `account:` key."""
    home, _, name = key[len(ACCOUNT) :].partition("\n")
    return home, name


def matching_keys(key: str) -> list[str]:
    """The actor keys stored facts may carry for this identity (an account's legacy forms too)."""
    if not key.startswith(ACCOUNT):
        return [key]
    home, name = split_account_key(key)
    return [key, f"{_LEGACY_ACCOUNT}{home}\n{name}", f"{_LEGACY_ACCOUNT}{home}/\n{name}"]


def actor_key(values: MappingABC[str, Any], actor: Any) -> str:
    """The identity a contribution waits on (see the module docstring)."""
    if values.get("member_id"):
        return HRIS + values["member_id"]
    if values.get("email"):
        return EMAIL + values["email"]
    account = actor.get("account") if isinstance(actor, dict) else None
    if isinstance(account, dict):
        home, name = account.get("homePage"), account.get("name")
        if isinstance(home, str) and isinstance(name, str):
            return account_key(home, name)
    return OTHER + (ifi_key(actor) or "anonymous")


def _claim_key(key: str) -> str | None:
    """The claim an actor key is matched against (None: not a claim: hris or never)."""
    if key.startswith((EMAIL, ACCOUNT)):
        return key
    if key.startswith(_LEGACY_ACCOUNT):
        home, _, name = key[len(_LEGACY_ACCOUNT) :].partition("\n")
        return account_key(home, name)
    return None


class IdentityResolver:
    """Actor keys → member ids, through the identity map (two batched reads at most).

    `remember` > 0 keeps up to that many answers while the map's version stays the same
    (`IdentityStore.identity_version`, read before each lookup and before the map itself): a
    worker meets the same learners slice after slice, and resolving them again took a tenth of
    a backlog's drain. An answer read while the map changed is dropped with the version that
    change moved, so nothing older than the version read is used."""

    def __init__(self, store: IdentityStore, *, remember: int = 0) -> None:
        self._store = store
        self._remember = remember
        self._known: dict[str, str | None] = {}
        self._version: int | None = None

    async def members_for(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Member id (or None: unmatched) for each actor key."""
        if not self._remember:
            return await self._read(keys)
        version = await self._store.identity_version()
        if version != self._version or len(self._known) > self._remember:
            self._known, self._version = {}, version
        known = self._known
        missing = [k for k in dict.fromkeys(keys) if k not in known]
        if missing:
            known.update(await self._read(missing))
        return {k: known[k] for k in keys}

    async def _read(self, keys: Sequence[str]) -> dict[str, str | None]:
        unique = list(dict.fromkeys(keys))
        hris = [k[len(HRIS) :] for k in unique if k.startswith(HRIS)]
        claims = {k: c for k in unique if (c := _claim_key(k)) is not None}
        claims.update({k: k for k in unique if k.startswith(HRIS)})  # merged ids: claimed
        known = await self._store.get_members(hris) if hris else {}
        owners = await self._store.member_for_keys(list(set(claims.values()))) if claims else {}
        found: dict[str, str | None] = {}
        for key in unique:
            if key.startswith(HRIS) and key not in owners:
                found[key] = key[len(HRIS) :] if key[len(HRIS) :] in known else None
            else:
                claim = claims.get(key)
                found[key] = owners.get(claim) if claim is not None else None
        return found
