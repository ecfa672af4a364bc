"""JSON bytes the projection holds many of at once take what their text takes.

orjson's own output holds a buffer of at least 4 KiB (`projections.store.kept_json`). Memory is
measured with tracemalloc, which sees each buffer's real size (`sys.getsizeof` does not).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.kept_json import kept_json
from projections.store.quality import OPEN, QualityIssue
from projections.store.sqlite_quality import SQLiteQualityStore

N = 5000
# a fact's data as the worker writes it: about 270 bytes of JSON
FACT = {
    "verb_id": "http://adlnet.gov/expapi/verbs/completed",
    "timestamp": "2024-01-10T21:10:08.977000Z",
    "score": {"raw": 99, "min": 0, "max": 100, "scaled": 0.99},
    "completion": True,
    "success": None,
    "registration": "0ab97287-98e3-414c-8a92-37d4e06abb36",
}


def traced_per_value(make: Callable[[int], Any]) -> float:
    """Bytes traced per value while N values made by `make` are held."""
    tracemalloc.start()
    try:
        held = [make(n) for n in range(N)]
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(held) == N
    return current / N


@pytest.mark.parametrize(
    "value",
    [FACT, {}, [], "é\u2028\U0001f600", 1.5, None, {"nested": [FACT, [FACT]]}, "x" * 20000],
)
def test_kept_json_is_orjsons_text(value: Any) -> None:
    assert kept_json(value) == orjson.dumps(value)
    assert type(kept_json(value)) is bytes


def test_a_kept_value_takes_about_its_text() -> None:
    size = len(orjson.dumps(FACT))
    per_value = traced_per_value(lambda n: kept_json({**FACT, "n": n}))
    assert per_value < size + 200  # the bytes object's header, the list's slot


@pytest.fixture
async def quality(tmp_path: Path) -> AsyncIterator[SQLiteQualityStore]:
    db = SQLiteDatabase(tmp_path / "q.sqlite3")
    db.open([])
    yield SQLiteQualityStore(db)
    await db.close()


async def test_a_large_quality_write_holds_little_per_item(quality: SQLiteQualityStore) -> None:
    """A batch's items go in one write (`HeldNotes`); while it is written, each row must not
    hold a buffer of its own: with orjson's, 192,040 items took 880 MB more."""
    issues = [
        QualityIssue(f"s{n:06d}", "unknown_learner", "actor", {"mbox": f"mailto:u{n}@x.example"})
        for n in range(N)
    ]
    tracemalloc.start()
    try:
        await quality.record_issues(issues, "2", 1)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / N < 1500
    [item] = await quality.list_items(OPEN, after="unknown_learner:s004998")
    assert item.issue.value == {"mbox": "mailto:u4999@x.example"}
