"""Erasure reaches the audit log, the saved HRIS event results and exports (issue 17 items 8
and 10), on every backend: a member imported, whose email changed, with an LMS account
linked, another HRIS record merged into them (with an address and a reason naming them), an
HRIS event received and a pseudonym reveal audited, is erased; afterwards no table,
collection or file holds their employee id, name, addresses or LMS account names, the audit
chain still verifies, every entry is still listed (with `[erased]` in place of them), the
HRIS event is still answered as a repeat, and an export holds nothing of them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from projections.audit import entry_json
from projections.audit_personal import ERASED
from projections.http import PREFIX
from tests.lrs.http.test_erasure import stored_secrets
from tests.projections.api_support import Market
from tests.projections.hris_support import event, new_source, post_events
from tests.projections.test_erasure import (
    EMAIL,
    EMPLOYEE,
    NAME,
    SECRETS,
    erased_events,
    import_rows,
    row,
    seed,
)

DUPLICATE, DUPLICATE_EMAIL = "EMP-ADA-DUPLICATE", "ada.second@example.com"
MOODLE, MOODLE_NAME = "https://moodle.example.com", "ada-moodle-5521"
PSEUDONYM = "pm_v1_abcdefghijklmnopqrstuvwxyz"
ALL_SECRETS = [*SECRETS, DUPLICATE, "ada.second", MOODLE_NAME]
# The member.erased event names the member by the public id the marketplace knew (by design).
KEPT = {f"webhook_events: {EMPLOYEE}", f"lrs.sqlite3: {EMPLOYEE}"}


async def everything_audited(market: Market) -> str:
    """Ada imported, changed, linked, merged with her duplicate, an HRIS event and a reveal;
    the HRIS source's secret."""
    secret = await new_source(market)
    await seed(market)
    await import_rows(market, row(4, DUPLICATE, DUPLICATE_EMAIL, name=NAME))
    await market.projection.merges.merge(DUPLICATE, EMPLOYEE, f"{NAME} had two HRIS records")
    await market.projection.identities.link(EMPLOYEE, MOODLE, MOODLE_NAME)
    change = event("ev-ada", "change", "2030-01-01T00:00:00Z", EMPLOYEE, email=EMAIL, name=NAME)
    status, _ = await post_events(market, "workday", secret, change)
    assert status == 200
    await market.projection.audit.append(
        "pseudonym.revealed", actor="t", subject=PSEUDONYM, personal={PSEUDONYM: EMPLOYEE}
    )
    return secret


async def listed(market: Market) -> list[dict[str, Any]]:
    return [entry_json(e) for e in await market.projection.audit.entries(limit=10_000)]


async def test_erasure_cuts_the_person_out_of_audit_hris_results_and_exports(
    market: Market, tmp_path: Path
) -> None:
    secret = await everything_audited(market)
    before = await listed(market)
    text = orjson.dumps(before).decode()
    assert all(s in text for s in [EMPLOYEE, DUPLICATE, "ada.second", MOODLE_NAME, PSEUDONYM])
    admin = await market.token("admin")
    response = await market.http.delete(
        f"{PREFIX}/v1/members/{EMPLOYEE}", headers={"Authorization": admin}
    )
    assert response.status == 200, await response.text()
    found = await stored_secrets(market.backend, tmp_path, [*ALL_SECRETS, PSEUDONYM])
    assert [f for f in found if f not in KEPT] == []
    report = await market.projection.audit.verify()
    assert report.intact, report.broken
    assert report.erased >= 6  # imports (one from the HRIS event), merge, link, reveal
    after = await listed(market)
    assert [e["seq"] for e in after[-len(before) :]] == [e["seq"] for e in before]
    text = orjson.dumps(after).decode()
    assert ERASED in text
    imports = [e for e in after if e["type"] == "identities.import"]
    named = [i for e in imports for k in ("hires", "changes") for i in e["details"][k]]
    assert "E2" in named and ERASED in named  # Bob's id stays
    assert not [s for s in [*ALL_SECRETS, PSEUDONYM] if s in text]
    merged = next(e for e in after if e["type"] == "identities.merged")
    assert merged["details"]["from"] == ERASED == merged["details"]["into"]
    saved = await market.projection.stores.hris.get_events("workday", ["ev-ada"])
    assert saved["ev-ada"].result["employee_id"] is None
    change = event("ev-ada", "change", "2030-01-01T00:00:00Z", EMPLOYEE, email=EMAIL, name=NAME)
    again = int(time.time()) - 5  # signed anew: not a replay of the request
    status, body = await post_events(market, "workday", secret, change, at=again)
    assert (status, body["repeat"], body["employee_id"]) == (200, True, None)
    reader = await market.token("read:activity:aggregate")
    export = await market.http.get(f"{PREFIX}/v1/export", headers={"Authorization": reader})
    assert export.status == 200
    exported = await export.read()
    assert b'"E2"' in exported  # Bob's records are exported
    assert not [s for s in ALL_SECRETS if s.encode() in exported]


async def test_an_erase_event_names_nobody_in_its_result_and_entry(market: Market) -> None:
    secret = await new_source(market)
    hire = event("h1", "hire", "2030-01-01T00:00:00Z", EMPLOYEE, email=EMAIL, name=NAME)
    await post_events(market, "workday", secret, hire)
    erase = event("h2", "erase", "2030-02-01T00:00:00Z", EMPLOYEE)
    status, body = await post_events(market, "workday", secret, erase)
    assert (status, body["status"], body["employee_id"]) == (200, "applied", None)
    saved = await market.projection.stores.hris.get_events("workday", ["h1", "h2"])
    assert [saved[e].result["employee_id"] for e in ("h1", "h2")] == [None, None]
    text = orjson.dumps(await listed(market)).decode()
    assert EMPLOYEE not in text and "ada.lovelace" not in text
    assert (await market.projection.audit.verify()).intact


async def test_delete_a_contractor_by_pseudonym_even_without_records(market: Market) -> None:
    await import_rows(market, row(2, "CTR-9", "carl@x.org", worker_type="contractor"))
    pseudonym = await market.projection.public_id("CTR-9")
    assert pseudonym.startswith("pm_v1_")
    admin = await market.token("admin")
    path = f"{PREFIX}/v1/members/"
    response = await market.http.delete(path + "CTR-9", headers={"Authorization": admin})
    assert response.status == 404  # the marketplace never saw that id
    response = await market.http.delete(path + pseudonym, headers={"Authorization": admin})
    assert response.status == 200, await response.text()
    assert await market.projection.stores.identities.get_member("CTR-9") is None
    events = await erased_events(market)
    assert [e["member_id"] for e in events] == [pseudonym]


async def test_an_erasure_cut_short_then_run_again_cuts_every_address(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    await everything_audited(market)
    worker = market.projection.worker
    real = worker.reapply

    async def cut_short(ids: list[str]) -> None:
        raise RuntimeError("cut short")  # after the claims were deleted

    monkeypatch.setattr(worker, "reapply", cut_short)
    with pytest.raises(RuntimeError, match="cut short"):
        await market.projection.erasure.erase(EMPLOYEE, actor="test")
    monkeypatch.setattr(worker, "reapply", real)
    await market.projection.erasure.erase(EMPLOYEE, actor="test")  # the member row remained
    text = orjson.dumps(await listed(market)).decode()
    assert not [s for s in [*ALL_SECRETS, PSEUDONYM] if s in text]  # the old address too
    assert (await market.projection.audit.verify()).intact
