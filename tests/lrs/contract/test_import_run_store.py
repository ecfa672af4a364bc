"""ImportRunStore contract (the import history), on every backend."""

from __future__ import annotations

from lrs.importing.history import open_import_runs
from lrs.store.base import Backend
from lrs.store.import_runs import IDENTITIES, SCORM, STATEMENTS, ImportRun, ImportRunStore


def run(run_id: str, started_us: int, kind: str = STATEMENTS, **changes: object) -> ImportRun:
    values: dict[str, object] = {
        "id": run_id,
        "kind": kind,
        "file_name": "export.ndjson",
        "actor": "cli:ops",
        "started_us": started_us,
        "finished_us": started_us + 5,
        "accepted": 3,
        "present": 1,
        "rejected": 2,
        "rejections": (("line 2", "verb: missing"), ("line 9", "not JSON")),
        **changes,
    }
    return ImportRun(**values)  # type: ignore[arg-type]


async def test_runs_are_read_back_newest_first_whole(backend: Backend) -> None:
    runs = await open_import_runs(backend)
    assert isinstance(runs, ImportRunStore)
    assert await runs.recent_runs() == []
    assert await runs.get_run("a") is None
    first = run("a", 100)
    second = run("b", 300, SCORM, outcome="failed", details={"statements_new": 4})
    third = run("c", 200, IDENTITIES, rejections=(), rejected=0)
    for each in (first, second, third):
        await runs.add_run(each)
    assert await runs.recent_runs() == [second, third, first]
    assert await runs.recent_runs(limit=2) == [second, third]
    assert await runs.recent_runs(kind=SCORM) == [second]
    assert await runs.get_run("a") == first
    assert (await runs.get_run("b")) == second


async def test_opening_again_keeps_the_history(backend: Backend) -> None:
    await (await open_import_runs(backend)).add_run(run("a", 1))
    assert [r.id for r in await (await open_import_runs(backend)).recent_runs()] == ["a"]
