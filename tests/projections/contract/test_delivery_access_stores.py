"""DeliveryStore and AccessStore contracts, on every backend."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lrs.errors import Conflict
from projections.store import ProjectionStores
from projections.store.base import (
    DEAD,
    DELIVERED,
    PENDING,
    AccessStore,
    ApiClient,
    DeliveryStore,
    OutboxEvent,
    PreviousSecret,
    SavedResponse,
    SigningKey,
    Subscription,
)


def test_stores_satisfy_the_protocols(stores: ProjectionStores) -> None:
    assert isinstance(stores.deliveries, DeliveryStore)
    assert isinstance(stores.access, AccessStore)


def sub(n: int, **filters: tuple[str, ...]) -> Subscription:
    return Subscription(
        f"sub_{n}",
        f"https://h{n}.example/x",
        secret_salt=f"salt{n}",
        created_at=f"2024-0{n}",
        **filters,
    )


async def outbox(stores: ProjectionStores, *numbers: int) -> None:
    """Events saved the way the worker saves them: with a record change."""
    for n in numbers:
        event = OutboxEvent(
            f"evt_{n}", "learning.updated", "E1", f"A{n}", n, orjson.dumps({"n": n})
        )
        assert await stores.aggregates.save_record(
            "E1", f"A{n}", expected_rev=0, record={"n": n}, version=1, now_us=n, event=event
        )
    await stores.aggregates.publish_events()


# --- subscriptions ----------------------------------------------------------------------------


async def test_subscriptions(stores: ProjectionStores) -> None:
    deliveries = stores.deliveries
    await deliveries.add_subscription(sub(2, event_types=("badge.awarded",), members=("E1",)))
    await deliveries.add_subscription(
        sub(1, verbs=("http://v/a.b",), activities=("http://a/$x",), scopes=("read:scores",))
    )
    with pytest.raises(Conflict):
        await deliveries.add_subscription(sub(1))
    assert [s.id for s in await deliveries.list_subscriptions()] == ["sub_1", "sub_2"]
    assert await deliveries.get_subscription("sub_2") == sub(
        2, event_types=("badge.awarded",), members=("E1",)
    )
    assert (await deliveries.get_subscription("sub_1")).scopes == ("read:scores",)  # type: ignore[union-attr]
    assert await deliveries.get_subscription("sub_9") is None
    assert await deliveries.delete_subscription("sub_2")
    assert not await deliveries.delete_subscription("sub_2")
    assert [s.id for s in await deliveries.list_subscriptions()] == ["sub_1"]


# --- outbox, fan-out, deliveries --------------------------------------------------------------


async def test_fan_out_is_repeatable_and_marks_events(stores: ProjectionStores) -> None:
    await outbox(stores, 1, 2)
    deliveries = stores.deliveries
    assert [e.id for e in await deliveries.unfanned_events(10)] == ["evt_1", "evt_2"]
    await deliveries.fan_out("evt_1", ["sub_1", "sub_2"], now_us=100)
    await deliveries.fan_out("evt_1", ["sub_1", "sub_2"], now_us=100)  # a crashed fan-out again
    await deliveries.fan_out("evt_2", [], now_us=100)  # nobody subscribed
    assert await deliveries.unfanned_events(10) == []
    counts = await deliveries.delivery_counts()
    assert (counts.unfanned_events, counts.pending, counts.delivered, counts.dead) == (0, 2, 0, 0)


async def test_replays_reach_one_subscription_and_no_fan_out(stores: ProjectionStores) -> None:
    deliveries = stores.deliveries
    replays = [OutboxEvent(f"evt_r{n}", "learning.updated", "E1", "A", n, b"{}") for n in (1, 2)]
    assert await deliveries.add_replays(replays, "sub_1", now_us=100) == 2
    assert await deliveries.add_replays(replays[:1], "sub_1", now_us=100) == 0  # again: skipped
    assert await deliveries.add_replays([], "sub_1", now_us=100) == 0
    assert await deliveries.unfanned_events(10) == []  # no fan-out sends them elsewhere
    claimed = await deliveries.claim_deliveries("d1", now_us=100, lease_us=50, limit=10)
    assert sorted((d.event_id, d.subscription_id) for d in claimed) == [
        ("evt_r1", "sub_1"),
        ("evt_r2", "sub_1"),
    ]
    assert all(d.body == b"{}" for d in claimed)
    counts = await deliveries.delivery_counts()
    assert (counts.unfanned_events, counts.pending) == (0, 2)


async def test_claims_are_exclusive_and_expire(stores: ProjectionStores) -> None:
    await outbox(stores, 1)
    deliveries = stores.deliveries
    await deliveries.fan_out("evt_1", ["sub_1", "sub_2"], now_us=100)
    first = await deliveries.claim_deliveries("d1", now_us=100, lease_us=50, limit=1)
    assert len(first) == 1 and orjson.loads(first[0].body) == {"n": 1}
    assert first[0].state == PENDING and first[0].attempts == 0
    second = await deliveries.claim_deliveries("d2", now_us=110, lease_us=50, limit=10)
    assert [d.id for d in second] != [d.id for d in first] and len(second) == 1
    assert await deliveries.claim_deliveries("d3", now_us=120, lease_us=50, limit=10) == []
    again = await deliveries.claim_deliveries("d3", now_us=151, lease_us=50, limit=10)
    assert [d.id for d in again] == [first[0].id]  # d1's lease expired
    assert not await deliveries.finish_delivery(
        first[0].id, "d1", state=DELIVERED, attempts=1, next_at_us=151, error=None
    )  # d1 lost its lease: its outcome is not recorded


async def test_counts_per_subscription_tell_retrying_from_queued(stores: ProjectionStores) -> None:
    await outbox(stores, 1, 2, 3, 4)
    deliveries = stores.deliveries
    for n in (1, 2, 3, 4):
        await deliveries.fan_out(f"evt_{n}", ["sub_1"], now_us=0)
    claimed = await deliveries.claim_deliveries("d", now_us=0, lease_us=10, limit=3)
    for delivery, state, attempts in zip(
        claimed, (PENDING, DELIVERED, DEAD), (1, 1, 8), strict=True
    ):
        assert await deliveries.finish_delivery(
            delivery.id, "d", state=state, attempts=attempts, next_at_us=0, error=None
        )
    await deliveries.fan_out("evt_1", ["sub_2"], now_us=0)
    counts = {"queued": 1, "retrying": 1, DELIVERED: 1, DEAD: 1}
    assert await deliveries.subscription_counts("sub_1") == counts
    none = dict.fromkeys(counts, 0)
    assert await deliveries.subscription_counts("sub_2") == {**none, "queued": 1}
    assert await deliveries.subscription_counts("sub_9") == none


async def test_concurrent_claims_never_share_a_delivery(stores: ProjectionStores) -> None:
    await outbox(stores, *range(1, 9))
    for n in range(1, 9):
        await stores.deliveries.fan_out(f"evt_{n}", ["sub_1"], now_us=1)
    claimed = await asyncio.gather(
        *(stores.deliveries.claim_deliveries(f"d{k}", 5, 100, 8) for k in range(4))
    )
    ids = [d.id for batch in claimed for d in batch]
    assert len(ids) == len(set(ids)) == 8


async def test_outcomes_backoff_dead_letters_and_redelivery(stores: ProjectionStores) -> None:
    await outbox(stores, 1, 2)
    deliveries = stores.deliveries
    await deliveries.fan_out("evt_1", ["sub_1"], now_us=0)
    await deliveries.fan_out("evt_2", ["sub_1"], now_us=0)
    claimed = await deliveries.claim_deliveries("d", now_us=0, lease_us=10, limit=10)
    one, two = sorted(claimed, key=lambda d: d.event_id)
    assert await deliveries.finish_delivery(
        one.id, "d", state=PENDING, attempts=1, next_at_us=500, error="HTTP 500"
    )
    assert await deliveries.finish_delivery(
        two.id, "d", state=DEAD, attempts=8, next_at_us=0, error="HTTP 410"
    )
    assert await deliveries.claim_deliveries("d", now_us=499, lease_us=10, limit=10) == []
    [retry] = await deliveries.claim_deliveries("d", now_us=500, lease_us=10, limit=10)
    assert (retry.id, retry.attempts, retry.last_error) == (one.id, 1, "HTTP 500")
    await deliveries.finish_delivery(
        one.id, "d", state=DELIVERED, attempts=2, next_at_us=0, error=None
    )
    [dead] = await deliveries.dead_letters(10)
    assert (dead.id, dead.attempts, dead.state, orjson.loads(dead.body)) == (
        two.id,
        8,
        DEAD,
        {"n": 2},
    )
    counts = await deliveries.delivery_counts()
    assert (counts.pending, counts.delivered, counts.dead) == (0, 1, 1)

    assert await deliveries.redeliver(["nope"], now_us=900) == 0
    assert await deliveries.redeliver(None, now_us=900) == 1
    [revived] = await deliveries.claim_deliveries("d", now_us=900, lease_us=10, limit=10)
    assert revived.id == two.id and revived.attempts == 0
    assert await deliveries.dead_letters(10) == []


async def test_claims_of_one_subscription_and_when_its_next_delivery_falls_due(
    stores: ProjectionStores,
) -> None:
    await outbox(stores, 1, 2, 3)
    deliveries = stores.deliveries
    assert await deliveries.next_due_us("sub_1") is None
    await deliveries.fan_out("evt_1", ["sub_1", "sub_2"], now_us=100)
    await deliveries.fan_out("evt_2", ["sub_1"], now_us=200)
    await deliveries.fan_out("evt_3", ["sub_1"], now_us=300)
    assert (await deliveries.next_due_us("sub_1"), await deliveries.next_due_us("sub_2")) == (
        100,
        100,
    )
    # one subscription's, in the order they fell due; the other's are left alone
    one = await deliveries.claim_deliveries("d", 250, 1000, 5, subscription_id="sub_1")
    assert [d.event_id for d in one] == ["evt_1", "evt_2"]
    assert {d.subscription_id for d in one} == {"sub_1"}
    assert await deliveries.next_due_us("sub_2") == 100
    # leased ones fall due when the lease ends: the next is evt_3, at 300
    assert await deliveries.next_due_us("sub_1") == 300
    first = one[0]
    assert await deliveries.finish_delivery(
        first.id, "d", state=PENDING, attempts=1, next_at_us=280, error="HTTP 500"
    )
    assert await deliveries.next_due_us("sub_1") == 280  # the retry, before evt_3
    again = await deliveries.claim_deliveries("d", 400, 1000, 5, subscription_id="sub_1")
    assert [d.event_id for d in again] == ["evt_1", "evt_3"]  # the retry fell due first
    for delivery in [*again, one[1]]:
        await deliveries.finish_delivery(
            delivery.id, "d", state=DELIVERED, attempts=1, next_at_us=400, error=None
        )
    assert await deliveries.next_due_us("sub_1") is None  # delivered ones are not due
    assert await deliveries.next_due_us("sub_9") is None
    [other] = await deliveries.claim_deliveries("d", 400, 1000, 5, subscription_id="sub_2")
    assert other.event_id == "evt_1"
    assert await deliveries.next_due_us("sub_2") == 1400  # leased until 400 + 1000


async def test_deleting_a_subscription_drops_its_pending_deliveries(
    stores: ProjectionStores,
) -> None:
    await stores.deliveries.add_subscription(sub(1))
    await outbox(stores, 1)
    await stores.deliveries.fan_out("evt_1", ["sub_1"], now_us=0)
    await stores.deliveries.delete_subscription("sub_1")
    assert (await stores.deliveries.delivery_counts()).pending == 0


# --- access -----------------------------------------------------------------------------------


def client(n: int, **kw: object) -> ApiClient:
    options = {"rate_limit_per_min": None, "revoked": False}
    options.update(kw)
    return ApiClient(
        f"mkt_{n}", f"c{n}", ("read:profile", "admin"), f"scrypt$hash{n}", f"2024-0{n}", **options
    )  # type: ignore[arg-type]


async def test_clients(stores: ProjectionStores) -> None:
    access = stores.access
    await access.add_client(client(2, rate_limit_per_min=5))
    await access.add_client(client(1))
    with pytest.raises(Conflict):
        await access.add_client(client(1))
    assert await access.get_client("mkt_2") == client(2, rate_limit_per_min=5)
    assert await access.get_client("mkt_9") is None
    assert [c.client_id for c in await access.list_clients()] == ["mkt_1", "mkt_2"]
    assert await access.revoke_client("mkt_1")
    assert not await access.revoke_client("mkt_9")
    got = await access.get_client("mkt_1")
    assert got is not None and got.revoked


async def test_replacing_a_client_secret_keeps_the_old_one_for_its_grace(
    stores: ProjectionStores,
) -> None:
    access = stores.access
    await access.add_client(client(1))
    assert await access.replace_client_secret("mkt_1", "h2", previous_until_us=500, now_us=100)
    got = await access.get_client("mkt_1")
    assert got is not None and got.secret_hash == "h2"
    assert got.previous_secrets == (PreviousSecret("scrypt$hash1", 500),)
    # a second rotation keeps the first's old secret while its grace lasts ...
    assert await access.replace_client_secret("mkt_1", "h3", previous_until_us=900, now_us=200)
    got = await access.get_client("mkt_1")
    assert got is not None and got.secret_hash == "h3"
    assert got.previous_secrets == (PreviousSecret("scrypt$hash1", 500), PreviousSecret("h2", 900))
    # ... and forgets those whose grace has ended; no grace: the replaced one is not kept
    assert await access.replace_client_secret("mkt_1", "h4", previous_until_us=600, now_us=600)
    [listed] = await access.list_clients()
    assert listed.secret_hash == "h4" and listed.previous_secrets == (PreviousSecret("h2", 900),)
    assert not await access.replace_client_secret("mkt_9", "h", previous_until_us=1, now_us=0)
    await access.revoke_client("mkt_1")
    assert not await access.replace_client_secret("mkt_1", "h5", previous_until_us=1, now_us=0)


async def test_concurrent_secret_replacements_lose_no_secret(stores: ProjectionStores) -> None:
    access = stores.access
    await access.add_client(client(1))
    await asyncio.gather(
        *(
            access.replace_client_secret("mkt_1", f"n{i}", previous_until_us=10_000, now_us=1)
            for i in range(5)
        )
    )
    got = await access.get_client("mkt_1")
    assert got is not None
    hashes = {got.secret_hash, *(p.secret_hash for p in got.previous_secrets)}
    assert hashes == {"scrypt$hash1", *(f"n{i}" for i in range(5))}  # a chain, none lost


async def test_signing_keys_and_revoked_tokens(stores: ProjectionStores) -> None:
    access = stores.access
    await access.add_signing_key(SigningKey("k_b", 20))
    await access.add_signing_key(SigningKey("k_a", 10))
    assert [k.kid for k in await access.signing_keys()] == ["k_a", "k_b"]
    assert await access.retire_signing_key("k_a") and not await access.retire_signing_key("k_z")
    assert [k.retired for k in await access.signing_keys()] == [True, False]
    far = 4_000_000_000_000_000  # year 2096
    assert not await access.is_token_revoked("jti1")
    await access.revoke_token("jti1", far)
    await access.revoke_token("jti1", far)
    assert await access.is_token_revoked("jti1")
    assert await access.any_revoked(["jti0", "jti1"]) and await access.any_revoked(["jti1"])
    assert not await access.any_revoked(["jti0", "kid:k_a"]) and not await access.any_revoked([])


async def test_idempotent_responses_first_write_wins(stores: ProjectionStores) -> None:
    access = stores.access
    assert await access.saved_response("k") is None
    first = SavedResponse("k", "h1", 201, b'{"a": 1}')
    assert await access.save_response(first) == first
    assert await access.save_response(SavedResponse("k", "h2", 201, b"{}")) == first
    assert await access.saved_response("k") == first
