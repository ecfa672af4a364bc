"""A large import runs in constant memory: the file is streamed, never held whole.

Peak traced memory (tracemalloc: every Python allocation, in every thread) is measured for an
import of N statements and of 4N. Were the file, the statements, or a per-statement record
(a set of seen ids, a list of outcomes) kept, the peak would grow with N; streamed, it is set
by one batch. The files are generated lazily too, before tracing starts.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lrs.migration.helpers import lrs, many

N = 1000
BATCH = "100"


def write_ndjson(path: Path, statements: Iterator[dict[str, Any]]) -> Path:
    with path.open("wb") as out:
        for item in statements:
            out.write(json.dumps(item).encode() + b"\n")
    return path


def write_gzip_array(path: Path, statements: Iterator[dict[str, Any]]) -> Path:
    with gzip.open(path, "wb") as out:
        out.write(b"[\n")
        for n, item in enumerate(statements):
            out.write((b",\n" if n else b"") + json.dumps(item, indent=2).encode())
        out.write(b"\n]\n")
    return path


def peak_import(path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Peak traced bytes while `lrs import-statements` imports `path` into `data_dir`."""
    data_dir.mkdir()
    monkeypatch.setenv("LRS_DATA_DIR", str(data_dir))
    tracemalloc.start()
    try:
        status = lrs("import-statements", str(path), "--batch-size", BATCH, "--no-progress")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 0
    return peak


@pytest.mark.parametrize("writer", [write_ndjson, write_gzip_array])
def test_peak_memory_does_not_grow_with_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    writer: Any,
) -> None:
    tiny = writer(tmp_path / "tiny", many(50))
    small = writer(tmp_path / "small", many(N))
    large = writer(tmp_path / "large", many(4 * N))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    # The SQLite writer's caches (key ids, activity definitions) grow with distinct keys up to
    # a fixed bound (tests/lrs/store/test_sqlite_keys.py); shrunk here so that a file this small
    # already shows whether the import itself grows.
    monkeypatch.setattr("lrs.store.sqlite_keys.KEY_CACHE_ENTRIES", 100)
    monkeypatch.setattr("lrs.store.sqlite.DEFINITION_CACHE_ENTRIES", 100)

    # warm-up: imports, schema compilation and other one-off costs are not the file's
    peak_import(tiny, tmp_path / "warm", monkeypatch)
    small_peak = peak_import(small, tmp_path / "a", monkeypatch)
    large_peak = peak_import(large, tmp_path / "b", monkeypatch)

    assert f"{4 * N} new, 0 already present, 0 rejected" in capsys.readouterr().out
    # 4x the statements: the peak may wobble, but not grow with them
    assert large_peak < small_peak * 1.25, (small_peak, large_peak)
