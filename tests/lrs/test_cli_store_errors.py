"""Item 14.17: a database the `lrs` command cannot open is one line on stderr and exit 2."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrs.cli import main
from lrs.store.engine import sqlite as engine

DB_NAME = "lrs.sqlite3"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    return tmp_path


def _real_database(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["credentials", "create", "--name", "lms", "--json"]) == 0
    capsys.readouterr()
    return data_dir / DB_NAME


def _assert_one_line(err: str, path: Path, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("command", [["credentials", "list"], ["reconcile"]])
def test_garbage_file_is_one_line_and_exit_2(
    command: list[str], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_dir / DB_NAME
    path.write_bytes(os.urandom(8192))
    assert main(command) == 2
    _assert_one_line(capsys.readouterr().err, path, "not an SQLite database", "backup")


def test_truncated_copy_is_one_line_and_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _real_database(data_dir, capsys)
    data = path.read_bytes()
    for side in ("-wal", "-shm"):
        path.with_name(DB_NAME + side).unlink(missing_ok=True)
    path.write_bytes(data[: len(data) // 2])
    assert main(["credentials", "list"]) == 2
    _assert_one_line(capsys.readouterr().err, path, "damaged")


@pytest.fixture
def locked(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """The database, held under an exclusive lock by another connection."""
    path = _real_database(data_dir, capsys)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    yield path
    other.execute("ROLLBACK")
    other.close()


def test_locked_database_is_one_line_and_exit_2(
    locked: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(engine, "OPEN_LOCK_WAIT_S", 0.1)
    assert main(["credentials", "list"]) == 2
    _assert_one_line(capsys.readouterr().err, locked, "locked", "another process")


def test_serve_with_a_garbage_file_exits_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"not a database at all" * 500)
    (tmp_path / DB_NAME).chmod(0o600)  # no mode warning: stderr holds the error alone
    env = {**os.environ, "LRS_DATA_DIR": str(tmp_path), "LRS_PORT": "0"}
    env.pop("LRS_MONGODB_URI", None)
    done = subprocess.run(
        [sys.executable, "-m", "lrs.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    _assert_one_line(done.stderr, tmp_path / DB_NAME, "not an SQLite database")
