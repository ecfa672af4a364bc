"""Erasing a member (issue 17 item 8, the projection half): the identity map, facts, records,
webhook payloads and the member's statements and documents, on every backend, through the
admin API and the CLI; afterwards nothing stored names them (every table / collection and
every file of the data directory searched), reconcile finds no drift, `agent=` queries for
the old identifiers find nothing, and one `member.erased` event is queued."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import orjson
import pytest

from lrs.cli import main
from projections.http import PREFIX
from projections.identity_rows import IdentityRow
from projections.provisioning import is_provisional
from projections.store.base import DEAD
from tests.lrs.http.test_erasure import found_secrets, stored_secrets
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, HRIS, hris_actor, mbox_actor, statement
from tests.projections.test_api import schema
from tests.projections.test_identity_cli import event_types, records, run, store

EMPLOYEE = "EMP-ADA-90417"
NAME = "Ada Lovelace"
OLD_EMAIL, EMAIL = "ada.byron@example.com", "ada.lovelace@example.com"
LMS, LMS_NAME = "https://lms.example.com", "ada-lms-7731"
SECRETS = [NAME, "ada.byron", "ada.lovelace", LMS_NAME, EMPLOYEE]
LMS_ACTOR = {"objectType": "Agent", "account": {"homePage": LMS, "name": LMS_NAME}}


def row(line: int, employee: str, email: str, **values: Any) -> IdentityRow:
    return IdentityRow(line, employee, {"email": email, **values})


async def import_rows(market: Market, *rows: IdentityRow) -> None:
    service = market.projection.identities
    plan = await service.plan(list(rows), full=False, present=set(), max_share=1.0)
    await service.apply(plan)


def named(actor: dict[str, Any]) -> dict[str, Any]:
    return {**actor, "name": NAME}


async def seed(market: Market) -> None:
    """Ada (an email changed, an LMS account, the HRIS account) and Bob, with statements by
    each of Ada's identifiers, then webhook deliveries: pending and dead-lettered."""
    await import_rows(market, row(2, EMPLOYEE, OLD_EMAIL, name=NAME), row(3, "E2", "bob@x.org"))
    account = ((LMS, LMS_NAME),)
    await import_rows(market, row(2, EMPLOYEE, EMAIL, name=NAME, lms_accounts=account))
    actors = [
        named(mbox_actor(OLD_EMAIL)),
        named(mbox_actor(EMAIL)),
        named(hris_actor(EMPLOYEE)),
        named(LMS_ACTOR),
    ]
    mine = [statement("completed", actor=a, activity=f"{COURSE}/{n}") for n, a in enumerate(actors)]
    bobs = statement("completed", actor=mbox_actor("bob@x.org"), activity=f"{COURSE}/b")
    await market.post_statements([*mine, bobs])
    await market.projection.worker.drain()
    webhooks = market.projection.webhooks
    await webhooks.subscribe("https://hooks.example.com/a")
    assert await webhooks.fan_out_once() > 0
    deliveries = market.projection.stores.deliveries
    claimed = await deliveries.claim_deliveries("t", now_us=2**62, lease_us=10, limit=1)
    await deliveries.finish_delivery(
        claimed[0].id, "t", state=DEAD, attempts=8, next_at_us=0, error="HTTP 410"
    )


async def erased_events(market: Market) -> list[dict[str, Any]]:
    stores = market.projection.stores
    await stores.aggregates.publish_events()
    bodies = [orjson.loads(e.body) for e in await stores.deliveries.unfanned_events(10_000)]
    return [b for b in bodies if b["type"] == "member.erased"]


async def agent_finds(market: Market, agent: dict[str, Any]) -> int:
    response = await market.http.get(
        "/xapi/statements",
        params={"agent": orjson.dumps(agent).decode()},
        headers={"Authorization": await market.xapi_auth(), "X-Experience-API-Version": "1.0.3"},
    )
    assert response.status == 200
    return len((await response.json())["statements"])


# The employee id stays where it is the subject of the event (the public id the marketplace
# knew: the member.erased event exists to name it). The SQLite file holds that row, so it
# holds the id too; the name and addresses it must not. The audit log names them no more
# (`projections.audit_personal`; tests/projections/test_erasure_traces.py).
KEPT = {f"webhook_events: {EMPLOYEE}", f"lrs.sqlite3: {EMPLOYEE}"}


async def remaining(market: Market, data_dir: Path) -> list[str]:
    """Where the secrets remain, but for KEPT."""
    found = await stored_secrets(market.backend, data_dir, SECRETS)
    return [f for f in found if f not in KEPT]


