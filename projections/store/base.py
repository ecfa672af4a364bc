"""The storage seam of the marketplace projection, in domain words.

Each Protocol has a SQLite implementation (`sqlite*.py`, on the core's `SQLiteDatabase`) and a
MongoDB one (`mongo*.py`, on the core's `MongoDatabase`), opened by `open_store` of
`lrs.store.engine`; `tests/projections/contract/` runs the same assertions on both. None of
them uses a multi-document transaction or a change stream.

    FactStore       what each statement contributes, keyed by statement id (the projection's
                    own index: statements of a member under all their addresses, unmatched ones)
    WorkStore       leases on statements being projected, and progress for the lag metrics
    AggregateStore  one record per (member, activity), saved by compare-and-set on `rev`, with
                    the change event written in the same single-record step (durable outbox)
    IdentityStore   the identity map: members, their address / account claims, conflicts
    DeliveryStore   webhook subscriptions, the event outbox, deliveries, dead letters
    AccessStore     marketplace OAuth clients, signing key ids, revoked tokens, idempotency keys
    AuditStore      the hash-chained audit log (`projections.store.audit`)
    PseudonymKeyStore  the versions of the pseudonym key (numbers only: the keys are derived
                    from the master key, see `projections.pseudonyms`)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Pair = tuple[str, str]  # (member_id, activity_id)


@dataclass(frozen=True)
class Fact:
    """What one statement contributes, as the mapping extracted it.

    `member_id` is None while the actor maps to no member (unmatched); a fact with no
    `activity_id` is a tombstone: its statement was voided before it was projected.
    `voided` only ever goes from False to True.
    """

    statement_id: str
    actor_key: str
    member_id: str | None
    activity_id: str | None
    stored_us: int
    voided: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def pair(self) -> Pair | None:
        """(member, activity) this fact counts towards, if any."""
        if self.member_id is None or self.activity_id is None:
            return None
        return (self.member_id, self.activity_id)


class FactsReader(Protocol):
    """`FactStore.facts_for_pairs`, callable in another process (`FactStore.reader`)."""

    def facts_for_pairs(self, pairs: Sequence[Pair]) -> dict[Pair, list[Fact]]:
        """As `FactStore.facts_for_pairs`, blocking."""
        ...


@runtime_checkable
class FactStore(Protocol):
    """Statement contributions, keyed by statement id."""

    def reader(self) -> FactsReader | None:
        """A picklable reader of the facts that another process (the worker's mapping child)
        can use on its own, or None when the store has none (MongoDB)."""
        ...

    async def put_facts(self, facts: Sequence[Fact], voiding: Sequence[str] = ()) -> list[Fact]:
        """Insert or replace each fact; `voided` is kept True once it is (never un-voided).
        Then `void_facts(voiding)`, in the same write where the store can (SQLite: one writer
        job, so one commit, not two): its result, or [] when `voiding` is empty."""
        ...

    async def replace_facts(
        self, facts: Sequence[Fact], voiding: Sequence[str] = ()
    ) -> tuple[dict[str, Fact], list[Fact]]:
        """`put_facts`, and the facts of the same statements as they were just before
        (`get_facts`): (those facts, `put_facts`' result). SQLite reads them in the writer's
        job that writes the new ones: its page cache holds the pages the last writes
        touched, where a reader's cache is dropped at every commit."""
        ...

    async def get_facts(self, ids: Sequence[str]) -> dict[str, Fact]:
        """The facts among `ids`, voided or not."""
        ...

    async def void_facts(self, ids: Sequence[str]) -> list[Fact]:
        """Mark the facts voided, leaving a tombstone for ids not yet projected; return the
        facts as now stored (tombstones included)."""
        ...

    async def facts_for_pairs(self, pairs: Sequence[Pair]) -> dict[Pair, list[Fact]]:
        """The non-voided facts of each (member, activity), by statement id; a pair without
        any is absent."""
        ...

    async def facts_for_actors(self, actor_keys: Sequence[str]) -> list[Fact]:
        """The non-voided facts whose actor key is among `actor_keys`."""
        ...

    async def unmatched_facts(self, limit: int, after: str | None = None) -> list[Fact]:
        """Non-voided facts with an activity but no member, by statement id after `after`."""
        ...

    async def count_unmatched(self) -> int:
        """How many non-voided facts have no member."""
        ...

    async def unmatched_counts(self) -> dict[str, int]:
        """How many unmatched facts (as `unmatched_facts` takes them) wait on each actor key."""
        ...

    async def counted_facts(self, limit: int, after: str | None = None) -> list[Fact]:
        """Non-voided facts with a member and an activity, by statement id after `after`."""
        ...

    async def counted_pairs(self, limit: int, after: Pair | None = None) -> list[Pair]:
        """The distinct (member, activity) of non-voided facts, in order, after `after`."""
        ...

    async def delete_facts(self, ids: Sequence[str]) -> None:
        """Forget these facts (for reconcile, when a statement contributes nothing any more)."""
        ...


@dataclass(frozen=True)
class ProjectionProgress:
    """How far projection has got: for the lag metrics."""

    last_applied_stored_us: int | None
    applied: int


@runtime_checkable
class WorkStore(Protocol):
    """Leases on statements being projected, and progress."""

    async def claim(self, ids: Sequence[str], owner: str, now_us: int, lease_us: int) -> set[str]:
        """Lease the ids not leased to another owner (or whose lease expired); the ids now
        leased to `owner`. Each id is leased atomically, so two owners never both get it."""
        ...

    async def release(self, ids: Sequence[str], owner: str) -> None:
        """Drop `owner`'s leases on these ids."""
        ...

    async def note_applied(self, stored_us: int, count: int) -> None:
        """Record that `count` statements were applied, the newest stored at `stored_us`."""
        ...

    async def progress(self) -> ProjectionProgress:
        """The newest applied stored time and the applied count."""
        ...


@dataclass(frozen=True)
class StoredRecord:
    """One marketplace record as stored.

    `rev` is the compare-and-set version, bumped by every save; `version` counts the changes
    of the record's content (1, 2, 3 ... without gaps), carried by its change events.
    `record` is None once every contributing statement is gone (a removal tombstone).
    """

    member_id: str
    activity_id: str
    rev: int
    version: int
    record: dict[str, Any] | None
    updated_us: int


@dataclass(frozen=True)
class OutboxEvent:
    """A change event, durable from the moment its aggregate change is saved."""

    id: str
    type: str
    member_id: str
    activity_id: str
    occurred_us: int
    body: bytes  # the JSON a webhook receiver gets


@dataclass(frozen=True)
class RecordPage:
    """A page of records oldest update first, and the opaque position after the last."""

    records: list[StoredRecord]
    next_position: str | None


@dataclass(frozen=True)
class RecordSave:
    """One compare-and-set save of a record (see `AggregateStore.save_record`)."""

    member_id: str
    activity_id: str
    expected_rev: int
    record: dict[str, Any] | None
    version: int
    now_us: int
    event: OutboxEvent | None
    # the content changed, but no field an event names (a mapping version, provenance): the
    # record is saved, without an event (see `projections.aggregates.change_event`)
    quiet: bool = False

    @property
    def pair(self) -> Pair:
        """(member, activity) of the record."""
        return (self.member_id, self.activity_id)


@runtime_checkable
class AggregateStore(Protocol):
    """Marketplace records per (member, activity), and their change events."""

    async def get_record(self, member_id: str, activity_id: str) -> StoredRecord | None:
        """The stored record (a removal tombstone included), or None."""
        ...

    async def get_records(self, pairs: Sequence[Pair]) -> dict[Pair, StoredRecord]:
        """The stored records (removal tombstones included) among `pairs`."""
        ...

    async def save_record(
        self,
        member_id: str,
        activity_id: str,
        *,
        expected_rev: int,
        record: dict[str, Any] | None,
        version: int,
        now_us: int,
        event: OutboxEvent | None,
        quiet: bool = False,
    ) -> bool:
        """Compare-and-set: save when the stored rev is `expected_rev` (0: none stored yet);
        False when another save came first.

        With an `event`, the content changed: record, version and update time are replaced
        and the event is made durable in the same atomic step. `quiet`: the content changed
        without an event (replaced all the same). Otherwise the content is unchanged and
        only the rev moves (so concurrent savers still conflict).
        """
        ...

    async def save_records(self, saves: Sequence[RecordSave]) -> set[Pair]:
        """`save_record` for each (one pair at most once); the pairs whose save succeeded.

        Each save is its own compare-and-set: one that loses does not undo the others.
        """
        ...

    async def member_records(self, member_id: str) -> list[StoredRecord]:
        """A member's records (no tombstones), by activity id."""
        ...

    async def page_records(
        self,
        *,
        after: str | None = None,
        since_us: int | None = None,
        limit: int = 100,
        include_removed: bool = False,
    ) -> RecordPage:
        """Records ordered by (updated time, member, activity), updated after `since_us`."""
        ...

    async def count_records(self, since_us: int | None = None) -> int:
        """How many live records were updated after `since_us` (all when None)."""
        ...

    async def add_events(self, events: Sequence[OutboxEvent]) -> int:
        """Put events that belong to no record (a member's, e.g. `member.terminated`) in the
        outbox; an event whose id is there already is skipped (so a retried operation with
        deterministic event ids sends each once). How many were added."""
        ...

    async def erase_member(self, member_id: str) -> tuple[int, int]:
        """Delete every record row of the member (tombstones too) and every outbox event
        about them, whatever its state, with its deliveries (erasure: nothing may name them).
        (records, events) deleted."""
        ...

    async def settle_erasure(self) -> None:
        """Leave no copy of erased rows in the storage's files (SQLite: VACUUM and an
        emptied WAL; MongoDB: nothing, its deletes are the database's to reclaim)."""
        ...

    async def publish_events(self, limit: int = 500) -> int:
        """Move events saved with records into the outbox proper (a no-op where they are
        written there directly); how many were moved."""
        ...


EMPLOYMENT_STATUSES = ("active", "on_leave", "terminated")
WORKER_TYPES = ("employee", "contractor", "alumni")
Account = tuple[str, str]  # an LMS account: (home page, name)


@dataclass(frozen=True)
class Member:
    """An HRIS member as the HRIS gave it last.

    `emails` are the current normalised addresses, the primary first; `accounts` the linked LMS
    accounts. Addresses and accounts the member held earlier live on as `Claim`s (history),
    so they keep matching. `effective_at` (ISO 8601, UTC) is when this state took effect per
    the HRIS: an older row never overwrites a newer one.
    """

    member_id: str
    emails: tuple[str, ...]
    name: str | None = None
    department: str | None = None
    manager: str | None = None
    employment_status: str = "active"
    worker_type: str = "employee"
    effective_at: str | None = None
    accounts: tuple[Account, ...] = ()
    merged_into: str | None = None  # merged (`lrs identities merge`): its claims are that member's


@dataclass(frozen=True)
class Claim:
    """A member's hold on an identity (an actor key: `email:…` or `account:…`) for a period.

    `valid_to` None: still current. A closed claim keeps matching (history); a key claimed by
    two members is a conflict and matches neither until an operator resolves it.
    """

    key: str
    member_id: str
    valid_from: str | None = None
    valid_to: str | None = None


@dataclass(frozen=True)
class Conflict:
    """An identity claimed by several members: its statements are held until resolved."""

    key: str
    claimants: tuple[str, ...]


@runtime_checkable
class IdentityStore(Protocol):
    """The identity map kept from the HRIS: members, their claims (address and account history)
    and resolved conflicts. Every write that changes something moves `identity_version`."""

    async def put_members(self, members: Sequence[Member]) -> None:
        """Insert or replace members (their claims are written separately)."""
        ...

    async def delete_members(self, member_ids: Sequence[str]) -> None:
        """Remove members and every claim of theirs (a provisional member merged away)."""
        ...

    async def put_claims(self, claims: Sequence[Claim]) -> None:
        """Insert or replace claims, keyed by (key, member_id)."""
        ...

    async def delete_claims(self, claims: Sequence[tuple[str, str]]) -> None:
        """Forget these claims, each named by (key, member_id); absent ones are no error
        (a merge moves a member's claims: written to the other member, then deleted)."""
        ...

    async def claims_for(self, keys: Sequence[str]) -> dict[str, list[Claim]]:
        """Every claim (current or closed) on each of `keys` that has any."""
        ...

    async def member_claims(self, member_ids: Sequence[str]) -> dict[str, list[Claim]]:
        """Every claim of each of `member_ids` that has any."""
        ...

    async def member_for_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The member of each key exactly one member claims (conflicts and unknowns absent)."""
        ...

    async def conflicts(self, limit: int = 1000) -> list[Conflict]:
        """Keys claimed by more than one member, by key."""
        ...

    async def resolve(self, key: str, member_id: str, at: str) -> list[str]:
        """Keep only `member_id`'s claim on `key`, remember the decision; the members whose
        claim was dropped."""
        ...

    async def resolutions(self, keys: Sequence[str]) -> dict[str, str]:
        """The member each resolved key was given to."""
        ...

    async def get_member(self, member_id: str) -> Member | None:
        """One member, or None."""
        ...

    async def get_members(self, member_ids: Sequence[str]) -> dict[str, Member]:
        """The known members among `member_ids`."""
        ...

    async def member_statuses(self) -> dict[str, str]:
        """Every member's employment status (the full import's terminations)."""
        ...

    async def identity_version(self) -> int:
        """A number that grows whenever the identity map changes."""
        ...


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription. Empty filters match everything.

    The signing secret is not stored: it is derived from the master key, the id and
    `secret_salt` (see `projections.keyring`), so a copy of the database does not reveal it.
    """

    id: str
    url: str
    event_types: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    secret_salt: str = ""
    created_at: str = ""
    scopes: tuple[str, ...] = ()  # the fields its events carry (projections.event_view); () all


PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True)
class Delivery:
    """One event to one subscription: pending (due at `next_at_us`), delivered, or dead."""

    id: str
    event_id: str
    subscription_id: str
    state: str
    attempts: int
    next_at_us: int
    last_error: str | None = None
    body: bytes = b""  # the event's JSON, filled in by claim_deliveries and dead_letters


