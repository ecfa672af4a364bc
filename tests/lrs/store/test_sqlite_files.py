"""Item 14.16: the SQLite store's directory and files are private, and a start warns when not."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrs.auth import create_credential
from lrs.keyfile import load_or_create_key
from lrs.store.sqlite import SQLiteBackend

DB_NAME = "lrs.sqlite3"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under a permissive umask: the modes must not depend on it."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


async def test_fresh_start_creates_a_private_directory_and_files(
    tmp_path: Path, umask: int
) -> None:
    data_dir = tmp_path / "fresh" / "lrs-data"
    backend = SQLiteBackend(data_dir)
    try:
        await create_credential(backend.credentials, "lms", ["all"])  # the WAL is written
        assert _mode(data_dir) == 0o700
        for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
            assert (data_dir / name).exists(), name
            assert _mode(data_dir / name) == 0o600, name
    finally:
        await backend.close()


def test_a_key_file_creates_the_data_directory_private(tmp_path: Path, umask: int) -> None:
    data_dir = tmp_path / "keys-first"
    load_or_create_key(data_dir / "some.key", purpose="test key")
    assert _mode(data_dir) == 0o700


async def test_an_existing_world_readable_database_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = SQLiteBackend(tmp_path)
    await first.close()
    (tmp_path / DB_NAME).chmod(0o644)
    with caplog.at_level(logging.WARNING):
        again = SQLiteBackend(tmp_path)
    await again.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"chmod 600 {tmp_path / DB_NAME}" in message
    assert _mode(tmp_path / DB_NAME) == 0o644  # an existing file is left as the operator set it


async def test_an_open_directory_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tmp_path.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        backend = SQLiteBackend(tmp_path)
    await backend.close()
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"chmod 700 {tmp_path}" in warning.getMessage()


async def test_private_files_start_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "lrs-data"
    first = SQLiteBackend(data_dir)
    await first.close()
    with caplog.at_level(logging.WARNING):
        again = SQLiteBackend(data_dir)
    await again.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
