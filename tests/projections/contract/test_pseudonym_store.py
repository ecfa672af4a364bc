"""PseudonymKeyStore contract, on every backend."""

from __future__ import annotations

import asyncio

from projections.store import ProjectionStores
from projections.store.base import PseudonymKey, PseudonymKeyStore


async def test_key_versions_are_recorded_once_each(stores: ProjectionStores) -> None:
    keys = stores.pseudonym_keys
    assert isinstance(keys, PseudonymKeyStore)
    assert await keys.pseudonym_keys() == []
    assert await keys.add_pseudonym_key(PseudonymKey(3, 30))
    assert await keys.add_pseudonym_key(PseudonymKey(2, 20))
    assert not await keys.add_pseudonym_key(PseudonymKey(2, 99))  # taken: the first stays
    assert await keys.pseudonym_keys() == [PseudonymKey(2, 20), PseudonymKey(3, 30)]


async def test_concurrent_adds_of_one_version_one_wins(stores: ProjectionStores) -> None:
    results = await asyncio.gather(
        *(stores.pseudonym_keys.add_pseudonym_key(PseudonymKey(2, n)) for n in range(5))
    )
    assert sorted(results) == [False] * 4 + [True]
    assert len(await stores.pseudonym_keys.pseudonym_keys()) == 1
