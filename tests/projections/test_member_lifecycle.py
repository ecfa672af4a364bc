"""Terminate and rehire (issue 17 item 8): a terminated member's records stay, each marked
`employment_status: terminated` (records, summary, export), one `member.terminated` event goes
out, a rehire sends `member.rehired` and clears the mark; reconcile agrees. HTTP on every
backend; the CLI on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from lrs.cli import main
from projections.http import PREFIX
from projections.identity_rows import IdentityRow
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, HRIS, mbox_actor, statement
from tests.projections.test_api import schema
from tests.projections.test_identity_cli import event_types, records, run, store, write

ROWS = (("E1", "ada@example.com"), ("E2", "bob@example.com"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite data dir the CLI works on."""
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.setenv("LRS_WEBHOOK_ALLOW_INTERNAL", "1")  # receivers on 127.0.0.1
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def import_rows(market: Market, rows: Any, *, full: bool = False, status: str = "") -> int:
    service = market.projection.identities
    values = {"employment_status": status} if status else {}
    parsed = [IdentityRow(n, m, {"email": e, **values}) for n, (m, e) in enumerate(rows, start=2)]
    present = {m for m, _e in rows}
    plan = await service.plan(parsed, full=full, present=present, max_share=1.0)
    return await service.apply(plan)


async def member_events(market: Market) -> list[dict[str, Any]]:
    """E1's member events (the fixture's other members are terminated by the full imports)."""
    stores = market.projection.stores
    await stores.aggregates.publish_events()
    events = await stores.deliveries.unfanned_events(10_000)
    bodies = [orjson.loads(e.body) for e in events]
    return [b for b in bodies if b["type"].startswith("member.") and b["member_id"] == "E1"]


async def test_terminate_marks_records_and_summary_and_rehire_clears_it(market: Market) -> None:
    await import_rows(market, ROWS)
    await market.post_statements(
        [
            statement("completed", actor=mbox_actor("ada@example.com"), activity=f"{COURSE}/{n}")
            for n in range(3)
        ]
    )
    await market.projection.worker.drain()
    reader = await market.token("read:profile", "read:activity:aggregate")
    summary = f"{PREFIX}/v1/members/E1/summary"
    _, body, _ = await market.get(summary, reader)
    assert body["data"]["employment_status"] == "active"

    await import_rows(market, ROWS[1:], full=True)  # E1 absent from a full file: terminated
    await import_rows(market, ROWS[1:], full=True)  # again: nothing new
    status, body, _ = await market.get(summary, reader)
    assert status == 200 and body["data"]["employment_status"] == "terminated"
    assert body["data"]["activities"] == 3  # nothing deleted
    _, body, _ = await market.get(f"{PREFIX}/v1/members/E1/learning", reader)
    assert [r["employment_status"] for r in body["data"]] == ["terminated"] * 3
    jsonschema.validate(body["data"][0], schema("Record"))
    events = await member_events(market)
    assert [(e["type"], e["member_id"]) for e in events] == [("member.terminated", "E1")]
    jsonschema.validate(events[0], schema("MemberEvent"))
    assert (await market.projection.reconciler.reconcile()).drift == 0

    await import_rows(market, ROWS[:1], status="active")  # rehired
    _, body, _ = await market.get(summary, reader)
    assert body["data"]["employment_status"] == "active"
    _, body, _ = await market.get(f"{PREFIX}/v1/members/E1/learning", reader)
    assert [r["employment_status"] for r in body["data"]] == ["active"] * 3
    events = await member_events(market)
    assert [e["type"] for e in events] == ["member.terminated", "member.rehired"]
    assert (await market.projection.reconciler.reconcile()).drift == 0


async def test_a_subscription_can_filter_member_events(market: Market) -> None:
    admin = await market.token("admin")
    response = await market.http.post(
        f"{PREFIX}/v1/webhooks",
        json={"url": "https://hooks.example.com/x", "event_types": ["member.terminated"]},
        headers={"Authorization": admin},
    )
    assert response.status == 201, await response.text()


def test_full_import_terminates_keeps_records_sends_one_event(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hris = data_dir / "hris.csv"
    both = "employee_id,email\nE1,ada@example.com\nE2,bob@example.com\n"
    run(capsys, "identities", "import", write(hris, both))
    store(
        data_dir,
        *(
            statement("completed", actor=mbox_actor("ada@example.com"), activity=f"{COURSE}/{n}")
            for n in range(2)
        ),
    )
    only_e2 = write(hris, "employee_id,email\nE2,bob@example.com\n")
    done = run(capsys, "identities", "import", only_e2, "--mode", "full", "--force")
    assert done["terminations"] == ["E1"]
    assert records(data_dir, "E1") == 2
    assert event_types(data_dir).count("member.terminated") == 1  # E1 only
    assert run(capsys, "reconcile")["drift"] == 0
    assert main(["export", "--format", "csv", "--output", str(data_dir / "out.csv")]) == 0
    lines = (data_dir / "out.csv").read_text().splitlines()
    column = lines[0].split(",").index("employment_status")
    assert [line.split(",")[column] for line in lines[1:]] == ["terminated"] * 2
