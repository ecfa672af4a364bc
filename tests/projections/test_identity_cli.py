"""`lrs identities …` through the CLI entry point, on a SQLite data dir: the HRIS import, email
changes that keep every record, conflicts held then resolved, LMS accounts, unknown HRIS ids."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.cli import main
from lrs.services.statements import StatementService
from lrs.store.sqlite import SQLiteBackend
from projections.store import ProjectionStores, open_stores
from tests.projections.conftest import (
    AUTHORITY,
    COURSE,
    HRIS,
    HRIS_MEMBERS,
    hris_actor,
    hris_knows,
    mbox_actor,
    statement,
)

LMS = "https://lms.example.com"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def on_stores(data_dir: Path, job: Any) -> Any:
    """Run `job(backend, stores)` on the data dir's SQLite backend."""

    async def run() -> Any:
        backend = SQLiteBackend(data_dir)
        try:
            return await job(backend, await open_stores(backend))
        finally:
            await backend.close()

    return asyncio.run(run())


def store(data_dir: Path, *statements: dict[str, Any]) -> None:
    async def job(backend: SQLiteBackend, _stores: ProjectionStores) -> None:
        service = StatementService(backend.statements, backend.attachments, backend.activities)
        await service.store_statements(list(statements), authority=AUTHORITY, version="1.0.3")

    on_stores(data_dir, job)
    assert main(["worker", "--once", "--no-webhooks"]) == 0


def records(data_dir: Path, member_id: str) -> int:
    async def job(_backend: SQLiteBackend, stores: ProjectionStores) -> int:
        return len(await stores.aggregates.member_records(member_id))

    return on_stores(data_dir, job)


