"""SQLite's `save_records` writes a batch's rows a kind at a time; the outcome must be that of
saving one record after the other (the contract suite covers distinct pairs on every backend;
here, a pair saved twice in one call, which only the SQLite job orders)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from lrs.store.sqlite import SQLiteBackend
from projections.store import ProjectionStores, open_stores
from projections.store.base import OutboxEvent, RecordSave


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[ProjectionStores]:
    backend = SQLiteBackend(tmp_path)
    try:
        yield await open_stores(backend)
    finally:
        await backend.close()


def _save(n: int, rev: int, *, changed: bool = True, member: str = "E1") -> RecordSave:
    event = OutboxEvent(f"evt_{n}", "learning.updated", member, "A", n, orjson.dumps({"n": n}))
    return RecordSave(
        member, "A", rev, {"n": n}, n, now_us=100 + n, event=event if changed else None
    )


async def _outbox(stores: ProjectionStores) -> list[str]:
    return [e.id for e in await stores.deliveries.unfanned_events(50)]


async def test_a_pair_saved_twice_in_one_call_is_compared_with_its_first_save(
    stores: ProjectionStores,
) -> None:
    saved = await stores.aggregates.save_records(
        [_save(1, 0), _save(2, 1), _save(3, 1), _save(4, 2, changed=False)]
    )
    assert saved == {("E1", "A")}
    got = await stores.aggregates.get_record("E1", "A")
    assert got is not None and (got.rev, got.version, got.record) == (3, 2, {"n": 2})
    assert await _outbox(stores) == ["evt_1", "evt_2"]  # the lost save (3) left no event


async def test_a_rev_move_then_a_change_of_one_pair_in_one_call(
    stores: ProjectionStores,
) -> None:
    assert await stores.aggregates.save_records([_save(1, 0)]) == {("E1", "A")}
    saved = await stores.aggregates.save_records(
        [_save(1, 1, changed=False), _save(5, 2), _save(6, 0, member="E2")]
    )
    assert saved == {("E1", "A"), ("E2", "A")}
    got = await stores.aggregates.get_records([("E1", "A"), ("E2", "A")])
    assert {p: (r.rev, r.record) for p, r in got.items()} == {
        ("E1", "A"): (3, {"n": 5}),
        ("E2", "A"): (1, {"n": 6}),
    }
    page = await stores.aggregates.page_records(limit=10)  # update times follow the saves
    assert [r.record for r in page.records] == [{"n": 5}, {"n": 6}]
    assert await _outbox(stores) == ["evt_1", "evt_5", "evt_6"]
