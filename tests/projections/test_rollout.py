"""Deploying a new mapping version (`projections.rollout`): every record of another version is
re-projected, events only for those whose content changes, resumable, 0 drift after."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from lrs.store.base import Backend
from projections.facts import Projector
from projections.identity import EMAIL
from projections.reconcile import Reconciler
from projections.reconcile_runs import ROLLOUT, ReconcileRuns
from projections.rollout import MappingRollout, RolloutProgress
from projections.store import ProjectionStores
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    Writer,
    claim,
    hris_actor,
    projection_settings,
    statement,
)
from tests.projections.test_reconcile_runs import ADA, Clock, projected_for_e5


def without_scores(tmp_path: Path) -> Path:
    """The shipped mapping as version 3 without its score row: scored records change."""
    lines = projection_settings().mapping_path.read_text().splitlines(keepends=True)
    text = "".join(line for line in lines if ",score,score," not in line)
    path = tmp_path / "v3.csv"
    path.write_text(text.replace("# version: 2", "# version: 3"))
    return path


async def seeded(writer: Writer, worker: ProjectionWorker, stores: ProjectionStores) -> set[str]:
    """Five records under version 2, two of them scored; the ids of the events so far."""
    await writer.store(
        statement("passed", actor=hris_actor("E1"), result={"score": {"scaled": 0.7}}),
        statement("passed", actor=hris_actor("E2"), result={"score": {"scaled": 0.5}}),
        *(statement("completed", actor=hris_actor(f"E{n}")) for n in (3, 4, 5)),
    )
    await worker.drain()
    await stores.aggregates.publish_events()
    return {e.id for e in await stores.deliveries.unfanned_events(1000)}


def rollout(
    backend: Backend, stores: ProjectionStores, mapping: Path, page: int = 500
) -> tuple[MappingRollout, ProjectionWorker, Reconciler]:
    new = Projector.from_settings(projection_settings(mapping_path=mapping))
    worker = ProjectionWorker(backend.statements, stores, new)
    reconciler = Reconciler(backend.statements, stores, new, worker)
    runs = ReconcileRuns(reconciler, stores.reconcile_runs, Clock(1_700_000_000_000_000))
    return MappingRollout(stores, worker, runs, "3", page=page), worker, reconciler


async def new_events(stores: ProjectionStores, before: set[str]) -> list[Any]:
    await stores.aggregates.publish_events()
    return [e for e in await stores.deliveries.unfanned_events(1000) if e.id not in before]


async def test_deploy_reprojects_with_events_only_for_changed_records(
    backend: Backend,
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path: Path,
) -> None:
    before = await seeded(writer, worker, stores)
    unchanged = await stores.aggregates.get_record("E3", COURSE)
    deploy, _worker, reconciler = rollout(backend, stores, without_scores(tmp_path), page=2)
    pending = await reconciler.reconcile()
    assert (pending.drift, len(pending.rollout)) == (0, 5)  # a planned rollout, not drift
    assert await deploy.pending() == 5
    result = await deploy.deploy()
    assert (result.pending, result.reprojected, result.changed, result.quiet) == (5, 5, 2, 3)
    assert result.removed == 0
    events = await new_events(stores, before)
    assert sorted((e.member_id, e.type) for e in events) == [
        ("E1", "learning.updated"),
        ("E2", "learning.updated"),
    ]
    quiet = await stores.aggregates.get_record("E3", COURSE)
    assert unchanged is not None and unchanged.record is not None
    assert quiet is not None and quiet.version == unchanged.version
    assert quiet.record == {**unchanged.record, "mapping_version": "3"}
    assert result.report is not None and result.report.drift == 0
    assert result.run is not None and result.run.trigger == ROLLOUT
    after = await reconciler.reconcile()
    assert (after.drift, after.rollout) == (0, [])
    assert await deploy.pending() == 0


async def test_deploy_cut_short_is_resumed_by_running_it_again(
    backend: Backend,
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = await seeded(writer, worker, stores)
    deploy, new_worker, reconciler = rollout(backend, stores, without_scores(tmp_path), page=2)
    real = new_worker.reapply
    calls = []

    async def failing(ids: Any, **kwargs: Any) -> None:
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("cut short")
        await real(ids, **kwargs)

    monkeypatch.setattr(new_worker, "reapply", failing)
    with pytest.raises(RuntimeError, match="cut short"):
        await deploy.deploy()
    assert await deploy.pending() == 3  # the first page (2 records) is done
    monkeypatch.setattr(new_worker, "reapply", real)
    result = await deploy.deploy()
    assert (result.pending, result.reprojected) == (3, 3)
    assert (await reconciler.reconcile()).drift == 0 and await deploy.pending() == 0
    events = await new_events(stores, before)
    assert sorted(e.member_id for e in events) == ["E1", "E2"]  # once each


async def test_progress_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = RolloutProgress(stream)
        progress.start(4)
        progress.update(2)
        progress.update(4)
        progress.finish()
    assert "\rre-projected 2/4 records" in terminal.getvalue()
    assert "re-projected 4/4 records" in terminal.getvalue() and "ETA 0s" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n") and pipe.getvalue() == ""


async def test_a_record_whose_learning_would_move_to_another_member_is_held_not_moved(
    backend: Backend,
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path: Path,
) -> None:
    await seeded(writer, worker, stores)
    await projected_for_e5(stores, writer, worker)
    # the address passes to E6 in the identity map, and nothing re-projects
    await stores.identities.delete_claims([(EMAIL + ADA, "E5")])
    await claim(stores, "E6", ADA)
    deploy, _worker, _reconciler = rollout(backend, stores, without_scores(tmp_path))
    result = await deploy.deploy()
    assert (result.pending, result.reprojected, result.held) == (5, 4, 1)  # E5: HRIS + Ada
    e5 = await stores.aggregates.get_record("E5", COURSE)
    assert e5 is not None and e5.record is not None and e5.record["mapping_version"] == "2"
    assert await stores.aggregates.get_record("E6", COURSE) is None  # not moved
    assert result.report is not None and len(result.report.flagged) == 1
    assert await deploy.pending() == 1