@pytest.mark.parametrize("policy", ["pseudonymise", "delete"])
async def test_delete_member_erases_them_everywhere(
    market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    monkeypatch.setattr(market.projection.erasure, "_policy", policy)
    await seed(market)
    assert len(await remaining(market, tmp_path)) >= len(SECRETS)
    admin = await market.token("admin")
    path = f"{PREFIX}/v1/members/{EMPLOYEE}"
    response = await market.http.delete(path, headers={"Authorization": admin})
    assert response.status == 200, await response.text()
    done = (await response.json())["data"]
    assert done["claims_deleted"] >= 3 and done["records_deleted"] == 4
    key = "statements_pseudonymised" if policy == "pseudonymise" else "statements_deleted"
    assert done[key] == 4
    left = await remaining(market, tmp_path)
    assert left == [], left
    assert (await market.projection.reconciler.reconcile()).drift == 0
    for actor in (mbox_actor(OLD_EMAIL), mbox_actor(EMAIL), hris_actor(EMPLOYEE), LMS_ACTOR):
        assert await agent_finds(market, actor) == 0
    assert await agent_finds(market, mbox_actor("bob@x.org")) == 1
    events = await erased_events(market)
    assert [e["member_id"] for e in events] == [EMPLOYEE]
    jsonschema.validate(events[0], schema("MemberEvent"))
    jsonschema.validate(done, schema("Erasure"))
    reader = await market.token("read:profile")
    status, _, _ = await market.get(f"{path}/summary", reader)
    assert status == 404
    response = await market.http.delete(path, headers={"Authorization": admin})
    assert response.status == 404
    assert len(await erased_events(market)) == 1
    assert HRIS  # the HRIS home page the fixture configures is where the employee id lived


def test_cli_erase_needs_yes_then_erases_and_reconciles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"  # the HRIS file (personal data) stays outside it
    data.mkdir()
    monkeypatch.setenv("LRS_DATA_DIR", str(data))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(data)
    hris = tmp_path / "hris.csv"
    hris.write_text(
        f"employee_id,email,name,lms_accounts\n{EMPLOYEE},{EMAIL},{NAME},{LMS} {LMS_NAME}\n"
        "E2,bob@x.org,Bob,\n"
    )
    run(capsys, "identities", "import", str(hris))
    actors = [named(mbox_actor(EMAIL)), named(hris_actor(EMPLOYEE)), named(LMS_ACTOR)]
    store(
        data,
        *(statement("completed", actor=a, activity=f"{COURSE}/{n}") for n, a in enumerate(actors)),
    )
    assert records(data, EMPLOYEE) == 3
    assert main(["identities", "erase", EMPLOYEE]) == 2  # not confirmed: nothing done
    assert records(data, EMPLOYEE) == 3
    done = run(capsys, "identities", "erase", EMPLOYEE, "--yes")
    assert done["statements_pseudonymised"] == 3 and done["records_deleted"] == 3
    assert done["erasure_id"].startswith("erased_")
    assert main(["identities", "erase", EMPLOYEE, "--yes"]) == 2  # unknown now
    assert records(data, EMPLOYEE) == 0
    assert event_types(data).count("member.erased") == 1
    assert run(capsys, "reconcile")["drift"] == 0
    database = SimpleNamespace(engine=SimpleNamespace(path=data / "lrs.sqlite3"))
    left = [f for f in found_secrets(database, data, SECRETS) if f not in KEPT]
    assert left == [], left


@pytest.fixture
def provisioning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before `market` reads the environment."""
    monkeypatch.setenv("LRS_UNKNOWN_LEARNERS", "provision")


async def test_an_erased_person_is_never_provisioned(provisioning: None, market: Market) -> None:
    assert market.projection.settings.unknown_learners == "provision"
    await import_rows(market, row(2, EMPLOYEE, EMAIL, name=NAME))
    await market.post_statements([statement("completed", actor=named(mbox_actor(EMAIL)))])
    await market.projection.worker.drain()
    admin = await market.token("admin")
    path = f"{PREFIX}/v1/members/{EMPLOYEE}"
    response = await market.http.delete(path, headers={"Authorization": admin})
    assert response.status == 200, await response.text()
    await market.projection.worker.drain()
    statuses = await market.projection.stores.identities.member_statuses()
    assert not [m for m in statuses if is_provisional(m)]
    assert await market.projection.stores.facts.count_unmatched() == 1  # held, nobody's
    assert (await market.projection.reconciler.reconcile()).drift == 0


async def test_the_hris_ids_merged_into_the_member_are_erased_too(market: Market) -> None:
    await import_rows(market, row(2, EMPLOYEE, EMAIL, name=NAME), row(3, "E7", "e7@x.org"))
    await market.post_statements(
        [statement("completed", actor=named(hris_actor("E7")), activity=f"{COURSE}/m")]
    )
    await market.projection.worker.drain()
    await market.projection.merges.merge("E7", EMPLOYEE, "the same person")
    done = await market.projection.erasure.erase(EMPLOYEE, actor="test")
    assert done.statements.statements_pseudonymised == 1
    assert await agent_finds(market, hris_actor("E7")) == 0
    assert (await market.projection.reconciler.reconcile()).drift == 0


async def test_an_erasure_forgets_the_members_quality_items(market: Market, tmp_path: Path) -> None:
    await seed(market)
    ada = named(hris_actor(EMPLOYEE))
    bad_score = statement("scored", actor=ada, result={"score": {"raw": 400}})
    problem = statement(
        "answered", actor=ada, activity=f"{COURSE}/q1", result={"score": {"raw": 1}}
    )
    problem["object"]["definition"] = {"type": "http://adlnet.gov/expapi/activities/question"}
    bobs = statement("scored", actor=mbox_actor("bob@x.org"), result={"score": {"raw": 400}})
    await market.post_statements([bad_score, problem, bobs])
    await market.projection.worker.drain()
    quality = market.projection.stores.quality
    items = await quality.list_items(None)
    assert sorted(i.issue.member_id or "" for i in items) == ["E2", EMPLOYEE, EMPLOYEE]
    await market.projection.erasure.erase(EMPLOYEE)
    assert [i.issue.member_id for i in await quality.list_items(None)] == ["E2"]
    assert await remaining(market, tmp_path) == []