@dataclass(frozen=True)
class DeliveryCounts:
    """Outbox and delivery backlog, for status and metrics."""

    unfanned_events: int
    pending: int
    dead: int
    delivered: int


@runtime_checkable
class DeliveryStore(Protocol):
    """Subscriptions, the event outbox and deliveries."""

    async def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        ...

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        """One subscription, or None."""
        ...

    async def list_subscriptions(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        ...

    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove a subscription (its pending deliveries are dropped); False when unknown."""
        ...

    async def unfanned_events(self, limit: int) -> list[OutboxEvent]:
        """Outbox events not yet turned into deliveries, oldest first."""
        ...

    async def fan_out(self, event_id: str, subscription_ids: Sequence[str], now_us: int) -> None:
        """Create a pending delivery per subscription (repeatable), then mark the event fanned."""
        ...

    async def add_replays(
        self, events: Sequence[OutboxEvent], subscription_id: str, now_us: int
    ) -> int:
        """Events for one subscription only (`lrs webhooks replay`): stored as fanned out
        already, each with its one pending delivery, so no fan-out sends them to any other
        subscription. An event whose id is there already is skipped; how many were added."""
        ...

    async def claim_deliveries(
        self,
        owner: str,
        now_us: int,
        lease_us: int,
        limit: int,
        *,
        subscription_id: str | None = None,
    ) -> list[Delivery]:
        """Lease due pending deliveries (of one subscription, or any), in the order they fell
        due, each to one owner at a time, with their bodies. A leased delivery falls due again
        when its lease ends (its `next_at_us` moves there), unless its outcome comes first."""
        ...

    async def next_due_us(self, subscription_id: str) -> int | None:
        """When the subscription's next pending delivery falls due (None: it has none).

        A cheap look (one index entry) that a dispatcher takes before claiming: claims are
        writes, and most looks find nothing due.
        """
        ...

    async def finish_delivery(
        self,
        delivery_id: str,
        owner: str,
        *,
        state: str,
        attempts: int,
        next_at_us: int,
        error: str | None,
    ) -> bool:
        """Record an attempt's outcome if `owner` still holds the lease; whether it did."""
        ...

    async def dead_letters(
        self, limit: int, *, subscription_id: str | None = None
    ) -> list[Delivery]:
        """Dead deliveries (of one subscription, or any), oldest first, with their bodies."""
        ...

    async def recent_deliveries(self, subscription_id: str, limit: int) -> list[Delivery]:
        """One subscription's latest deliveries, with their bodies, latest `next_at_us` first.

        A delivered or dead delivery's `next_at_us` is when its last outcome was recorded; a
        pending one's is when it falls due (a retry's is after its backoff). Read per state on
        the (subscription, state, next_at_us) index, so it costs `limit` entries per state
        however many deliveries the subscription has had (the operator's console shows them).
        """
        ...

    async def redeliver(self, delivery_ids: Sequence[str] | None, now_us: int) -> int:
        """Make dead deliveries (these, or all when None) pending again from attempt 0."""
        ...

    async def delivery_counts(self) -> DeliveryCounts:
        """The backlog."""
        ...

    async def subscription_counts(self, subscription_id: str) -> dict[str, int]:
        """One subscription's deliveries by state: `queued` (pending, not yet tried),
        `retrying` (pending after a failed attempt), `delivered` and `dead`."""
        ...


@dataclass(frozen=True)
class ApiClient:
    """A marketplace OAuth client; only the hash of its secret is stored.

    `previous_secrets` are the secrets a rotation replaced, each accepted until its end of
    grace (hashes too).
    """

    client_id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: str
    rate_limit_per_min: int | None = None
    revoked: bool = False
    previous_secrets: tuple[PreviousSecret, ...] = ()


@dataclass(frozen=True)
class PreviousSecret:
    """A client secret a rotation replaced: its hash, accepted until `until_us`."""

    secret_hash: str
    until_us: int


@dataclass(frozen=True)
class SigningKey:
    """A token signing key id; the key itself is derived from the master key and the kid."""

    kid: str
    created_us: int
    retired: bool = False


@dataclass(frozen=True)
class SavedResponse:
    """The first response to an idempotent request."""

    key: str
    request_hash: str
    status: int
    body: bytes


@runtime_checkable
class AccessStore(Protocol):
    """OAuth clients, signing key ids, revoked tokens, idempotency keys."""

    async def add_client(self, client: ApiClient) -> None:
        """Store a new client; Conflict when the id is taken."""
        ...

    async def get_client(self, client_id: str) -> ApiClient | None:
        """One client, revoked or not."""
        ...

    async def list_clients(self) -> list[ApiClient]:
        """Every client, oldest first."""
        ...

    async def revoke_client(self, client_id: str) -> bool:
        """Mark a client revoked; False when unknown."""
        ...

    async def replace_client_secret(
        self, client_id: str, secret_hash: str, *, previous_until_us: int, now_us: int
    ) -> bool:
        """Give a live client a new secret hash; its current one is accepted until
        `previous_until_us` (not at all when that is not after `now_us`), and previous ones
        whose grace ended by `now_us` are forgotten. One atomic step; False when the client
        is unknown or revoked."""
        ...

    async def add_signing_key(self, key: SigningKey) -> None:
        """Record a new key id."""
        ...

    async def signing_keys(self) -> list[SigningKey]:
        """Every key id, oldest first."""
        ...

    async def retire_signing_key(self, kid: str) -> bool:
        """Stop accepting tokens signed with this key id; False when unknown."""
        ...

    async def revoke_token(self, jti: str, expires_us: int) -> None:
        """Refuse the token with this id until it expires anyway."""
        ...

    async def is_token_revoked(self, jti: str) -> bool:
        """Whether the token id was revoked."""
        ...

    async def any_revoked(self, ids: Sequence[str]) -> bool:
        """Whether any of these ids was revoked (`revoke_token`), in one read."""
        ...

    async def save_response(self, response: SavedResponse) -> SavedResponse:
        """Keep the first response for its key; the one kept (this or an earlier one)."""
        ...

    async def saved_response(self, key: str) -> SavedResponse | None:
        """The response kept for an idempotency key."""
        ...


@dataclass(frozen=True)
class PseudonymKey:
    """A version of the pseudonym key; the key itself is derived from the master key."""

    version: int
    created_us: int


@runtime_checkable
class PseudonymKeyStore(Protocol):
    """The pseudonym key versions (no key material)."""

    async def add_pseudonym_key(self, key: PseudonymKey) -> bool:
        """Record a new version; False when that version is already recorded."""
        ...

    async def pseudonym_keys(self) -> list[PseudonymKey]:
        """Every recorded version, oldest first."""
        ...
