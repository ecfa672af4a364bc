"""Every bulk import records its run in the import history: `lrs import-statements`,
`lrs import-scorm` and `lrs identities import`, with their counts and first rejected rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lrs.importing.history import ImportRecord, open_import_runs
from lrs.importing.reports import KEPT_REJECTIONS, Rejections
from lrs.store.import_runs import IDENTITIES, SCORM, STATEMENTS, ImportRun
from lrs.store.sqlite import SQLiteBackend
from tests.lrs.migration.helpers import lrs, ndjson, statement, write


def history(data_dir: Path) -> list[ImportRun]:
    """The recorded runs, newest first."""

    async def read() -> list[ImportRun]:
        backend = SQLiteBackend(data_dir)
        try:
            return await (await open_import_runs(backend)).recent_runs()
        finally:
            await backend.close()

    return asyncio.run(read())


def test_a_statement_import_is_recorded_with_its_rejected_lines(
    data_dir: Path, tmp_path: Path
) -> None:
    items: list[object] = [statement(n) for n in range(4)]
    items[2] = statement(2, verb={"id": "not an iri"})
    path = write(tmp_path / "export.ndjson", ndjson(items))
    assert lrs("import-statements", str(path), "--no-progress") == 1
    assert lrs("import-statements", str(path), "--no-progress") == 1  # again: all present
    again, first = history(data_dir)
    assert (first.kind, first.file_name, first.outcome) == (
        STATEMENTS,
        "export.ndjson",
        "completed",
    )
    assert (first.accepted, first.present, first.rejected) == (3, 0, 1)
    [(where, reason)] = first.rejections
    assert where == "line 3" and "verb" in reason
    assert first.actor.startswith("cli") and first.finished_us >= first.started_us
    assert (again.accepted, again.present, again.rejected) == (0, 3, 1)


def test_a_scorm_import_and_an_identity_import_are_recorded(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorm = tmp_path / "legacy.csv"
    scorm.write_text(
        "learner_id,course_id,sco_id,scorm_version,lesson_status,completion_date\n"
        "E1,SAFE-101,sco1,1.2,passed,2024-02-01\n"
        "E2,SAFE-101,sco1,1.2,done,2024-02-05\n",
        encoding="utf-8",
    )
    args = ["--course-iri-base", "https://lms.example.com/c/", "--home-page", "https://hr.ex/"]
    assert lrs("import-scorm", str(scorm), *args, "--no-progress") == 1
    assert lrs("import-scorm", str(scorm), *args, "--no-progress", "--dry-run") == 1
    hris = tmp_path / "hris.csv"
    hris.write_text(
        "employee_id,email\nE1,e1@example.com\n,nobody@example.com\nE2,e2@example.com\n",
        encoding="utf-8",
    )
    assert lrs("identities", "import", str(hris), "--dry-run") == 1  # not recorded
    assert lrs("identities", "import", str(hris)) == 1
    people, legacy = history(data_dir)  # the dry runs wrote nothing
    assert (legacy.kind, legacy.accepted, legacy.rejected) == (SCORM, 1, 1)
    assert legacy.details["statements_new"] >= 1
    assert "status" in legacy.rejections[0][1] or "done" in legacy.rejections[0][1]
    assert (people.kind, people.file_name, people.accepted, people.rejected) == (
        IDENTITIES,
        "hris.csv",
        2,
        1,
    )
    assert people.details["hires"] == 2
    assert people.rejections == (("line 3", "employee_id: missing"),)


def test_only_the_first_rejections_are_kept() -> None:
    record = ImportRecord(STATEMENTS, "f", actor="cli:x")
    rejections: Rejections = record.rejections
    for n in range(KEPT_REJECTIONS + 5):
        rejections.add(f"line {n}", "bad")
    run = record.finish(accepted=0, present=0, rejected=KEPT_REJECTIONS + 5)
    assert len(run.rejections) == KEPT_REJECTIONS and run.rejected == KEPT_REJECTIONS + 5