def event_types(data_dir: Path) -> list[str]:
    async def job(_backend: SQLiteBackend, stores: ProjectionStores) -> list[str]:
        await stores.aggregates.publish_events()
        events = await stores.deliveries.unfanned_events(10_000)
        return [orjson.loads(e.body)["type"] for e in events]

    return on_stores(data_dir, job)


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    capsys.readouterr()  # what earlier commands printed
    assert main([*argv, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_a_primary_email_change_keeps_every_record(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hris = data_dir / "hris.csv"
    loaded = run(
        capsys, "identities", "load", write(hris, "employee_id,email\nE1002,grace@example.com\n")
    )
    assert loaded["hires"] == ["E1002"]
    store(
        data_dir,
        *(
            statement("completed", actor=mbox_actor("grace@example.com"), activity=f"{COURSE}/{n}")
            for n in range(8)
        ),
    )
    assert records(data_dir, "E1002") == 8
    header = "employee_id,email,secondary_emails\n"
    changed = run(
        capsys, "identities", "load", write(hris, header + "E1002,grace.hopper@example.com,\n")
    )
    assert changed["changes"] == ["E1002"] and changed["conflicts"] == []
    assert records(data_dir, "E1002") == 8  # nothing withdrawn
    assert "learning.removed" not in event_types(data_dir)
    store(data_dir, statement("passed", actor=mbox_actor("grace@example.com"), activity=COURSE))
    assert records(data_dir, "E1002") == 9  # the earlier address still matches
    again = run(capsys, "identities", "import", str(hris))
    assert again["written"] == 0 and again["changes"] == [] and again["unchanged"] == 1


def test_one_address_for_two_employees_is_a_conflict_held_then_resolved(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(data_dir, statement("completed", actor=mbox_actor("shared@example.com")))
    hris = write(
        data_dir / "hris.csv", "employee_id,email\nE1,shared@example.com\nE2,shared@example.com\n"
    )
    loaded = run(capsys, "identities", "import", hris, code=1)  # applied, but needs a look
    assert loaded["conflicts"] == [
        {
            "key": "email:shared@example.com",
            "claimants": ["E1", "E2"],
            "address": "shared@example.com",
        }
    ]
    assert records(data_dir, "E1") == records(data_dir, "E2") == 0  # held, not guessed
    listed = run(capsys, "identities", "conflicts")
    assert listed == loaded["conflicts"]
    assert run(capsys, "identities", "import", hris)["written"] == 0  # reported once
    assert main(["identities", "resolve", "shared@example.com", "--member", "E9"]) == 2
    assert "not a conflict with E9" in capsys.readouterr().err
    resolved = run(capsys, "identities", "resolve", "Shared@Example.com", "--member", "E2")
    assert resolved["dropped"] == ["E1"] and resolved["statements_reprojected"] == 1
    assert records(data_dir, "E2") == 1 and run(capsys, "identities", "conflicts") == []
    again = run(capsys, "identities", "import", hris, code=1)  # E1's claim is refused now
    assert again["refused"] == [
        {"key": "email:shared@example.com", "member_id": "E1", "resolved_for": "E2"}
    ]
    assert run(capsys, "identities", "conflicts") == [] and records(data_dir, "E2") == 1
    [resolve_entry] = run(capsys, "audit", "--type", "identities.resolve")
    assert (resolve_entry["actor"], resolve_entry["details"]) == (
        "cli",
        {"member": "E2", "dropped": ["E1"]},
    )
    first_import = run(capsys, "audit", "--type", "identities.import")[-1]  # newest first
    assert first_import["details"]["hires"] == ["E1", "E2"]
    assert first_import["details"]["conflicts"] == ["email:shared@example.com"]
    assert main(["audit", "verify"]) == 0


def test_a_file_claiming_an_existing_members_address_is_a_conflict(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hris = data_dir / "hris.csv"
    run(capsys, "identities", "import", write(hris, "employee_id,email\nE1,ada@example.com\n"))
    store(data_dir, statement("completed", actor=mbox_actor("ada@example.com")))
    assert records(data_dir, "E1") == 1
    got = run(
        capsys,
        "identities",
        "import",
        write(hris, "employee_id,email\nE2,ada@example.com\n"),
        code=1,
    )
    assert got["conflicts"][0]["claimants"] == ["E1", "E2"]
    assert records(data_dir, "E1") == 0  # the address's statements are held


def test_an_hris_id_the_hris_does_not_know_makes_no_member(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(data_dir, statement("completed", actor=hris_actor("E555")))
    assert records(data_dir, "E555") == 0
    held = run(capsys, "identities", "unmatched")
    assert held["by_kind"]["hris"] == 1
    assert held["hris_ids"] == [{"employee_id": "E555", "statements": 1}]
    run(capsys, "identities", "import", write(data_dir / "h.csv", "employee_id,email\nE555,\n"))
    assert records(data_dir, "E555") == 1


def test_lms_accounts_are_held_counted_per_home_page_then_linked(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edx = {"objectType": "Agent", "account": {"homePage": LMS, "name": "anon-1"}}
    other = {"objectType": "Agent", "account": {"homePage": LMS + "/", "name": "anon-2"}}
    store(data_dir, statement("completed", actor=edx), statement("passed", actor=other))
    held = run(capsys, "identities", "unmatched")
    assert held["accounts_by_home_page"] == [{"home_page": LMS, "accounts": 2, "statements": 2}]
    assert main(["identities", "unmatched"]) == 0
    assert f"home page {LMS}: 2 accounts, 2 statements" in capsys.readouterr().out

    on_stores(data_dir, lambda _b, stores: hris_knows(stores, "E1", "E2"))
    linked = run(capsys, "identities", "link", "E1", "--account", LMS, "anon-1")
    assert linked == {"member": "E1", "linked": True, "statements_reprojected": 1}
    assert records(data_dir, "E1") == 1
    assert run(capsys, "identities", "link", "E1", "--account", LMS, "anon-1")["linked"] is False
    assert main(["identities", "link", "E404", "--account", LMS, "x"]) == 2
    assert "no member E404" in capsys.readouterr().err

    hris = write(
        data_dir / "h.csv", f"employee_id,lms_accounts\nE2,{LMS}/ anon-2;https://moodle.example 7\n"
    )
    run(capsys, "identities", "import", hris)
    assert records(data_dir, "E2") == 1
    assert run(capsys, "identities", "unmatched")["statements_unmatched"] == 0


def test_full_mode_refuses_to_terminate_too_many_unless_forced(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_stores(data_dir, lambda _b, stores: hris_knows(stores))
    hris = write(data_dir / "hris.csv", "employee_id,email\nE1,e1@example.com\n")
    assert main(["identities", "import", hris, "--mode", "full"]) == 2
    err = capsys.readouterr().err
    assert f"would terminate {len(HRIS_MEMBERS) - 1} of {len(HRIS_MEMBERS)} members" in err
    assert "nothing was written" in err
    dry = run(capsys, "identities", "import", hris, "--mode", "full", "--force", "--dry-run")
    assert dry["dry_run"] is True and len(dry["terminations"]) == len(HRIS_MEMBERS) - 1
    assert dry["changes"] == ["E1"] and dry["written"] > 0
    assert main(["identities", "import", hris, "--mode", "full", "--dry-run", "--force"]) == 0
    assert "dry run: nothing was written" in capsys.readouterr().out
    assert run(capsys, "identities", "import", hris)["changes"] == ["E1"]  # still to do
    done = run(capsys, "identities", "import", hris, "--mode", "full", "--force")
    assert len(done["terminations"]) == len(HRIS_MEMBERS) - 1
    again = run(capsys, "identities", "import", hris, "--mode", "full")
    assert again["written"] == 0 and again["terminations"] == []


def test_gzip_ndjson_with_columns_rejects_and_progress(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_dir / "hris.export"  # gzip told by content, not by name
    lines = [
        {
            "EmpID": "E1",
            "Mail": "ada@example.com",
            "status": "on leave",
            "worker_type": "contractor",
        },
        {"EmpID": "E2", "Mail": "nope"},
        {"EmpID": "E1", "Mail": "other@example.com"},
    ]
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(x) for x in lines) + b"\n"))
    rejects = data_dir / "rejects.csv"
    argv = [
        "identities",
        "import",
        str(path),
        "--columns",
        "employee_id=EmpID,email=Mail,employment_status=status",
        "--rejects",
        str(rejects),
        "--progress",
    ]
    got = run(capsys, *argv, code=1)
    assert (got["rows"], got["rejected"], got["hires"]) == (1, 2, ["E1"])
    assert rejects.read_text().splitlines() == [
        "line,employee_id,reason",
        "2,E2,email: 'nope' is not an email address",
        "3,E1,member listed twice (line 1)",
    ]

    async def member(_b: SQLiteBackend, stores: ProjectionStores) -> Any:
        return await stores.identities.get_member("E1")

    ada = on_stores(data_dir, member)
    assert (ada.employment_status, ada.worker_type) == ("on_leave", "contractor")
    assert main([*argv, "--json"]) == 1
    assert "imported" in capsys.readouterr().err  # the progress line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["identities", "import", "/nonexistent.csv"], "cannot read /nonexistent.csv"),
        (["identities", "load", "/nonexistent.csv"], "cannot read /nonexistent.csv"),
        (["identities", "import", "."], "is a directory"),
        (["identities", "import", "x.csv", "--columns", "bogus=X"], "unknown fields ['bogus']"),
    ],
)
def test_unreadable_files_and_bad_options_are_a_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_file_without_an_employee_id_column_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["identities", "import", write(data_dir / "x.csv", "id,email\nE1,a@x.com\n")]) == 2
    assert "no 'employee_id' column" in capsys.readouterr().err


def test_a_broken_gzip_file_or_an_unwritable_rejects_file_is_a_message(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = data_dir / "hris.csv.gz"
    broken.write_bytes(gzip.compress(b"employee_id,email\nE1,a@x.com\n" * 50)[:40])
    assert main(["identities", "import", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "hris.csv.gz" in err and "Traceback" not in err
    good = write(data_dir / "ok.csv", "employee_id,email\nE1,a@x.com\n")
    assert main(["identities", "import", good, "--rejects", str(data_dir / "no/dir/r.csv")]) == 2
    assert "No such file or directory" in capsys.readouterr().err
