"""The console's operator and session stores, on every backend."""

from __future__ import annotations

import asyncio

import pytest

from console.store import ConsoleStores, open_console_stores
from console.store.base import Operator, Session
from lrs.store.base import Backend


@pytest.fixture
async def stores(backend: Backend) -> ConsoleStores:
    return await open_console_stores(backend)


async def test_an_operator_name_is_taken_once(stores: ConsoleStores) -> None:
    ops = stores.operators
    assert await ops.add_operator(Operator("ada", "admin", 10))
    assert not await ops.add_operator(Operator("ada", "viewer", 20))
    assert await ops.get_operator("ada") == Operator("ada", "admin", 10)
    assert await ops.get_operator("nobody") is None


async def test_operators_are_listed_by_name_with_their_state(stores: ConsoleStores) -> None:
    ops = stores.operators
    for name in ("zoe", "ada", "max"):
        await ops.add_operator(Operator(name, "viewer", 1))
    assert await ops.set_password("max", "scrypt$x")
    assert await ops.set_disabled("zoe", True)
    assert not await ops.set_disabled("nobody", True)
    assert not await ops.set_password("nobody", "h")
    listed = await ops.list_operators()
    assert [o.name for o in listed] == ["ada", "max", "zoe"]
    assert [o.password_hash for o in listed] == [None, "scrypt$x", None]
    assert [o.disabled for o in listed] == [False, False, True]
    assert await ops.set_disabled("zoe", False)
    assert not (await ops.get_operator("zoe") or Operator("", "", 0, disabled=True)).disabled


async def test_a_link_is_taken_once_and_only_before_it_expires(stores: ConsoleStores) -> None:
    ops = stores.operators
    await ops.add_link("h1", "ada", expires_us=100)
    assert await ops.take_link("h1", now_us=99) == "ada"
    assert await ops.take_link("h1", now_us=99) is None
    await ops.add_link("h2", "ada", expires_us=100)
    assert await ops.take_link("h2", now_us=100) is None  # expired
    assert await ops.take_link("h2", now_us=1) is None  # and gone


async def test_a_new_link_replaces_the_operators_older_ones(stores: ConsoleStores) -> None:
    ops = stores.operators
    await ops.add_link("old", "ada", expires_us=100)
    await ops.add_link("other", "bob", expires_us=100)
    await ops.add_link("new", "ada", expires_us=100)
    assert await ops.take_link("old", now_us=1) is None
    assert await ops.take_link("new", now_us=1) == "ada"
    assert await ops.take_link("other", now_us=1) == "bob"


async def test_two_requests_presenting_one_link_get_it_once(stores: ConsoleStores) -> None:
    await stores.operators.add_link("h", "ada", expires_us=100)
    got = await asyncio.gather(*(stores.operators.take_link("h", now_us=1) for _ in range(5)))
    assert got.count("ada") == 1
    assert got.count(None) == 4


async def test_sessions_are_kept_touched_and_dropped(stores: ConsoleStores) -> None:
    sessions = stores.sessions
    await sessions.add_session(Session("s1", "ada", 10, 10, 1000))
    await sessions.add_session(Session("s2", "ada", 10, 10, 1000))
    await sessions.add_session(Session("s3", "bob", 10, 10, 1000))
    await sessions.touch_session("s1", 50)
    await sessions.touch_session("s1", 40)  # never moves back
    assert await sessions.get_session("s1") == Session("s1", "ada", 10, 50, 1000)
    await sessions.drop_session("s3")
    assert await sessions.get_session("s3") is None
    assert await sessions.drop_sessions_of("ada") == 2
    assert await sessions.get_session("s1") is None


async def test_expired_and_idle_sessions_are_swept(stores: ConsoleStores) -> None:
    sessions = stores.sessions
    await sessions.add_session(Session("expired", "ada", 0, 90, 100))
    await sessions.add_session(Session("idle", "ada", 0, 10, 1000))
    await sessions.add_session(Session("live", "ada", 0, 90, 1000))
    assert await sessions.drop_expired(now_us=100, idle_before_us=50) == 2
    assert await sessions.get_session("live") is not None
    assert await sessions.get_session("idle") is None
