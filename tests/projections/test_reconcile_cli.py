"""`lrs reconcile` runs are recorded; `history`, `flagged` and `lrs worker --reconcile-daily`
through the CLI entry point, on a SQLite data dir."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lrs.cli import main
from lrs.store.sqlite import SQLiteBackend
from projections.identity import EMAIL
from projections.store import open_stores
from projections.store.base import Claim, Member
from tests.projections.conftest import hris_actor, mbox_actor, statement
from tests.projections.test_cli import data_dir, run_json, store

__all__ = ["data_dir"]  # the autouse fixture: an HRIS-configured SQLite data dir


def claims_move(data_dir: Path, address: str, old: str, new: str) -> None:
    """The identity map changes beneath the projection (as another process, no re-projection)."""

    async def run() -> None:
        backend = SQLiteBackend(data_dir)
        try:
            stores = await open_stores(backend)
            await stores.identities.put_members([Member(old, (address,)), Member(new, (address,))])
            await stores.identities.delete_claims([(EMAIL + address, old)])
            await stores.identities.put_claims([Claim(EMAIL + address, new)])
        finally:
            await backend.close()

    asyncio.run(run())


def claim(data_dir: Path, address: str, member: str) -> None:
    async def run() -> None:
        backend = SQLiteBackend(data_dir)
        try:
            stores = await open_stores(backend)
            await stores.identities.put_members([Member(member, (address,))])
            await stores.identities.put_claims([Claim(EMAIL + address, member)])
        finally:
            await backend.close()

    asyncio.run(run())


def test_runs_are_recorded_and_the_history_and_flagged_cases_are_shown(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claim(data_dir, "ada@example.com", "E5")
    store(
        data_dir,
        statement("completed", actor=hris_actor("E1")),
        statement("completed", actor=mbox_actor("ada@example.com")),
    )
    assert main(["worker", "--once"]) == 0
    capsys.readouterr()
    assert run_json(capsys, "reconcile")["drift"] == 0
    claims_move(data_dir, "ada@example.com", "E5", "E6")
    assert main(["reconcile", "--fix"]) == 1  # flagged: not fixed
    out = capsys.readouterr().out
    assert "fixed 0" in out and "flagged for review 1 (not fixed)" in out
    flagged = run_json(capsys, "reconcile", "flagged")
    assert [(c["kind"], c["counted_for"], c["now_for"]) for c in flagged["flagged"]] == [
        ("member_changed", "E5", "E6")
    ]
    assert main(["reconcile", "history"]) == 1  # a run found 100% drift: the SLO failed
    out = capsys.readouterr().out
    assert "2 runs in 7 days; drift < 1.0%: NOT held" in out
    history = json.loads(_output(capsys, ["reconcile", "history", "--days", "1", "--json"], 1))
    assert [(r["trigger"], r["fix"], r["drift"]) for r in history["runs"]] == [
        ("manual", True, 2),
        ("manual", False, 0),
    ]
    assert history["slo_held"] is False and history["window_days"] == 1
    assert main(["reconcile", "--fix", "--include-flagged"]) == 0
    assert "fixed 2" in capsys.readouterr().out
    assert run_json(capsys, "reconcile", "flagged")["flagged"] == []


def test_worker_reconcile_daily_records_a_scheduled_run(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store(data_dir, statement("completed", actor=hris_actor("E1")))
    assert main(["worker", "--once", "--reconcile-daily"]) == 0
    assert "reconcile: drift 0 (0.0%), fixed 0, flagged 0" in capsys.readouterr().out
    monkeypatch.setenv("LRS_RECONCILE_DAILY", "1")
    assert main(["worker", "--once"]) == 0  # the setting does the same
    capsys.readouterr()
    runs = run_json(capsys, "reconcile", "history")["runs"]
    assert [(r["trigger"], r["fix"]) for r in runs] == [("scheduled", True)] * 2


def _output(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    assert main(argv) == code
    return capsys.readouterr().out


@pytest.mark.parametrize("days", ["0", "-1", "x", "367"])
def test_history_refuses_a_window_that_is_not_1_to_366_days(
    days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["reconcile", "history", "--days", days])
    assert exit_.value.code == 2
    assert "is not a number of days from 1 to 366" in capsys.readouterr().err
