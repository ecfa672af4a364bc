"""`lrs export-statements`, and the round trip export → import → export."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.lrs.migration.helpers import (
    lrs,
    ndjson,
    rows,
    seed,
    sid,
    statement,
    voided_ids,
    voiding,
    write,
)


def export(path: Path, *args: str) -> bytes:
    assert lrs("export-statements", "--output", str(path), *args) == 0
    return path.read_bytes()


def test_export_writes_every_statement_voided_ones_included(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(data_dir, [statement(1), statement(2)], [voiding(3, 1)], [statement(4)])

    out = tmp_path / "export.ndjson"
    export(out)

    got = rows(out)
    assert [s["id"] for s in got] == [sid(1), sid(2), sid(3), sid(4)]
    assert all("stored" in s and "authority" in s for s in got)
    stored = [s["stored"] for s in got]
    assert stored == sorted(stored)
    assert "exported 4 statements to " in capsys.readouterr().err
    assert not (tmp_path / "export.ndjson.partial").exists()


def test_export_to_stdout(data_dir: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    seed(data_dir, [statement(1), statement(2)])
    assert lrs("export-statements") == 0
    out = capsysbinary.readouterr().out
    assert [json.loads(line)["id"] for line in out.splitlines()] == [sid(1), sid(2)]


def test_export_gzip_is_reproducible(data_dir: Path, tmp_path: Path) -> None:
    seed(data_dir, [statement(1)])
    first = export(tmp_path / "a.ndjson.gz", "--gzip")
    assert first[:2] == b"\x1f\x8b"
    assert first == export(tmp_path / "b.ndjson.gz", "--gzip")
    assert [json.loads(line)["id"] for line in gzip.decompress(first).splitlines()] == [sid(1)]


def test_since_and_until_bound_the_stored_times(data_dir: Path, tmp_path: Path) -> None:
    items = [
        statement(n, stored=f"2020-01-0{n}T00:00:00.000Z", timestamp="2020-01-01T00:00:00Z")
        for n in range(1, 6)
    ]
    source = write(tmp_path / "source.ndjson", ndjson(items))
    assert lrs("import-statements", str(source), "--keep-stored") == 0

    out = tmp_path / "window.ndjson"
    export(out, "--since", "2020-01-02T00:00:00Z", "--until", "2020-01-04T00:00:00.000Z")
    assert [s["id"] for s in rows(out)] == [sid(3), sid(4)]


def test_an_empty_store_exports_an_empty_file(data_dir: Path, tmp_path: Path) -> None:
    assert export(tmp_path / "empty.ndjson") == b""


def test_bad_export_arguments_fail_cleanly(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        lrs("export-statements", "--since", "last tuesday")
    assert exited.value.code == 2
    assert "not an ISO 8601 timestamp" in capsys.readouterr().err
    missing_dir = tmp_path / "no-such-dir" / "out.ndjson"
    assert lrs("export-statements", "--output", str(missing_dir)) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_is_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    seed(
        source,
        [statement(n) for n in range(1, 40)],
        [
            voiding(40, 3),
            statement(41, context={"contextActivities": {"parent": {"id": "http://p/1"}}}),
        ],
        [statement(42, object={"objectType": "StatementRef", "id": sid(5)})],
        [statement(n) for n in range(43, 60)],
    )
    gz = ("--gzip",) if compress else ()

    monkeypatch.setenv("LRS_DATA_DIR", str(source))
    first = export(tmp_path / "first", *gz)
    monkeypatch.setenv("LRS_DATA_DIR", str(target))
    status = lrs(
        "import-statements",
        str(tmp_path / "first"),
        "--keep-stored",
        "--keep-authority",
        "--batch-size",
        "7",
    )
    assert status == 0
    second = export(tmp_path / "second", *gz)

    assert second == first
    assert voided_ids(target, [sid(3), sid(40), sid(5)]) == {sid(3)}
    assert len((gzip.decompress(first) if compress else first).splitlines()) == 59
