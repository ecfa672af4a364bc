"""The HrisStore contract on every backend: sources, signatures seen once, events saved once."""

from __future__ import annotations

import time

from projections.store import ProjectionStores
from projections.store.hris import HrisEventRecord, HrisSource

SOURCE = HrisSource("workday", "salt1", "2026-01-01T00:00:00.000000Z")


async def test_a_source_is_added_once_and_replaced(stores: ProjectionStores) -> None:
    hris = stores.hris
    assert await hris.add_source(SOURCE) is True
    assert await hris.add_source(HrisSource("workday", "other", "2026-02-01")) is False
    assert await hris.get_source("workday") == SOURCE
    revoked = HrisSource("workday", "salt2", SOURCE.created_at, "r", "2026-03-01")
    await hris.put_source(revoked)
    await hris.add_source(HrisSource("adp", "s", "2026-01-02"))
    assert await hris.get_source("workday") == revoked
    assert [s.name for s in await hris.list_sources()] == ["adp", "workday"]
    assert await hris.get_source("nobody") is None


async def test_a_signature_is_new_once_until_it_expires(stores: ProjectionStores) -> None:
    hris = stores.hris
    now = int(time.time() * 1e6)  # real times: MongoDB's TTL monitor drops expired ones
    window = 300_000_000
    assert await hris.note_signature("sig", expires_us=now + window, now_us=now) is True
    assert await hris.note_signature("sig", expires_us=now + window, now_us=now + 5) is False
    assert await hris.note_signature("other", expires_us=now + window, now_us=now + 5) is True
    # past its expiry the replay window has closed: the key may be taken again
    later = now + window + 1
    assert await hris.note_signature("sig", expires_us=later + window, now_us=later) is True
    assert await hris.note_signature("sig", expires_us=later + window, now_us=later) is False


async def test_an_event_is_saved_once_and_the_first_wins(stores: ProjectionStores) -> None:
    hris = stores.hris
    first = HrisEventRecord("workday", "e1", "d1", "t1", {"status": "applied", "n": [1]})
    assert await hris.save_event(first) == first
    second = HrisEventRecord("workday", "e1", "d2", "t2", {"status": "superseded"})
    assert await hris.save_event(second) == first
    other = HrisEventRecord("adp", "e1", "d3", "t3", {"status": "unchanged"})
    assert await hris.save_event(other) == other
    found = await hris.get_events("workday", ["e1", "e2", "e1"])
    assert found == {"e1": first}
    assert await hris.get_events("workday", []) == {}


async def test_forgetting_members_nulls_their_employee_id_and_keeps_the_events(
    stores: ProjectionStores,
) -> None:
    hris = stores.hris
    for event_id, employee in (("e1", "E1"), ("e2", "E2"), ("e3", "E1")):
        result = {"event_id": event_id, "employee_id": employee, "status": "applied"}
        await hris.save_event(HrisEventRecord("workday", event_id, "d", "t", result))
    assert await hris.forget_members(["E1", "E404"]) == 2
    assert await hris.forget_members([]) == 0
    saved = await hris.get_events("workday", ["e1", "e2", "e3"])
    assert saved["e1"].result == {
        "event_id": "e1",
        "employee_id": None,
        "status": "applied",
        "erased": True,
    }
    assert saved["e3"].result["employee_id"] is None and saved["e1"].digest == "d"
    assert saved["e2"].result["employee_id"] == "E2"
    assert await hris.forget_members(["E1"]) == 0  # nothing names them any more
