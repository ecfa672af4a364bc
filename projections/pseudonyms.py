"""Keyed pseudonyms: the ids under which the marketplace sees contractors and alumni.

    pm_v<version>_<26 base32 characters: HMAC-SHA256(key_version, member id), first 128 bits>
    key_version = HKDF-SHA256(master key, info="marketplace pseudonym <version>")

The master key is the marketplace master key (`projections.keyring`), kept outside the
database, so the database, a backup of it or an export holds nothing that links a pseudonym to
a member: without the key, `pm_v1_…` is 128 random-looking bits. With it, an admin re-identifies
one id (`lrs identities reveal`, audited) by recomputing.

Why recompute rather than keep an index pseudonym → member: such a table is a linking table;
anyone with a copy of the database could re-identify every pseudonym, which is what keying
prevents. Sealing its member ids under a key would fix that, but costs a write wherever a
pseudonym is first emitted (reads included) and leaves one more copy of each member id to
erase. Recomputing stores nothing: `reveal` computes the pseudonym of each candidate member
for the id's key version (an HMAC each: some hundred thousand members take well under a
second) and compares in constant time. The candidates are every member of the identity map
and every member with a marketplace record, removed records included (`reveal_candidates`),
so that a contractor without any record reveals too (and can be erased by their pseudonym).

Rotation (`lrs identities pseudonyms rotate`) records key version n+1 (a number in the
database; the key is derived, so nothing secret is stored). From then on the same person is
emitted under a new id; ids carry their version, so older ones still reveal. What consumers
see: new payloads (reads, exports, webhook events created after the rotation) name the person by
the new id, and nothing published links it to the old one, which is the point: what a
consumer accumulated about the old id stops growing. Records and events delivered before keep
the old id. Replacing the master key changes every pseudonym and makes the old ones
unrevealable.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from projections.keyring import Keyring
from projections.store.base import (
    AggregateStore,
    IdentityStore,
    Member,
    PseudonymKey,
    PseudonymKeyStore,
)

PREFIX = "pm_"
FIRST_VERSION = 1  # in use before any rotation, without a row in the store
_ID = re.compile(r"pm_v([1-9][0-9]{0,8})_([a-z2-7]{26})")
_PAGE = 1000


def parse_pseudonym(text: str) -> int | None:
    """The key version of a well-formed pseudonym, else None."""
    match = _ID.fullmatch(text)
    return int(match.group(1)) if match else None


def worker_type_of(member: Member | None) -> str | None:
    """The member's worker type (employee / contractor / alumni), when the map knows it."""
    return member.worker_type if member is not None else None


def public_member_id(
    member_id: str,
    worker_type: str | None,
    pseudonymous_types: frozenset[str],
    pseudonym: Callable[[str], str],
) -> str:
    """The id the marketplace sees: a pseudonym for the configured worker types, else the id."""
    return pseudonym(member_id) if worker_type in pseudonymous_types else member_id


def disclose_record(record: dict[str, Any] | None, public_id: str) -> dict[str, Any] | None:
    """A record as emitted under `public_id`: a pseudonymised one without its email."""
    if record is None or record.get("member_id") == public_id:
        return record
    return {**record, "member_id": public_id, "email": None}


class Pseudonyms:
    """Computes, reveals and rotates pseudonyms; see the module docstring."""

    def __init__(self, keyring: Keyring, keys: PseudonymKeyStore) -> None:
        self._keyring = keyring
        self._keys = keys

    def pseudonym(self, member_id: str, version: int) -> str:
        """The member's pseudonym under key `version`."""
        return _pseudonym(self._key(version), version, member_id)

    def _key(self, version: int) -> bytes:
        return self._keyring.derive(f"marketplace pseudonym {version}")

    async def current_version(self) -> int:
        """The newest key version."""
        keys = await self._keys.pseudonym_keys()
        return max((k.version for k in keys), default=FIRST_VERSION)

    async def rotate(self, now_us: int | None = None) -> int:
        """Start the next key version; the new version (concurrent rotations: one each)."""
        while True:
            version = await self.current_version() + 1
            key = PseudonymKey(version, now_us or time.time_ns() // 1000)
            if await self._keys.add_pseudonym_key(key):
                return version

    async def reveal(self, pseudonym: str, candidates: AsyncIterator[str]) -> str | None:
        """The candidate member whose pseudonym this is, or None (also for a malformed id)."""
        version = parse_pseudonym(pseudonym)
        if version is None or version > await self.current_version():
            return None
        key, wanted = self._key(version), pseudonym.encode()
        async for member_id in candidates:
            if hmac.compare_digest(_pseudonym(key, version, member_id).encode(), wanted):
                return member_id
        return None


def _pseudonym(key: bytes, version: int, member_id: str) -> str:
    digest = hmac.new(key, member_id.encode(), hashlib.sha256).digest()[:16]
    return f"{PREFIX}v{version}_{base64.b32encode(digest).decode().rstrip('=').lower()}"


async def record_members(aggregates: AggregateStore) -> AsyncIterator[str]:
    """Every member with a record (removed ones included), each once: reveal's candidates."""
    seen: set[str] = set()
    after = None
    while True:
        page = await aggregates.page_records(after=after, limit=_PAGE, include_removed=True)
        for stored in page.records:
            if stored.member_id not in seen:
                seen.add(stored.member_id)
                yield stored.member_id
        if page.next_position is None:
            return
        after = page.next_position


async def reveal_candidates(
    identities: IdentityStore, aggregates: AggregateStore
) -> AsyncIterator[str]:
    """Every member of the identity map, then every other member with a record: reveal's
    candidates."""
    known = set(await identities.member_statuses())
    for member_id in sorted(known):
        yield member_id
    async for member_id in record_members(aggregates):
        if member_id not in known:
            yield member_id


class Disclosure:
    """Which id the marketplace sees for each member (`LRS_PSEUDONYMOUS_WORKER_TYPES`)."""

    def __init__(
        self, pseudonyms: Pseudonyms, identities: IdentityStore, types: frozenset[str]
    ) -> None:
        self.pseudonyms = pseudonyms
        self._identities = identities
        self._types = types

    async def public_ids(
        self, member_ids: Iterable[str], members: Mapping[str, Member] | None = None
    ) -> dict[str, str]:
        """Member id → the id to emit; `members` when the caller has read them already."""
        ids = sorted(set(member_ids))
        if not self._types or not ids:
            return {m: m for m in ids}
        if members is None:
            members = await self._identities.get_members(ids)
        types = {m: worker_type_of(members.get(m)) for m in ids}
        hidden = any(t in self._types for t in types.values())
        version = await self.pseudonyms.current_version() if hidden else FIRST_VERSION
        pseudonym = functools.partial(self.pseudonyms.pseudonym, version=version)
        return {m: public_member_id(m, types[m], self._types, pseudonym) for m in ids}
