"""The import history page: runs newest first, their rejected rows, a filter by command."""

from __future__ import annotations

from lrs.keys import marketplace_app_key
from lrs.store.import_runs import IDENTITIES, STATEMENTS, ImportRun
from projections.keys import projection_key
from tests.console.conftest import Console


def run(run_id: str, started_us: int, kind: str, **changes: object) -> ImportRun:
    values: dict[str, object] = {
        "id": run_id,
        "kind": kind,
        "file_name": f"{run_id}.csv",
        "actor": "cli:ops",
        "started_us": started_us,
        "finished_us": started_us + 2_000_000,
        "accepted": 7,
        "present": 0,
        "rejected": 0,
        **changes,
    }
    return ImportRun(**values)  # type: ignore[arg-type]


async def test_the_history_lists_runs_and_their_rejected_rows(console: Console) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    runs = console.http.app[marketplace_app_key][projection_key].stores.import_runs
    status, page = await console.page("/console/imports")
    assert status == 200 and "No import recorded" in page
    bad = (("line 3", "employee_id: missing"), ("line 9", "<script>x</script>"))
    await runs.add_run(run("hris-1", 2_000_000_000_000_000, IDENTITIES, rejected=5, rejections=bad))
    await runs.add_run(run("export-1", 1_000_000_000_000_000, STATEMENTS))
    status, page = await console.page("/console/imports")
    assert status == 200
    assert page.index("hris-1.csv") < page.index("export-1.csv")  # newest first
    assert "lrs identities import" in page and "employee_id: missing" in page
    assert "the first 2 of 5" in page
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    status, page = await console.page("/console/imports?kind=statements")
    assert status == 200 and "export-1.csv" in page and "hris-1.csv" not in page
    status, page = await console.page("/console/imports?kind=nonsense")
    assert status == 400 and "kind: one of" in page


async def test_the_history_needs_a_session(console: Console) -> None:
    assert (await console.page("/console/imports"))[0] == 303
