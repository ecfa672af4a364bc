"""`lrs retention` and `lrs identities reveal|pseudonyms` through the CLI, on a SQLite data dir."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lrs.cli import main
from lrs.store.sqlite import SQLiteBackend
from projections.keyring import load_keyring
from projections.pseudonyms import Pseudonyms
from projections.store.sqlite_pseudonym import SQLitePseudonymKeyStore
from tests.projections.conftest import COURSE, hris_actor, statement
from tests.projections.test_cli import run_json, store
from tests.projections.test_retention import retention_mapping


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.projections.conftest import HRIS

    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.delenv("LRS_MARKETPLACE_MASTER_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def hris_knows(data_dir: Path, *member_ids: str) -> None:
    """Import the members (HRIS-account statements project only for members the HRIS knows)."""
    rows = "".join(f"{m},{m.lower()}@example.com\n" for m in member_ids)
    (data_dir / "hris.csv").write_text("employee_id,email\n" + rows, encoding="utf-8")
    assert main(["identities", "import", str(data_dir / "hris.csv")]) == 0


def test_retention_dry_run_apply_and_reconcile(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store(
        data_dir,
        statement("completed", actor=hris_actor("E1"), timestamp="2015-03-01T00:00:00Z"),
        statement(
            "completed",
            actor=hris_actor("E1"),
            activity=f"{COURSE}/new",
            timestamp=datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z"),
        ),
    )
    hris_knows(data_dir, "E1")
    assert main(["worker", "--once"]) == 0  # projected before the mapping had a period
    capsys.readouterr()
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(retention_mapping(data_dir)))

    assert main(["retention", "--dry-run", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "1 statements in 1 records past their period (dry run: nothing changed)" in out
    assert f"record E1 {COURSE}" in out and "(P5Y; contract)" in out
    dry = run_json(capsys, "retention", "--dry-run")
    assert dry["applied"] is False and dry["statements"] == 1
    [activity_rule] = [r for r in dry["rules"] if r["target_field"] == "activity_id"]
    assert activity_rule["record_ids"] == [["E1", COURSE]]
    assert len(activity_rule["statement_ids"]) == 1

    applied = run_json(capsys, "retention", "--apply")
    assert (applied["applied"], applied["records_removed"], applied["records_changed"]) == (
        True,
        1,
        0,
    )
    report = run_json(capsys, "reconcile")
    assert report["drift"] == 0 and report["expected_records"] == 1
    assert run_json(capsys, "retention", "--dry-run")["statements"] == 0
    [entry] = run_json(capsys, "audit", "--type", "retention.applied")
    assert (entry["actor"], entry["subject"]) == ("cli", "projection")
    assert entry["details"] == {"statements": 1, "records": 1}

    with pytest.raises(SystemExit) as refused:  # one of --dry-run / --apply is required
        main(["retention"])
    assert refused.value.code == 2 and "--dry-run" in capsys.readouterr().err


def test_worker_once_applies_retention_when_asked(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store(
        data_dir, statement("completed", actor=hris_actor("E1"), timestamp="2015-03-01T00:00:00Z")
    )
    hris_knows(data_dir, "E1")
    assert main(["worker", "--once"]) == 0
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(retention_mapping(data_dir)))
    capsys.readouterr()
    assert main(["worker", "--once", "--retention-daily"]) == 0
    assert "retention: 1 statements past their period re-applied" in capsys.readouterr().out
    assert run_json(capsys, "reconcile")["expected_records"] == 0


def pseudonym_of(data_dir: Path, member_id: str, version: int) -> str:
    """The pseudonym as the LRS computes it, with the data dir's master key."""

    async def run() -> str:
        backend = SQLiteBackend(data_dir)
        try:
            keys = SQLitePseudonymKeyStore(backend.engine)
            return Pseudonyms(load_keyring(None, data_dir), keys).pseudonym(member_id, version)
        finally:
            await backend.close()

    return asyncio.run(run())


def test_reveal_and_rotate(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store(
        data_dir,
        statement("completed", actor=hris_actor("E1")),
        statement("completed", actor=hris_actor("E2")),
    )
    hris_knows(data_dir, "E1", "E2")
    assert main(["worker", "--once"]) == 0
    assert main(["retention", "--dry-run"]) == 0  # the shipped mapping has no period
    assert "no retention period in the mapping" in capsys.readouterr().out
    first = pseudonym_of(data_dir, "E2", 1)
    assert first.startswith("pm_v1_") and len(first) == len("pm_v1_") + 26
    assert run_json(capsys, "identities", "reveal", first) == {
        "pseudonym": first,
        "member_id": "E2",
    }
    assert run_json(capsys, "identities", "pseudonyms", "rotate") == {"version": 2}
    second = pseudonym_of(data_dir, "E2", 2)
    assert second.startswith("pm_v2_") and second != first
    assert run_json(capsys, "identities", "reveal", second)["member_id"] == "E2"
    assert run_json(capsys, "identities", "reveal", first)["member_id"] == "E2"  # still
    listing = run_json(capsys, "identities", "pseudonyms", "list")
    assert listing["current"] == 2 and [v["version"] for v in listing["versions"]] == [1, 2]

    unknown = pseudonym_of(data_dir, "E404", 1)
    assert main(["identities", "reveal", unknown]) == 1
    assert "no member has the pseudonym" in capsys.readouterr().err
    assert main(["identities", "reveal", pseudonym_of(data_dir, "E2", 3)]) == 1  # no v3 yet
    assert main(["identities", "reveal", "E2"]) == 1
    assert "is not a pseudonym" in capsys.readouterr().err
    audited = run_json(capsys, "audit")
    reveals = [e for e in audited if e["type"] == "pseudonym.revealed"]
    assert [(e["subject"], e["details"]["found"]) for e in reversed(reveals)] == [
        (first, True),
        (second, True),
        (first, True),
        (unknown, False),
        (pseudonym_of(data_dir, "E2", 3), False),
    ]  # "E2" is refused before any look-up: it is not a pseudonym
    assert [e["subject"] for e in audited if e["type"] == "pseudonym.key_rotated"] == ["v2"]
    privacy = [e for e in audited if e["type"].startswith("pseudonym.")]
    assert "E2" not in json.dumps(privacy)  # the member behind a pseudonym is not logged
    assert main(["audit", "verify"]) == 0
