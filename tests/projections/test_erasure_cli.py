"""Erasing a pseudonymous member (a contractor) through the CLI, addressed by their pseudonym,
on a SQLite data dir: the member is revealed first (audited), an audit entry written by an
earlier version names them in clear; afterwards the audit chain verifies, `lrs audit` lists
every entry with `[erased]` in their place, `lrs export` holds nothing of them and no table or
file of the data dir does. A contractor without any record reveals too (issue 17 item 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from lrs.store.sqlite import SQLiteBackend
from projections.audit import seal
from projections.audit_personal import ERASED
from projections.store import ProjectionStores
from projections.store.audit import AuditRecord
from tests.lrs.http.test_erasure import found_secrets
from tests.projections.conftest import COURSE, HRIS, hris_actor, mbox_actor, statement
from tests.projections.test_cli_privacy import pseudonym_of
from tests.projections.test_identity_cli import on_stores, run, store

EMPLOYEE, NAME, EMAIL = "CTR-ADA-1815", "Ada Lovelace", "ada.lovelace@example.com"
LMS, LMS_NAME = "https://lms.example.com", "ada-lms-7731"
SECRETS = [EMPLOYEE, NAME, "ada.lovelace", LMS_NAME]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data dir; the HRIS file (personal data) stays outside it."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LRS_DATA_DIR", str(data))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.delenv("LRS_MARKETPLACE_MASTER_KEY", raising=False)
    monkeypatch.chdir(data)
    hris = tmp_path / "hris.csv"
    hris.write_text(
        "employee_id,email,name,worker_type,lms_accounts\n"
        f"{EMPLOYEE},{EMAIL},{NAME},contractor,{LMS} {LMS_NAME}\n"
        "CTR-2,carl@x.org,Carl,contractor,\n"
        "E2,bob@x.org,Bob,employee,\n"
    )
    assert main(["identities", "import", str(hris)]) == 0
    return data


def audited_by_an_earlier_version(data: Path) -> None:
    """An entry as versions before personal parts wrote it: the employee id in clear."""

    async def job(_backend: SQLiteBackend, stores: ProjectionStores) -> None:
        entry = AuditRecord(0, 1, "hris.event", "hris:old", EMPLOYEE, {"event_id": "old-1"})
        await stores.audit.insert_run([seal(entry, await stores.audit.head())])

    on_stores(data, job)


def test_a_contractor_without_records_reveals(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    carl = pseudonym_of(data, "CTR-2", 1)
    assert run(capsys, "identities", "reveal", carl) == {"pseudonym": carl, "member_id": "CTR-2"}


def test_erase_a_contractor_by_pseudonym_leaves_nothing(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    actors = [mbox_actor(EMAIL), {"account": {"homePage": LMS, "name": LMS_NAME}}]
    store(
        data,
        *(statement("completed", actor=a, activity=f"{COURSE}/{n}") for n, a in enumerate(actors)),
        statement("completed", actor=hris_actor("E2"), activity=f"{COURSE}/b"),
    )
    ada = pseudonym_of(data, EMPLOYEE, 1)
    assert run(capsys, "identities", "reveal", ada)["member_id"] == EMPLOYEE
    audited_by_an_earlier_version(data)
    done = run(capsys, "identities", "erase", ada, "--yes")
    assert done["records_deleted"] == 2 and done["statements_pseudonymised"] == 2
    report = run(capsys, "audit", "verify")
    assert report["intact"] and report["entries_erased"] >= 3  # import, reveal, old entry
    listed = run(capsys, "audit", "--limit", "1000")
    assert len(listed) == report["entries_checked"]
    text = json.dumps(listed)
    assert ERASED in text and not [s for s in SECRETS if s in text]
    assert ada not in text  # the reveal's subject is the member's
    assert main(["export", "--output", "records.ndjson"]) == 0
    exported = (data / "records.ndjson").read_text()
    assert '"E2"' in exported and not [s for s in SECRETS if s in exported]
    assert run(capsys, "reconcile")["drift"] == 0
    database: Any = type("D", (), {"engine": type("E", (), {"path": data / "lrs.sqlite3"})})
    assert found_secrets(database, data, SECRETS) == []
