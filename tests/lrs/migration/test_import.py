"""`lrs import-statements` through the CLI entry point, on a fresh SQLite data directory."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from lrs.errors import StoreUnavailable
from lrs.services.statements import StatementService
from lrs.store.sqlite import SQLiteStatementStore
from tests.lrs.migration.helpers import (
    lrs,
    ndjson,
    rows,
    sid,
    statement,
    stored,
    stored_ids,
    voided_ids,
    voiding,
    write,
)

STORED = "2021-05-06T07:08:09.123Z"
SOURCE_AUTHORITY = {"objectType": "Agent", "mbox": "mailto:old-lrs@example.com"}


def exported(n: int, **overrides: object) -> dict[str, object]:
    """Statement `n` as another LRS exports it: with stored, authority and version."""
    source = {
        "stored": STORED,
        "authority": SOURCE_AUTHORITY,
        "version": "1.0.0",
        "timestamp": "2021-05-06T07:00:00Z",
    }
    return statement(n, **{**source, **overrides})


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", ["ndjson", "array"])
def test_import_keeps_ids_and_assigns_stored_and_authority(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], compress: bool, shape: str
) -> None:
    items = [exported(n) for n in range(5)]
    data = ndjson(items) if shape == "ndjson" else json.dumps(items, indent=2).encode()
    path = write(tmp_path / "export.bin", data, compress=compress)

    assert lrs("import-statements", str(path), "--batch-size", "2") == 0

    assert capsys.readouterr().out.strip().endswith("5 new, 0 already present, 0 rejected")
    got = stored(data_dir)
    assert sorted(s["id"] for s in got) == sorted(sid(n) for n in range(5))
    for s in got:
        assert s["stored"] != STORED
        assert s["authority"]["name"] == "lrs-import"
        assert s["authority"]["account"] == {
            "homePage": "http://127.0.0.1:8080",
            "name": "lrs-import",
        }
        assert s["timestamp"] == "2021-05-06T07:00:00Z"


def test_keep_stored_and_keep_authority(data_dir: Path, tmp_path: Path) -> None:
    items = [exported(1), exported(2, stored="2020-01-01T00:00:00.5+02:00")]
    items.append(statement(3, stored="2022-02-02T02:02:02.002Z"))  # no authority
    items.append(statement(4))  # neither
    path = write(tmp_path / "export.ndjson", ndjson(items))

    assert lrs("import-statements", str(path), "--keep-stored", "--keep-authority") == 0

    by_id = {s["id"]: s for s in stored(data_dir)}
    assert by_id[sid(1)]["stored"] == STORED
    assert by_id[sid(2)]["stored"] == "2020-01-01T00:00:00.5+02:00"  # kept as given
    assert by_id[sid(1)]["authority"] == SOURCE_AUTHORITY
    assert by_id[sid(3)]["authority"]["name"] == "lrs-import"
    assert by_id[sid(4)]["stored"] not in (STORED, None)
    # export order is stored order: 2 (2019-12-31T22:00Z), 1 (2021), 3 (2022), 4 (now)
    assert stored_ids(data_dir) == [sid(2), sid(1), sid(3), sid(4)]


def test_authority_name_names_the_import_authority(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "export.ndjson", ndjson([exported(1)]))
    assert lrs("import-statements", str(path), "--authority-name", "migration-2024") == 0
    [got] = stored(data_dir)
    assert got["authority"]["name"] == "migration-2024"
    assert got["authority"]["account"]["name"] == "migration-2024"


def test_a_rerun_stores_nothing_twice(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "export.ndjson", ndjson(exported(n) for n in range(7)))
    assert lrs("import-statements", str(path), "--batch-size", "3") == 0
    first = stored(data_dir)
    capsys.readouterr()

    more = write(tmp_path / "more.ndjson", ndjson(exported(n) for n in range(4, 10)))
    assert lrs("import-statements", str(more), "--batch-size", "3") == 0
    assert "3 new, 3 already present, 0 rejected" in capsys.readouterr().out
    assert lrs("import-statements", str(path)) == 0
    assert "0 new, 7 already present, 0 rejected" in capsys.readouterr().out

    after = stored(data_dir)
    assert len(after) == 10
    assert after[:7] == first  # untouched: same stored time, same authority


def test_one_bad_statement_does_not_lose_its_batch(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items: list[object] = [exported(n) for n in range(6)]
    items[2] = exported(2, actor={"mbox": "not-an-email"})
    items[4] = exported(4, verb={"id": "not an iri"})
    path = write(tmp_path / "export.ndjson", ndjson(items))
    rejects = tmp_path / "rejects.ndjson"

    status = lrs("import-statements", str(path), "--batch-size", "10", "--rejects", str(rejects))

    assert status == 1
    assert "4 new, 0 already present, 2 rejected" in capsys.readouterr().out
    assert sorted(stored_ids(data_dir)) == sorted(sid(n) for n in (0, 1, 3, 5))
    got = rows(rejects)
    assert [(r["line"], r["index"], r["id"]) for r in got] == [(3, 2, sid(2)), (5, 4, sid(4))]
    assert "actor.mbox" in got[0]["reason"]
    assert "verb.id" in got[1]["reason"]


def test_every_kind_of_reject_is_reported(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps(exported(1)).encode(),
        b'{"id": "broken", ',
        b"[1, 2]",
        json.dumps(statement(0) | {"id": None}).encode(),
        json.dumps(exported(1)).encode(),  # the same statement twice: already present
        json.dumps(exported(3)).encode(),
        json.dumps(exported(3, result={"success": True})).encode(),  # same id, other content
        json.dumps(voiding(4, 1)).encode(),
        json.dumps(voiding(5, 4)).encode(),  # voiding a voiding statement
        json.dumps(exported(6, stored="yesterday")).encode(),
    ]
    path = write(tmp_path / "export.ndjson", b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.ndjson"

    status = lrs("import-statements", str(path), "--keep-stored", "--rejects", str(rejects))

    assert status == 1
    assert "3 new, 1 already present, 6 rejected" in capsys.readouterr().out
    reasons = {r["line"]: (r["id"], r["reason"]) for r in rows(rejects)}
    assert sorted(reasons) == [2, 3, 4, 7, 9, 10]
    assert reasons[2][0] is None and reasons[2][1].startswith("not JSON")
    assert reasons[3] == (None, "not a statement: a JSON object is expected")
    assert reasons[4] == (None, "id is required: an import keeps ids")
    assert reasons[7][0] == sid(3) and reasons[7][1].startswith("conflict: ")
    assert "already exists with different content" in reasons[7][1]
    assert reasons[9][0] == sid(5) and "cannot be voided" in reasons[9][1]
    assert reasons[10][0] == sid(6) and "stored" in reasons[10][1]
    assert sorted(stored_ids(data_dir)) == sorted([sid(1), sid(3), sid(4)])


def test_a_conflict_in_a_batch_rejects_only_that_statement(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path / "first.ndjson", ndjson([exported(1)]))
    assert lrs("import-statements", str(first)) == 0
    changed = exported(1, result={"completion": True})
    path = write(tmp_path / "second.ndjson", ndjson([exported(0), changed, exported(2)]))
    capsys.readouterr()

    assert lrs("import-statements", str(path)) == 1

    captured = capsys.readouterr()
    assert "2 new, 0 already present, 1 rejected" in captured.out
    assert f"rejected line 2: conflict: statement {sid(1)}" in captured.err
    assert sorted(stored_ids(data_dir)) == sorted(sid(n) for n in range(3))


def test_voided_statements_and_their_voiders_are_imported(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "export.ndjson", ndjson([exported(1), voiding(2, 1), exported(3)]))
    assert lrs("import-statements", str(path)) == 0
    assert sorted(stored_ids(data_dir)) == sorted([sid(1), sid(2), sid(3)])
    assert voided_ids(data_dir, [sid(1), sid(2), sid(3)]) == {sid(1)}


def test_statements_are_validated_under_their_own_version(data_dir: Path, tmp_path: Path) -> None:
    # The 1.0.3 rules refuse `"version": "2.0.0"`: each statement's own version picks the
    # rules it is validated under (in runs of equal versions within a batch).
    items = [
        exported(1),
        statement(2, version="2.0.0"),
        exported(3),
        statement(4),  # no version: --xapi-version
    ]
    path = write(tmp_path / "export.ndjson", ndjson(items))
    assert lrs("import-statements", str(path), "--xapi-version", "1.0.3") == 0
    versions = {s["id"]: s["version"] for s in stored(data_dir)}
    assert versions == {sid(1): "1.0.0", sid(2): "2.0.0", sid(3): "1.0.0", sid(4): "1.0.0"}


def test_progress_is_one_line_rewritten_in_place(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "export.ndjson", ndjson(exported(n) for n in range(30)))
    assert lrs("import-statements", str(path), "--batch-size", "7", "--progress") == 0
    err = capsys.readouterr().err
    assert err.startswith("\r") and err.endswith("\n")
    assert err.count("\n") == 1
    last = err.rstrip("\n").split("\r")[-1]
    size = path.stat().st_size / 1024
    assert last.startswith("100.0%")
    assert f"{size:.1f} KiB / {size:.1f} KiB" in last
    assert "30 imported (30 new, 0 already present, 0 rejected)" in last


def test_no_progress_when_not_asked(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "export.ndjson", ndjson([exported(1)]))
    assert lrs("import-statements", str(path), "--no-progress") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"not json at all\n", "is not JSON"),
        (b"\x1f\x8b\x08\x00\x00\x00", "is not a valid gzip file"),
        (b"[" + json.dumps(exported(1)).encode() + b",", "truncated"),
    ],
)
def test_bad_files_fail_cleanly(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    message: str,
) -> None:
    path = write(tmp_path / "export.json.gz", data)
    assert lrs("import-statements", str(path)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_truncated_array_keeps_what_came_before(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = json.dumps([exported(n) for n in range(5)]).encode()
    path = write(tmp_path / "export.json.gz", whole[:-40], compress=True)
    assert lrs("import-statements", str(path), "--batch-size", "2") == 2
    err = capsys.readouterr().err
    assert "import stopped: 4 new, 0 already present, 0 rejected so far" in err
    assert "error: the file ends inside statement 5" in err
    assert len(stored_ids(data_dir)) == 4


def test_a_gzip_named_file_that_is_plain_ndjson_is_read_as_such(
    data_dir: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "export.ndjson.gz", ndjson([exported(1)]))
    assert lrs("import-statements", str(path)) == 0
    assert stored_ids(data_dir) == [sid(1)]


def test_bad_arguments_fail_cleanly(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "export.ndjson", ndjson([exported(1)]))
    assert lrs("import-statements", str(tmp_path / "missing.ndjson")) == 2
    assert "cannot read" in capsys.readouterr().err
    assert lrs("import-statements", str(path), "--batch-size", "6000") == 2
    assert "LRS_MAX_BATCH_SIZE" in capsys.readouterr().err
    bad_rejects = tmp_path / "no-such-dir" / "rejects.ndjson"
    assert lrs("import-statements", str(path), "--rejects", str(bad_rejects)) == 2
    assert "cannot write --rejects" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        lrs("import-statements", str(path), "--batch-size", "0")
    assert exited.value.code == 2
    assert stored_ids(data_dir) == []


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("import-statements", "export-statements"):
        with pytest.raises(SystemExit) as exited:
            lrs(command, "--help")
        assert exited.value.code == 0
        assert "usage: lrs " + command in capsys.readouterr().out


def test_gzip_detection_does_not_trust_the_name(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(gzip.compress(ndjson([exported(1)])))
    assert lrs("import-statements", str(path)) == 0
    assert stored_ids(data_dir) == [sid(1)]


def test_attachment_content_cannot_be_imported(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attachment = {
        "usageType": "http://example.com/usage/certificate",
        "display": {"en-US": "certificate"},
        "contentType": "application/pdf",
        "length": 4,
        "sha2": "a" * 64,
    }
    with_url = exported(2, attachments=[{**attachment, "fileUrl": "http://example.com/c.pdf"}])
    path = write(
        tmp_path / "export.ndjson", ndjson([exported(1, attachments=[attachment]), with_url])
    )
    assert lrs("import-statements", str(path)) == 1
    assert "1 new, 0 already present, 1 rejected" in capsys.readouterr().out
    assert stored_ids(data_dir) == [sid(2)]


def test_a_store_failure_stops_the_import_and_a_rerun_completes_it(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(tmp_path / "export.ndjson", ndjson(exported(n) for n in range(10)))
    real = StatementService.store_statements
    calls: list[int] = []

    async def failing_third_call(self: StatementService, body: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise StoreUnavailable("the store could not store the statements")
        return await real(self, body, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(StatementService, "store_statements", failing_third_call)
    assert lrs("import-statements", str(path), "--batch-size", "4") == 2
    err = capsys.readouterr().err
    assert "import stopped: 8 new, 0 already present, 0 rejected so far" in err
    assert "error: the store could not store the statements" in err
    assert len(stored_ids(data_dir)) == 8

    monkeypatch.setattr(StatementService, "store_statements", real)
    assert lrs("import-statements", str(path), "--batch-size", "4") == 0
    assert "2 new, 8 already present, 0 rejected" in capsys.readouterr().out
    assert len(stored_ids(data_dir)) == 10


def test_the_import_does_not_read_the_store_before_writing(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The write path reports each statement's outcome: no second, racy path to the store.
    first = write(tmp_path / "first.ndjson", ndjson(exported(n) for n in range(3)))
    assert lrs("import-statements", str(first)) == 0
    reads: list[object] = []
    real = SQLiteStatementStore.get_statements

    async def counted(self: SQLiteStatementStore, ids: Sequence[str]) -> object:
        reads.append(ids)
        return await real(self, ids)

    monkeypatch.setattr(SQLiteStatementStore, "get_statements", counted)
    items = [exported(n) for n in range(6)]
    items[4] = exported(4, actor={"mbox": "not-an-email"})  # a failed batch, retried one by one
    path = write(tmp_path / "export.ndjson", ndjson(items))
    assert lrs("import-statements", str(path), "--batch-size", "3") == 1
    assert "2 new, 3 already present, 1 rejected" in capsys.readouterr().out
    assert reads == []
