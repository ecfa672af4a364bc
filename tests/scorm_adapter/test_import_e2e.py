"""`lrs import-scorm` end to end: CSV and NDJSON exports through `lrs.cli.main`, read back
through the xAPI API of an app on the same data directory, re-imported without duplicates."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from lrs.app import create_app
from lrs.cli import main
from lrs.config import Config
from lrs.settings import Settings
from lrs.store.sqlite import SQLiteStatementStore

HEADER = (
    "EmployeeID,Mail,Course,Module,Version,Lesson Status,Completion,Success,"
    "Score,Min,Max,Scaled,Time Spent,Completed On"
)
ROWS = [
    "E1,,SAFE-101,sco1,1.2,passed,,,85,,,,00:45:00,2024-02-01",  # 2: passed, scored, terminated
    ",ada@example.com,GEO,quiz,2004,,completed,failed,8,0,20,,PT20M,2024-02-02T10:00:00+01:00",
    "E3,,SAFE-101,sco1,1.2,completed,,,,,,,0:30:00,2024-02-03",  # 4: completed, terminated
    ",,SAFE-101,sco1,1.2,passed,,,,,,,,2024-02-04",  # 5: rejected, no learner
    "E5,,SAFE-101,sco1,1.2,done,,,,,,,,2024-02-05",  # 6: rejected, bad status
    "E6,,GEO,quiz,SCORM 2004 4th Edition,,completed,passed,,,,0.9,PT1H,2024-02-06",
    "E7,,GEO,quiz,2004,,completed,,150,0,100,,,2024-02-07",  # 8: rejected, raw above max
]
COLUMNS = (
    "learner_id=EmployeeID,email=Mail,course_id=Course,sco_id=Module,scorm_version=Version,"
    "lesson_status=Lesson Status,completion_status=Completion,success_status=Success,"
    "score_raw=Score,score_min=Min,score_max=Max,score_scaled=Scaled,session_time=Time Spent,"
    "completion_date=Completed On"
)
BASE = "https://lms.example.com/courses/"
HOME = "https://hr.example.com/"


def import_args(path: Path, *extra: str) -> list[str]:
    return [
        "import-scorm",
        str(path),
        "--columns",
        COLUMNS,
        "--course-iri-base",
        BASE,
        "--home-page",
        HOME,
        "--no-progress",
        *extra,
    ]


async def run(argv: list[str]) -> int:
    """`lrs ...` in a thread (it runs its own event loop, as the real command does)."""
    return await asyncio.to_thread(main, argv)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "lrs-data"
    monkeypatch.setenv("LRS_DATA_DIR", str(directory))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.delenv("LRS_HRIS_HOME_PAGE", raising=False)
    return directory


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


async def read_statements(client: Any, auth: str) -> list[dict[str, Any]]:
    headers = {"Authorization": auth, "X-Experience-API-Version": "1.0.3"}
    response = await client.get("/xapi/statements", params={"limit": "500"}, headers=headers)
    assert response.status == 200
    page = await response.json()
    assert not page.get("more")
    return page["statements"]


async def credential(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert await run(["credentials", "create", "--name", "reader", "--json"]) == 0
    new = json.loads(capsys.readouterr().out)
    return "Basic " + base64.b64encode(f"{new['key']}:{new['secret']}".encode()).decode()


async def test_import_read_back_and_reimport(
    tmp_path: Path,
    data_dir: Path,
    aiohttp_client: Callable,
    capsys: pytest.CaptureFixture[str],
) -> None:
    export = write_csv(tmp_path / "completions.csv", ROWS)
    rejects = tmp_path / "rejects.csv"
    assert await run(import_args(export, "--rejects", str(rejects))) == 1
    out = capsys.readouterr().out
    assert "7 rows: 4 new, 0 already present, 3 rejected" in out
    assert "(statements: 13 new, 0 already present)" in out
    with rejects.open(newline="") as handle:
        rejected = list(csv.DictReader(handle))
    assert [r["row"] for r in rejected] == ["5", "6", "8"]
    assert rejected[0]["reason"].startswith("EmployeeID:")
    assert rejected[1]["reason"].startswith("Lesson Status:")
    assert rejected[2]["reason"].startswith("Score:")

    auth = await credential(capsys)
    client = await aiohttp_client(create_app(Config(core=Settings(data_dir=data_dir))))
    statements = await read_statements(client, auth)
    assert len(statements) == 13
    by_actor: dict[str, list[str]] = {}
    for statement in statements:
        actor = statement["actor"].get("mbox") or statement["actor"]["account"]["name"]
        by_actor.setdefault(actor, []).append(statement["verb"]["id"].rsplit("/", 1)[1])
    assert {actor: sorted(verbs) for actor, verbs in by_actor.items()} == {
        "E1": ["passed", "scored", "terminated"],
        "mailto:ada@example.com": ["completed", "failed", "scored", "terminated"],
        "E3": ["completed", "terminated"],
        "E6": ["completed", "passed", "scored", "terminated"],
    }
    [e1_done] = [
        s
        for s in statements
        if s["actor"].get("account", {}).get("name") == "E1"
        and s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/terminated"
    ]
    assert e1_done["object"]["id"] == BASE + "SAFE-101/sco1"
    assert e1_done["result"] == {
        "success": True,
        "score": {"scaled": 0.85, "raw": 85},
        "duration": "PT45M",
    }
    assert e1_done["authority"]["name"] == "lrs-import-scorm"
    assert "completion" not in e1_done["result"]  # SCORM 1.2 "passed" says nothing of it

    # The same file again, while the LRS serves: nothing new, nothing duplicated.
    assert await run(import_args(export)) == 1
    captured = capsys.readouterr()
    assert "7 rows: 0 new, 4 already present, 3 rejected" in captured.out
    assert "(statements: 0 new, 13 already present)" in captured.out
    assert "rejected row 5" in captured.err
    again = await read_statements(client, auth)
    assert sorted(s["id"] for s in again) == sorted(s["id"] for s in statements)


async def test_dry_run_stores_nothing(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_csv(tmp_path / "completions.csv", ROWS[:3])
    assert await run(import_args(export, "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "dry run, nothing stored: 3 rows: 3 would be new" in out
    assert await run(import_args(export)) == 0
    assert "3 rows: 3 new" in capsys.readouterr().out


async def test_ndjson_with_a_columns_file_and_a_progress_bar(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps({"learner_id": "user", "course_id": "course", "sco_id": "sco"}))
    export = tmp_path / "export.ndjson"
    lines = [
        {
            "user": "E1",
            "course": "C1",
            "sco": "s1",
            "scorm_version": "1.2",
            "lesson_status": "passed",
        },
        {"user": "E2", "course": "C1", "sco": "s1", "scorm_version": "2004", "score_scaled": 0.5},
        "not json",
    ]
    export.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n")
    argv = [
        "import-scorm",
        str(export),
        "--columns",
        str(columns),
        "--course-iri-base",
        BASE,
        "--home-page",
        HOME,
        "--progress",
    ]
    assert await run(argv) == 1
    captured = capsys.readouterr()
    assert "3 rows: 2 new, 0 already present, 1 rejected" in captured.out
    assert "[##############################] 100%" in captured.err
    assert "rejected row 3: not valid JSON" in captured.err


async def test_a_bad_row_in_a_batch_does_not_lose_the_others(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "learner_id,course_id,sco_id,scorm_version,lesson_status,completion_date,attempt"
    first = write_csv(tmp_path / "first.csv", ["E1,C1,s1,1.2,passed,2024-01-01,1"], header)
    args = ["--course-iri-base", BASE, "--home-page", HOME, "--no-progress"]
    assert await run(["import-scorm", str(first), *args]) == 0
    # Same attempt and result, another date: the same statement ids with other content (409).
    second = write_csv(
        tmp_path / "second.csv",
        [
            "E2,C1,s1,1.2,passed,2024-01-05,1",
            "E1,C1,s1,1.2,passed,2024-01-02,1",
            "E3,C1,s1,1.2,completed,2024-01-05,1",
        ],
        header,
    )
    rejects = tmp_path / "rejects.csv"
    assert await run(["import-scorm", str(second), *args, "--rejects", str(rejects)]) == 1
    assert "3 rows: 2 new, 0 already present, 1 rejected" in capsys.readouterr().out
    with rejects.open(newline="") as handle:
        [rejected] = list(csv.DictReader(handle))
    assert rejected["row"] == "3" and rejected["reason"].startswith("conflict:")


async def test_a_missing_column_stops_before_any_row(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_csv(tmp_path / "bad.csv", ["E1,s1,passed"], "learner_id,sco_id,lesson_status")
    assert await run(["import-scorm", str(export), "--course-iri-base", BASE]) == 2
    assert "course_id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--columns", "learner_id=x,course_id"], "not our=theirs"),
        (["--columns", "missing.json"], "neither our=theirs pairs nor a readable JSON file"),
        (["--columns", "nobody=x"], "unknown fields"),
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--format", "csv", "--course-iri-base", "not an iri"], "course_iri_base"),
    ],
)
async def test_bad_options_exit_2(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    export = write_csv(tmp_path / "x.csv", ROWS[:1])
    argv = ["import-scorm", str(export), "--course-iri-base", BASE, *extra]
    assert await run(argv) == 2
    assert message in capsys.readouterr().err


async def test_the_import_does_not_read_the_store_before_writing(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The write path reports each statement's outcome: no second, racy path to the store.
    assert await run(import_args(write_csv(tmp_path / "first.csv", ROWS[:1]))) == 0
    reads: list[object] = []
    real = SQLiteStatementStore.get_statements

    async def counted(self: SQLiteStatementStore, ids: Sequence[str]) -> object:
        reads.append(ids)
        return await real(self, ids)

    monkeypatch.setattr(SQLiteStatementStore, "get_statements", counted)
    assert await run(import_args(write_csv(tmp_path / "all.csv", ROWS), "--batch-size", "4")) == 1
    out = capsys.readouterr().out
    assert "7 rows: 3 new, 1 already present, 3 rejected" in out
    assert "(statements: 10 new, 3 already present)" in out
    assert reads == []
