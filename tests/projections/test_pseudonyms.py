"""Keyed pseudonyms: their form, reveal, rotation, the public id by worker type, and what the
marketplace reads, exports and receives by webhook for a pseudonymous member."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import orjson
import pytest

from projections.keyring import Keyring
from projections.pseudonyms import (
    Disclosure,
    Pseudonyms,
    disclose_record,
    parse_pseudonym,
    public_member_id,
)
from projections.settings import ProjectionSettings
from projections.store import ProjectionStores
from projections.store.base import Member
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, hris_actor, statement

P = "/marketplace/v1"


async def listing(*ids: str) -> AsyncIterator[str]:
    for member_id in ids:
        yield member_id


def pseudonyms_on(stores: ProjectionStores, key: bytes = b"k" * 32) -> Pseudonyms:
    return Pseudonyms(Keyring(key), stores.pseudonym_keys)


async def test_form_key_and_version(stores: ProjectionStores) -> None:
    names = pseudonyms_on(stores)
    first = names.pseudonym("E1", 1)
    assert re.fullmatch(r"pm_v1_[a-z2-7]{26}", first) and parse_pseudonym(first) == 1
    assert names.pseudonym("E1", 1) == first  # stable
    assert names.pseudonym("E2", 1) != first and names.pseudonym("E1", 2) != first
    assert pseudonyms_on(stores, b"x" * 32).pseudonym("E1", 1) != first  # keyed
    for bad in ("E1", "pm_v0_" + "a" * 26, "pm_v1_" + "a" * 25, first.upper()):
        assert parse_pseudonym(bad) is None


async def test_reveal_and_rotation(stores: ProjectionStores) -> None:
    names = pseudonyms_on(stores)
    old = names.pseudonym("E2", 1)
    assert await names.reveal(old, listing("E1", "E2", "E3")) == "E2"
    assert await names.reveal(names.pseudonym("E9", 1), listing("E1", "E2")) is None
    assert await names.reveal(names.pseudonym("E2", 2), listing("E2")) is None  # no v2 yet
    assert await names.current_version() == 1
    assert await names.rotate(now_us=5) == 2 and await names.rotate(now_us=6) == 3
    assert await names.current_version() == 3
    assert await names.reveal(names.pseudonym("E2", 2), listing("E1", "E2")) == "E2"
    assert await names.reveal(old, listing("E2")) == "E2"  # old ids still reveal
    assert await pseudonyms_on(stores, b"x" * 32).reveal(old, listing("E2")) is None


def test_public_id_by_worker_type() -> None:
    types = frozenset({"contractor", "alumni"})

    def pseudonym(member_id: str) -> str:
        return "pm_" + member_id

    assert public_member_id("E1", "contractor", types, pseudonym) == "pm_E1"
    assert public_member_id("E1", "alumni", types, pseudonym) == "pm_E1"
    assert public_member_id("E1", "employee", types, pseudonym) == "E1"
    assert public_member_id("E1", None, types, pseudonym) == "E1"
    assert public_member_id("E1", "contractor", frozenset(), pseudonym) == "E1"
    record = {"member_id": "E1", "email": "e1@example.com", "activity_id": COURSE}
    assert disclose_record(record, "E1") is record
    assert disclose_record(record, "pm_E1") == {**record, "member_id": "pm_E1", "email": None}
    assert disclose_record(None, "pm_E1") is None


async def test_disclosure_uses_the_current_key_version(stores: ProjectionStores) -> None:
    names = pseudonyms_on(stores)
    disclosure = Disclosure(names, stores.identities, frozenset({"contractor"}))
    members = {
        "E1": Member("E1", (), worker_type="employee"),
        "E2": Member("E2", (), worker_type="contractor"),
    }
    public = await disclosure.public_ids(["E1", "E2", "E3"], members)
    assert public == {"E1": "E1", "E2": names.pseudonym("E2", 1), "E3": "E3"}
    await names.rotate()
    assert (await disclosure.public_ids(["E2"], members))["E2"] == names.pseudonym("E2", 2)


def test_the_setting() -> None:
    assert ProjectionSettings.from_env({}).pseudonymous_worker_types == {"contractor", "alumni"}
    assert ProjectionSettings.from_env(
        {"LRS_PSEUDONYMOUS_WORKER_TYPES": " Alumni "}
    ).pseudonymous_worker_types == {"alumni"}
    assert not ProjectionSettings.from_env(
        {"LRS_PSEUDONYMOUS_WORKER_TYPES": ""}
    ).pseudonymous_worker_types
    from lrs.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown worker type"):
        ProjectionSettings.from_env({"LRS_PSEUDONYMOUS_WORKER_TYPES": "intern"})
    assert ProjectionSettings.from_env({"LRS_RETENTION_DAILY": "1"}).retention_daily


async def test_the_marketplace_sees_a_contractor_only_by_pseudonym(
    market: Market,
) -> None:
    projection = market.projection
    await projection.stores.identities.put_members(
        [
            Member("E1", ("e1@example.com",)),
            Member("E2", ("e2@example.com",), worker_type="contractor"),
        ]
    )
    await market.post_statements(
        [statement("completed", actor=hris_actor(m)) for m in ("E1", "E2")]
    )
    await projection.worker.drain()
    hidden = projection.disclosure.pseudonyms.pseudonym("E2", 1)
    auth = await market.token("read:activity:aggregate", "read:profile")

    _, body, _ = await market.get(f"{P}/aggregates", auth)
    assert sorted(i["member_id"] for i in body["data"]) == ["E1", hidden]
    [mine] = [i for i in body["data"] if i["member_id"] == hidden]
    assert mine["email"] is None
    _, body, _ = await market.get(f"{P}/members/{hidden}/learning", auth)
    assert body["meta"]["member_id"] == hidden
    assert [(i["member_id"], i["email"]) for i in body["data"]] == [(hidden, None)]
    _, body, _ = await market.get(f"{P}/members/{hidden}/summary", auth)
    assert body["data"]["member_id"] == hidden and body["data"]["emails"] == []
    # by HRIS id (which would link the two) or by an unknown pseudonym: unknown members
    other = hidden[:-1] + ("b" if hidden.endswith("a") else "a")
    for path in ("E2/learning", "E2/summary", f"{other}/learning"):
        status, body, _ = await market.get(f"{P}/members/{path}", auth)
        assert status == 404 and body["error"]["code"] == "member_not_found"
        assert hidden not in str(body)
    _, body, _ = await market.get(f"{P}/members/E1/summary", auth)
    assert body["data"]["emails"] == ["e1@example.com"]
    response = await market.http.get(f"{P}/export", headers={"Authorization": auth})
    exported = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert sorted(i["member_id"] for i in exported) == ["E1", hidden]
    assert (
        b"e2@example.com"
        not in await (await market.http.get(f"{P}/export", headers={"Authorization": auth})).read()
    )

    events = [orjson.loads(e.body) for e in await projection.stores.deliveries.unfanned_events(100)]
    events = [e for e in events if e["type"] == "learning.created"]
    assert sorted(e["member_id"] for e in events) == ["E1", hidden]
    assert all(e["data"]["member_id"] == e["member_id"] for e in events)
    assert [e["data"]["email"] for e in events if e["member_id"] == hidden] == [None]
    assert b"E2" not in b"".join(
        e.body
        for e in await projection.stores.deliveries.unfanned_events(100)
        if orjson.loads(e.body)["member_id"] == hidden
    )


async def test_badges_for_a_pseudonymous_member_take_the_pseudonym(
    market: Market,
) -> None:
    projection = market.projection
    await projection.stores.identities.put_members(
        [Member("E2", ("e2@example.com",), worker_type="alumni")]
    )
    await market.post_statements([statement("completed", actor=hris_actor("E2"))])
    await projection.worker.drain()
    hidden = projection.disclosure.pseudonyms.pseudonym("E2", 1)
    auth = await market.token("write:badge")
    award = {"badge_id": "b", "activity_id": COURSE}

    async def post(member: str, key: str) -> tuple[int, dict]:
        response = await market.http.post(
            f"{P}/members/{member}/badges",
            json=award,
            headers={"Authorization": auth, "Idempotency-Key": key},
        )
        return response.status, await response.json()

    status, body = await post("E2", "k1")
    assert status == 404 and hidden not in str(body)
    status, body = await post(hidden, "k2")
    assert status == 201 and body["data"]["member_id"] == hidden
    [stored] = (await projection.statements.get_statements([body["data"]["statement_id"]])).values()
    assert orjson.loads(stored.raw)["actor"] == hris_actor("E2")
