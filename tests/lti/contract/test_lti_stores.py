"""The LTI store Protocols, asserted on every backend (the `backend` fixture, tests/conftest.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import fields
from types import SimpleNamespace
from typing import Protocol, cast

import pytest

from lrs.errors import Conflict, LRSError
from lrs.store.base import Backend
from lti.store import LTIStores, open_lti_stores
from lti.store.base import (
    Consumer,
    GradebookStore,
    LineItem,
    LineItemFilter,
    OutcomeRecord,
    OutcomeStore,
    PlatformKey,
    PlatformKeyStore,
    RegistrationStore,
    ReplayStore,
    ScoreRecord,
    Tool,
)


class LTIStore(
    PlatformKeyStore, RegistrationStore, ReplayStore, GradebookStore, OutcomeStore, Protocol
):
    """What the tests call on `store`: the methods of every LTI store Protocol."""


@pytest.fixture
async def stores(backend: Backend) -> LTIStores:
    return await open_lti_stores(backend)


@pytest.fixture
def store(stores: LTIStores) -> LTIStore:
    """One object with the public methods of every store in the bundle (each from its own)."""
    parts = [getattr(stores, f.name) for f in fields(stores)]
    methods = {name: getattr(part, name) for part in parts for name in public_methods(part)}
    return cast(LTIStore, SimpleNamespace(**methods))


def public_methods(part: object) -> list[str]:
    return [name for name in dir(part) if not name.startswith("_")]


def tool(n: int, **changes: object) -> Tool:
    fields: dict[str, object] = {
        "id": f"t{n}",
        "client_id": f"Client-{n}",
        "name": f"tool {n}",
        "scopes": ("https://purl.imsglobal.org/spec/lti-ags/scope/score",),
        "deployment_ids": ("d1", "d2"),
        "jwks_url": "https://tool.example/jwks",
        "user_home_page": "https://lms.example",
        "passing_threshold": 0.6,
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    fields.update(changes)
    return Tool(**fields)  # type: ignore[arg-type]


def item(n: int, tool_id: str = "t1", **props: object) -> LineItem:
    return LineItem(
        id=f"li{n:03d}",
        tool_id=tool_id,
        properties={"label": f"item {n}", "scoreMaximum": 10, **props},
    )


def score(item_id: str, user: str, ts: int, fp: str = "a", pending: bool = True) -> ScoreRecord:
    return ScoreRecord(
        line_item_id=item_id,
        user_id=user,
        timestamp_us=ts,
        score={"userId": user, "scoreGiven": ts % 10, "https://ext.example/a.b": {"$x": 1}},
        fingerprint=fp,
        statement_ids=(f"s{ts}",),
        pending=pending,
    )


async def test_the_store_satisfies_every_protocol(store: LTIStore) -> None:
    for protocol in (
        PlatformKeyStore,
        RegistrationStore,
        ReplayStore,
        GradebookStore,
        OutcomeStore,
    ):
        assert isinstance(store, protocol)


async def test_each_store_of_the_bundle_satisfies_its_protocol(stores: LTIStores) -> None:
    assert isinstance(stores.platform_keys, PlatformKeyStore)
    assert isinstance(stores.registrations, RegistrationStore)
    assert isinstance(stores.replays, ReplayStore)
    assert isinstance(stores.gradebook, GradebookStore)
    assert isinstance(stores.outcomes, OutcomeStore)


async def test_the_first_platform_key_is_kept(store: LTIStore) -> None:
    assert await store.get_platform_key() is None
    first = PlatformKey(kid="k1", private_key_enc="v1.enc1", created_at="2026-01-01")
    assert await store.add_platform_key(first) == first
    assert await store.add_platform_key(PlatformKey("k2", "v1.enc2", "2026-01-02")) == first
    assert await store.get_platform_key() == first


async def test_concurrent_platform_keys_agree(store: LTIStore) -> None:
    keys = [PlatformKey(f"k{n}", f"v1.{n}", "2026") for n in range(5)]
    kept = await asyncio.gather(*(store.add_platform_key(k) for k in keys))
    assert len(set(kept)) == 1 and kept[0] in keys


async def test_tools_round_trip_and_list_oldest_first(store: LTIStore) -> None:
    assert await store.list_tools() == []
    tools = [tool(n) for n in (3, 1, 2)]
    for t in tools:
        await store.add_tool(t)
    assert await store.get_tool("t1") == tools[1]
    assert await store.find_tool("Client-2") == tools[2]
    assert await store.find_tool("client-2") is None  # client ids are case-sensitive
    assert await store.get_tool("nope") is None
    assert await store.list_tools() == tools


async def test_a_tool_id_and_client_id_are_registered_once(store: LTIStore) -> None:
    await store.add_tool(tool(1))
    with pytest.raises(Conflict):
        await store.add_tool(tool(1, client_id="other"))
    with pytest.raises(Conflict):
        await store.add_tool(tool(2, client_id="Client-1"))
    assert [t.id for t in await store.list_tools()] == ["t1"]


async def test_consumers_round_trip(store: LTIStore) -> None:
    first = Consumer(key="ck1", name="one", secret_enc="v1.x", passing_threshold=0.5)
    second = Consumer(key="ck2", name="two", secret_enc="v1.y", user_home_page="https://h")
    await store.add_consumer(first)
    await store.add_consumer(second)
    with pytest.raises(LRSError):
        await store.add_consumer(Consumer(key="ck1", name="dup", secret_enc="v1.z"))
    assert await store.get_consumer("ck1") == first
    assert await store.get_consumer("nope") is None
    assert await store.list_consumers() == [first, second]
    assert "v1.x" not in repr(first)


async def test_disabling_a_tool_or_consumer_keeps_the_first_time(store: LTIStore) -> None:
    await store.add_tool(tool(1))
    await store.add_tool(tool(2))
    await store.add_consumer(Consumer(key="ck1", name="one", secret_enc="v1.x"))
    assert await store.disable_tool("t1", "2026-02-01T00:00:00+00:00")
    assert await store.disable_tool("t1", "2026-03-01T00:00:00+00:00")  # already: kept
    assert not await store.disable_tool("nope", "2026-02-01T00:00:00+00:00")
    assert await store.get_tool("t1") == tool(1, disabled_at="2026-02-01T00:00:00+00:00")
    assert await store.find_tool("Client-1") == await store.get_tool("t1")
    assert (await store.get_tool("t2")) == tool(2)  # the other is untouched
    assert await store.disable_consumer("ck1", "2026-02-02T00:00:00+00:00")
    assert not await store.disable_consumer("ck9", "2026-02-02T00:00:00+00:00")
    [consumer] = await store.list_consumers()
    assert consumer.disabled_at == "2026-02-02T00:00:00+00:00" and consumer.secret_enc == "v1.x"


async def test_use_once(store: LTIStore) -> None:
    later = int(time.time()) + 600
    assert await store.use_once("jti:a", later) is True
    assert await store.use_once("jti:a", later) is False
    assert await store.use_once("jti:A", later) is True
    # an expired record no longer blocks the value
    assert await store.use_once("nonce:old", int(time.time()) - 5) is True
    assert await store.use_once("nonce:old", later) is True
    assert await store.use_once("nonce:old", later) is False


async def test_use_once_is_atomic_under_concurrency(store: LTIStore) -> None:
    later = int(time.time()) + 600
    outcomes = await asyncio.gather(*(store.use_once("jti:race", later) for _ in range(10)))
    assert outcomes.count(True) == 1


async def test_line_items_crud(store: LTIStore) -> None:
    first = item(1, tag="quiz", resourceLinkId="rl1", **{"https://ext.example/a.b": {"$k": 1}})
    await store.add_line_item(first)
    assert await store.get_line_item("li001") == first
    changed = item(1, tag="exam", label="renamed")
    assert await store.replace_line_item(changed) is True
    assert await store.get_line_item("li001") == changed
    assert await store.replace_line_item(item(9)) is False
    assert await store.replace_line_item(item(1, tool_id="t2")) is False  # not that tool's
    assert await store.delete_line_item("li001") is True
    assert await store.delete_line_item("li001") is False
    assert await store.get_line_item("li001") is None


async def test_line_items_list_filter_and_page(store: LTIStore) -> None:
    for n in range(7):
        await store.add_line_item(item(n, tag="odd" if n % 2 else "even", resourceId=f"r{n % 3}"))
    await store.add_line_item(item(50, tool_id="t2", tag="odd"))
    seen: list[str] = []
    after = None
    while True:
        page = await store.list_line_items(LineItemFilter("t1", limit=3, after=after))
        seen += [i.id for i in page.items]
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == [f"li{n:03d}" for n in range(7)]
    odd = await store.list_line_items(LineItemFilter("t1", tag="odd"))
    assert [i.id for i in odd.items] == ["li001", "li003", "li005"] and odd.next_position is None
    both = await store.list_line_items(LineItemFilter("t1", tag="even", resource_id="r0"))
    assert [i.id for i in both.items] == ["li000", "li006"]
    assert (await store.list_line_items(LineItemFilter("t1", resource_link_id="x"))).items == []
    assert [i.id for i in (await store.list_line_items(LineItemFilter("t2"))).items] == ["li050"]


async def test_a_score_must_be_newer(store: LTIStore) -> None:
    assert await store.begin_score(score("li1", "u1", 100)) is True
    assert await store.begin_score(score("li1", "u1", 100, fp="b")) is False  # same time, other
    assert await store.begin_score(score("li1", "u1", 100)) is True  # the pending one again
    await store.finish_score("li1", "u1", 100)
    assert await store.begin_score(score("li1", "u1", 100)) is False  # finished: not newer
    assert await store.begin_score(score("li1", "u1", 99)) is False
    assert await store.begin_score(score("li1", "u1", 101, fp="c")) is True
    got = await store.get_score("li1", "u1")
    assert got == score("li1", "u1", 101, fp="c")
    await store.finish_score("li1", "u1", 100)  # not the last one any more: no effect
    assert (await store.get_score("li1", "u1")).pending is True  # type: ignore[union-attr]


async def test_concurrent_scores_keep_the_newest(store: LTIStore) -> None:
    results = await asyncio.gather(
        *(store.begin_score(score("li1", "u1", ts, fp=str(ts), pending=False)) for ts in range(20))
    )
    assert results.count(True) >= 1
    assert (await store.get_score("li1", "u1")).timestamp_us == 19  # type: ignore[union-attr]


async def test_scores_list_by_user_and_page(store: LTIStore) -> None:
    users = ["u3", "U1", "u2", "a0", "u10"]
    for ts, user in enumerate(users, start=1):
        await store.begin_score(score("li1", user, ts))
    await store.begin_score(score("li2", "u1", 5))
    seen: list[str] = []
    after = None
    while True:
        page = await store.list_scores("li1", user_id=None, limit=2, after=after)
        seen += [r.user_id for r in page.items]
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == sorted(users)
    only = await store.list_scores("li1", user_id="u2", limit=10, after=None)
    assert [r.user_id for r in only.items] == ["u2"]
    assert await store.get_score("li1", "nobody") is None
    await store.delete_line_item("li1")  # scores go with their line item
    assert (await store.list_scores("li1", user_id=None, limit=10, after=None)).items == []
    assert await store.get_score("li2", "u1") is not None


async def test_outcomes(store: LTIStore) -> None:
    key = ("ck", "link 1", "user/1")
    assert await store.get_outcome(*key) is None
    first = OutcomeRecord(
        *key, score=0.5, message_id="m1", received_us=10, statement_ids=("a", "b")
    )
    assert await store.put_outcome(first) == first
    second = OutcomeRecord(
        *key, score=0.7, message_id="m2", received_us=20, statement_ids=("c", "a")
    )
    stored = await store.put_outcome(second)
    assert stored.score == 0.7 and stored.received_us == 20
    assert stored.statement_ids == ("a", "b", "c")
    assert await store.get_outcome(*key) == stored
    assert await store.get_outcome("ck", "link 1", "user/2") is None
    assert await store.delete_outcome(*key, received_us=10) is False  # changed since
    assert await store.delete_outcome(*key, received_us=20) is True
    assert await store.get_outcome(*key) is None


async def test_a_taken_line_item_id_is_a_conflict(store: LTIStore) -> None:
    await store.add_line_item(item(1))
    with pytest.raises(Conflict):  # 409 on every backend, not a 500 (MongoDB) or 503 (SQLite)
        await store.add_line_item(item(1, label="another"))
    assert await store.get_line_item("li001") == item(1)
