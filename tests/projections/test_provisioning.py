"""Unknown learners by policy (issue 17 item 6): under `LRS_UNKNOWN_LEARNERS=provision` an
address nobody claims gets a provisional member that its statements project to; an HRIS
import bringing the address absorbs it into the real member (records moved, the provisional
member gone, audited), and reconcile agrees. On every backend."""

from __future__ import annotations

import orjson
import pytest

from lrs.errors import ConfigError
from projections.http import PREFIX
from projections.provisioning import is_provisional, provisional_id
from projections.settings import ProjectionSettings
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, hris_actor, mbox_actor, statement
from tests.projections.hris_support import event, new_source, post_events
from tests.projections.test_member_lifecycle import import_rows

NEW = "email:newbie@example.com"
LMS = "https://lms.example.com"


@pytest.fixture
def provisioning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before `market` reads the environment."""
    monkeypatch.setenv("LRS_UNKNOWN_LEARNERS", "provision")


async def event_types(market: Market, member_id: str) -> list[str]:
    stores = market.projection.stores
    await stores.aggregates.publish_events()
    events = await stores.deliveries.unfanned_events(10_000)
    return [orjson.loads(e.body)["type"] for e in events if e.member_id == member_id]


async def test_an_unknown_address_is_provisioned_then_absorbed_by_the_hris(
    provisioning: None, market: Market
) -> None:
    assert market.projection.settings.unknown_learners == "provision"
    await market.post_statements(
        [
            *(
                statement(
                    "completed", actor=mbox_actor("newbie@example.com"), activity=f"{COURSE}/{n}"
                )
                for n in range(2)
            ),
            statement("completed", actor=hris_actor("E999")),  # an unknown HRIS id: held
            statement("completed", actor={"account": {"homePage": LMS, "name": "anon-7"}}),
        ]
    )
    await market.projection.worker.drain()
    stores = market.projection.stores
    owners = await stores.identities.member_for_keys([NEW])
    provisional = owners[NEW]
    assert is_provisional(provisional) and not provisional.startswith("pm_")
    member = await stores.identities.get_member(provisional)
    assert member is not None and member.worker_type == "unknown"
    assert len(await stores.aggregates.member_records(provisional)) == 2
    assert (await market.projection.identities.unmatched()).by_kind["hris"] == 1
    assert (await market.projection.identities.unmatched()).by_kind["account"] == 0
    admin = await market.token("admin")
    status, body, _ = await market.get(f"{PREFIX}/v1/members/{provisional}/learning", admin)
    assert status == 200 and len(body["data"]) == 2
    assert (await market.projection.reconciler.reconcile()).drift == 0

    await import_rows(market, (("H7", "newbie@example.com"),))
    assert [r.activity_id for r in await stores.aggregates.member_records("H7")] == [
        f"{COURSE}/0",
        f"{COURSE}/1",
    ]
    assert await stores.aggregates.member_records(provisional) == []
    assert await stores.identities.get_member(provisional) is None
    assert await stores.identities.member_for_keys([NEW]) == {NEW: "H7"}
    assert await market.projection.identities.conflicts() == []
    assert (
        await event_types(market, provisional)
        == ["learning.created"] * 2 + ["learning.removed"] * 2
    )
    assert await event_types(market, "H7") == ["learning.created"] * 2
    merges = await market.projection.audit.entries(limit=5, type="identities.merge")
    assert [(e.subject, e.details["from"]) for e in merges] == [("H7", provisional)]
    assert (await market.projection.reconciler.reconcile()).drift == 0


async def test_hold_is_the_default_and_makes_no_member(market: Market) -> None:
    await market.post_statements([statement("completed", actor=mbox_actor("newbie@example.com"))])
    await market.projection.worker.drain()
    assert await market.projection.stores.identities.claims_for([NEW]) == {}
    assert (await market.projection.identities.unmatched()).by_kind["email"] == 1


def test_the_policy_setting() -> None:
    assert ProjectionSettings.from_env({}).unknown_learners == "hold"
    env = {"LRS_UNKNOWN_LEARNERS": "Provision"}
    assert ProjectionSettings.from_env(env).unknown_learners == "provision"
    with pytest.raises(ConfigError, match="LRS_UNKNOWN_LEARNERS"):
        ProjectionSettings.from_env({"LRS_UNKNOWN_LEARNERS": "invent"})
    assert provisional_id() != provisional_id() and len(provisional_id()) == 5 + 26


async def test_an_hris_hire_event_absorbs_the_provisional_member(
    provisioning: None, market: Market
) -> None:
    await market.post_statements([statement("completed", actor=mbox_actor("ada@example.com"))])
    await market.projection.worker.drain()
    stores = market.projection.stores
    key = "email:ada@example.com"
    provisional = (await stores.identities.member_for_keys([key]))[key]
    assert is_provisional(provisional)
    secret = await new_source(market)
    hire = event("e1", "hire", "2026-03-01T09:00:00Z", email="ada@example.com", name="Ada")
    status, body = await post_events(market, "workday", secret, hire)
    assert (status, body["status"]) == (200, "applied")
    assert len(await stores.aggregates.member_records("H1")) == 1
    assert await stores.aggregates.member_records(provisional) == []
    assert await stores.identities.get_member(provisional) is None
    assert (await market.projection.reconciler.reconcile()).drift == 0
