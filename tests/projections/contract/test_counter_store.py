"""CounterStore contract, on every backend."""

from __future__ import annotations

import asyncio

from projections.store import ProjectionStores
from projections.store.counters import CounterStore


async def test_counters_add_up_and_are_read_by_prefix(stores: ProjectionStores) -> None:
    counters = stores.counters
    assert isinstance(counters, CounterStore)
    assert await counters.counters() == {}
    await counters.add({})
    await counters.add({("webhook_success", "sub1"): 1, ("webhook_latency_sum", "sub1"): 0.25})
    await counters.add({("webhook_success", "sub1"): 1, ("provisioned", ""): 3})
    assert await counters.counters("webhook_") == {
        ("webhook_success", "sub1"): 2,
        ("webhook_latency_sum", "sub1"): 0.25,
    }
    assert (await counters.counters())[("provisioned", "")] == 3


async def test_concurrent_increments_are_not_lost(stores: ProjectionStores) -> None:
    await asyncio.gather(*(stores.counters.add({("n", "a.b"): 1}) for _ in range(20)))
    assert await stores.counters.counters("n") == {("n", "a.b"): 20}
