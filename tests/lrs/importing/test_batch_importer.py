"""The shared batch importer (`lrs.importing`): batches, item-by-item retry, counts, reports."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest

from lrs.errors import BadRequest, StatementConflict, StoreUnavailable
from lrs.importing import (
    BatchImporter,
    CsvRejects,
    ImportCounts,
    Item,
    NdjsonRejects,
    Progress,
    RejectLog,
)
from lrs.importing.batches import Body
from lrs.services.outcomes import WriteResult
from tests.lrs.migration.helpers import sid, statement


@dataclass(frozen=True)
class Line:
    """A test origin: a line of the file."""

    line: int

    @property
    def label(self) -> str:
        return f"line {self.line}"

    def fields(self) -> dict[str, Any]:
        return {"line": self.line}


class FakeWrites:
    """A write path double: refuses bad statements and conflicts, remembers what it stored."""

    def __init__(self, stored: dict[str, dict[str, Any]] | None = None) -> None:
        self.stored = dict(stored or {})
        self.calls: list[tuple[list[str], str]] = []

    async def __call__(self, body: Body, group: str) -> WriteResult:
        statements = [body] if isinstance(body, dict) else body
        ids = [s["id"].lower() for s in statements]
        self.calls.append((ids, group))
        for s in statements:
            if s.get("bad"):
                raise BadRequest(f"statement {s['id']} is bad")
            if self.stored.get(s["id"], s) != s:
                raise StatementConflict(s["id"])
        present = frozenset(i for i in ids if i in self.stored)
        self.stored.update((s["id"], s) for s in statements)
        return WriteResult(ids, present)


def importer(
    writes: FakeWrites, *, batch_size: int = 10, rejects: Any = None
) -> tuple[BatchImporter, io.StringIO]:
    stderr = io.StringIO()
    log = RejectLog(rejects, Progress(0, enabled=False, stream=stderr))
    return BatchImporter(writes, batch_size=batch_size, rejects=log), stderr


async def test_a_failed_batch_is_retried_item_by_item_rejecting_only_the_bad_ones() -> None:
    writes = FakeWrites(stored={sid(8): statement(8), sid(9): statement(9)})
    out = io.BytesIO()
    batches, _ = importer(writes, rejects=NdjsonRejects(out))
    items = [
        Item(Line(1), statement(1)),
        Item(Line(2), statement(2, bad=True)),
        Item(Line(3), statement(9)),  # already present
        Item(Line(4), statement(4)),
        Item(Line(5), statement(8, result={"completion": True})),  # conflict
    ]
    for item in items:
        await batches.add(item)
    await batches.flush()

    assert batches.counts == ImportCounts(new=2, present=1, rejected=2)
    assert len(writes.calls) == 1 + len(items)  # the batch, then each item alone
    assert sorted(writes.stored) == sorted([sid(1), sid(4), sid(8), sid(9)])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {"line": 2, "reason": f"statement {sid(2)} is bad"},
        {
            "line": 5,
            "reason": f"conflict: statement {sid(8)} already exists with different content",
        },
    ]


async def test_batches_of_batch_size_statements_in_runs_of_one_group() -> None:
    writes = FakeWrites()
    batches, _ = importer(writes, batch_size=3)
    for n, group in enumerate(["a", "a", "b", "a", "a"]):
        await batches.add(Item(Line(n), statement(n), group))
    await batches.flush()
    assert [(len(ids), group) for ids, group in writes.calls] == [(2, "a"), (1, "b"), (2, "a")]
    assert batches.counts == ImportCounts(new=5)


async def test_items_of_several_statements_count_as_new_when_any_is_stored() -> None:
    writes = FakeWrites(stored={sid(1): statement(1), sid(2): statement(2)})
    batches, _ = importer(writes)
    await batches.add(Item(Line(1), [statement(1), statement(2)]))  # already present
    await batches.add(Item(Line(2), [statement(2), statement(3)]))  # new: 3
    await batches.add(Item(Line(3), [statement(3), statement(4)]))  # new: 4 (3 is counted)
    await batches.flush()
    assert writes.calls == [([sid(1), sid(2), sid(3), sid(4)], "")]  # each id once
    assert batches.counts == ImportCounts(new=2, present=1)
    assert batches.statements == ImportCounts(new=2, present=4)


async def test_an_id_twice_with_other_content_starts_a_new_batch() -> None:
    writes = FakeWrites()
    batches, _ = importer(writes)
    await batches.add(Item(Line(1), statement(1)))
    await batches.add(Item(Line(2), statement(1, result={"success": True})))
    await batches.flush()
    assert len(writes.calls) == 3  # the first batch; the second fails and is retried
    assert batches.counts == ImportCounts(new=1, rejected=1)


async def test_a_store_failure_stops_the_import() -> None:
    async def unavailable(body: Body, group: str) -> WriteResult:
        raise StoreUnavailable("down")

    batches = BatchImporter(
        unavailable,
        batch_size=1,
        rejects=RejectLog(None, Progress(0, enabled=False)),
    )
    with pytest.raises(StoreUnavailable):
        await batches.add(Item(Line(1), statement(1)))
    assert batches.counts == ImportCounts()


async def test_rejects_csv_and_the_first_few_on_stderr() -> None:
    out = io.StringIO()
    batches, _ = importer(FakeWrites(), rejects=CsvRejects(out, ["line"]))
    batches.reject(Line(3), "no, because")
    assert out.getvalue().splitlines() == ["line,reason", '3,"no, because"']

    batches, stderr = importer(FakeWrites())
    for n in range(12):
        batches.reject(Line(n), "bad")
    shown = stderr.getvalue().splitlines()
    assert shown[:2] == ["rejected line 0: bad", "rejected line 1: bad"]
    assert len(shown) == 11
    assert shown[-1] == "more rejections not shown; use --rejects FILE to keep them all"
    assert batches.counts == ImportCounts(rejected=12)


def test_the_progress_line_is_rewritten_in_place() -> None:
    stream = io.StringIO()
    progress = Progress(2048, enabled=True, stream=stream)
    progress.update(1024, ImportCounts(new=3, present=1, rejected=2), force=True)
    progress.note("rejected line 7: bad")
    progress.update(2048, ImportCounts(new=4, present=1, rejected=2), force=True)
    progress.finish()
    first = " 50.0%  1.0 KiB / 2.0 KiB  4 imported (3 new, 1 already present, 2 rejected)"
    last = "100.0%  2.0 KiB / 2.0 KiB  5 imported (4 new, 1 already present, 2 rejected)"
    blank = "\r" + " " * len(first) + "\r"
    assert stream.getvalue() == f"\r{first}{blank}rejected line 7: bad\n\r{last}\n"
