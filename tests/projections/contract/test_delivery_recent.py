"""DeliveryStore: one subscription's recent deliveries and dead letters, on every backend."""

from __future__ import annotations

import orjson

from projections.store import ProjectionStores
from projections.store.base import DEAD, DELIVERED, PENDING
from tests.projections.contract.test_delivery_access_stores import outbox


async def finish(
    stores: ProjectionStores, now: int, event: str, sub: str, state: str, at: int
) -> None:
    """Claim what is due at `now` (leased until `now + 1`) and record an outcome for one
    delivery, due again (or done) at `at`."""
    deliveries = stores.deliveries
    claimed = next(
        d
        for d in await deliveries.claim_deliveries("d", now_us=now, lease_us=1, limit=100)
        if d.event_id == event and d.subscription_id == sub
    )
    error = None if state == DELIVERED else "HTTP 503"
    assert await deliveries.finish_delivery(
        claimed.id, "d", state=state, attempts=1, next_at_us=at, error=error
    )


async def test_recent_deliveries_are_one_subscriptions_latest_first(
    stores: ProjectionStores,
) -> None:
    await outbox(stores, 1, 2, 3, 4, 5)
    deliveries = stores.deliveries
    for n in (1, 2, 3, 4, 5):
        await deliveries.fan_out(f"evt_{n}", ["sub_1", "sub_2"], now_us=0)
    await finish(stores, 11, "evt_1", "sub_1", DELIVERED, at=500)
    await finish(stores, 12, "evt_2", "sub_1", DEAD, at=300)
    await finish(stores, 13, "evt_3", "sub_1", PENDING, at=400)  # a retry due at 400
    await finish(stores, 14, "evt_4", "sub_2", DELIVERED, at=900)  # another subscription's
    # evt_4 and evt_5 of sub_1: claimed by each `finish`, left leased: due at 15
    recent = await deliveries.recent_deliveries("sub_1", 10)
    assert [d.event_id for d in recent][:3] == ["evt_1", "evt_3", "evt_2"]
    assert {d.subscription_id for d in recent} == {"sub_1"}
    assert sorted(d.event_id for d in recent) == ["evt_1", "evt_2", "evt_3", "evt_4", "evt_5"]
    first = recent[0]
    assert (first.state, first.attempts, first.next_at_us) == (DELIVERED, 1, 500)
    assert orjson.loads(first.body) == {"n": 1}  # with its event
    assert recent[2].last_error == "HTTP 503" and recent[2].state == DEAD
    assert [d.event_id for d in await deliveries.recent_deliveries("sub_1", 2)] == [
        "evt_1",
        "evt_3",
    ]
    assert await deliveries.recent_deliveries("sub_9", 10) == []


async def test_dead_letters_of_one_subscription(stores: ProjectionStores) -> None:
    await outbox(stores, 1, 2, 3)
    deliveries = stores.deliveries
    for n in (1, 2, 3):
        await deliveries.fan_out(f"evt_{n}", ["sub_1", "sub_2"], now_us=0)
    await finish(stores, 15, "evt_1", "sub_1", DEAD, at=20)
    await finish(stores, 16, "evt_2", "sub_2", DEAD, at=10)
    await finish(stores, 17, "evt_3", "sub_1", DEAD, at=5)
    mine = await deliveries.dead_letters(10, subscription_id="sub_1")
    assert [d.event_id for d in mine] == ["evt_3", "evt_1"]  # oldest first
    assert all(d.state == DEAD and d.body for d in mine)
    every = await deliveries.dead_letters(10)
    assert [(d.event_id, d.subscription_id) for d in every] == [
        ("evt_3", "sub_1"),
        ("evt_2", "sub_2"),
        ("evt_1", "sub_1"),
    ]
    assert await deliveries.dead_letters(10, subscription_id="sub_9") == []
    assert len(await deliveries.dead_letters(1, subscription_id="sub_1")) == 1
