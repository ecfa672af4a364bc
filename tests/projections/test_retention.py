"""Retention periods applied to the projection, on every backend: dry run, apply, reconcile,
the events of what went, and the daily run driven with an injected clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.settings import Settings
from lrs.store.base import Backend
from projections.facts import Projector
from projections.retention import DAY_US, DailyRetention
from projections.service import Projection, open_projection
from projections.settings import SPEC_DIR
from projections.store.base import Member
from tests.projections.conftest import (
    COURSE,
    Writer,
    hris_actor,
    mbox_actor,
    projection_settings,
    statement,
)

OLD_COURSE = f"{COURSE}/2017"
SCORE_ROW = (
    'normalize_score_0_100,no,"0-100; the original raw/min/max/scaled are kept beside it",'
    "one,until_voided"
)
ACTIVITY_ROW = (
    'if_activity,yes,"only statements about an Activity contribute (not StatementRefs, '
    'SubStatements or agents)",one,until_voided'
)


def us(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000


def retention_mapping(tmp_path: Path) -> Path:
    """The shipped mapping with activities kept 5 years and scores 1 year."""
    text = (SPEC_DIR / "marketplace-mapping.csv").read_text()
    assert SCORE_ROW in text and ACTIVITY_ROW in text
    text = text.replace(SCORE_ROW, "normalize_score_0_100,no,,one,P1Y; legitimate_interests")
    text = text.replace(ACTIVITY_ROW, "if_activity,yes,,one,P5Y; contract")
    path = tmp_path / "mapping.csv"
    path.write_text(text)
    return path


class Clock:
    """A clock the test moves."""

    def __init__(self, now_us: int) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us


async def opened(backend: Backend, tmp_path: Path, clock: Clock) -> Projection:
    settings = projection_settings(mapping_path=retention_mapping(tmp_path))
    projector = replace(Projector.from_settings(settings), clock=clock)
    return await open_projection(
        backend, Settings(data_dir=tmp_path), settings, projector=projector
    )


async def seeded(backend: Backend, tmp_path: Path, writer: Writer, clock: Clock) -> Projection:
    """Statements of 2017, 2023 and 2024, projected in 2019 (nothing past a period then)."""
    projection = await opened(backend, tmp_path, clock)
    await projection.stores.identities.put_members([Member("E1", ("e1@example.com",))])
    scored: dict[str, Any] = {"score": {"raw": 90, "min": 0, "max": 100}}
    await writer.store(
        statement("completed", activity=OLD_COURSE, timestamp="2017-05-01T00:00:00Z"),
        statement("passed", timestamp="2023-01-01T00:00:00Z", result=scored),
        statement(
            "attempted",
            timestamp="2024-05-01T00:00:00Z",
            result={"score": {"raw": 40, "min": 0, "max": 100}},
        ),
        statement(
            "completed",
            actor=mbox_actor("stranger@example.com"),
            timestamp="2017-01-01T00:00:00Z",
        ),
    )
    await projection.worker.drain()
    return projection


@pytest.fixture
def clock() -> Clock:
    return Clock(us("2019-01-01T00:00:00"))


async def test_dry_run_then_apply_then_no_drift(
    backend: Backend, tmp_path: Path, writer: Writer, clock: Clock
) -> None:
    projection = await seeded(backend, tmp_path, writer, clock)
    assert (await projection.retention.dry_run()).statement_ids() == []
    clock.now_us = us("2024-06-01T00:00:00")
    before = await projection.stores.aggregates.get_record("E1", COURSE)
    assert before is not None and before.record is not None
    assert before.record["score"]["value"] == 90.0

    report = await projection.retention.dry_run()
    by_target = {f["target_field"]: f for f in report.to_json(verbose=True)["rules"]}
    assert by_target["activity_id"]["statements"] == 2  # the 2017 completion and the stranger
    assert by_target["activity_id"]["records"] == 1
    assert by_target["activity_id"]["unmatched_statements"] == 1
    assert by_target["activity_id"]["record_ids"] == [["E1", OLD_COURSE]]
    assert by_target["activity_id"]["legal_basis"] == "contract"
    assert by_target["score"]["statements"] == 1 and by_target["score"]["records"] == 1
    assert by_target["score"]["past"] == "2023-06-01T00:00:00.000000Z"
    assert len(report.statement_ids()) == 3
    assert (await projection.stores.aggregates.get_record("E1", OLD_COURSE)).record  # unchanged
    assert (await projection.reconciler.reconcile()).drift == 2  # what apply would change

    events_before = {e.id for e in await projection.stores.deliveries.unfanned_events(1000)}
    applied = await projection.retention.apply()
    assert applied.applied and (applied.records_removed, applied.records_changed) == (1, 1)
    old = await projection.stores.aggregates.get_record("E1", OLD_COURSE)
    assert old is not None and old.record is None
    kept = await projection.stores.aggregates.get_record("E1", COURSE)
    assert kept is not None and kept.record is not None
    assert kept.record["score"]["value"] == 40.0  # the 2023 score is gone, the pass stays
    assert kept.record["success"] == "passed"
    assert await projection.stores.facts.count_unmatched() == 0

    events = [
        orjson.loads(e.body)
        for e in await projection.stores.deliveries.unfanned_events(1000)
        if e.id not in events_before
    ]
    assert sorted((e["type"], e["activity_id"]) for e in events) == [
        ("learning.removed", OLD_COURSE),
        ("learning.updated", COURSE),
    ]
    report = await projection.reconciler.reconcile()
    assert (report.drift, report.unmatched) == (0, 0)
    assert (await projection.retention.dry_run()).statement_ids() == []
    assert (await projection.retention.apply()).records_removed == 0


async def test_a_statement_already_past_its_period_never_counts(
    backend: Backend, tmp_path: Path, writer: Writer
) -> None:
    projection = await opened(backend, tmp_path, Clock(us("2024-06-01T00:00:00")))
    await writer.store(
        statement("completed", actor=hris_actor("E9"), timestamp="2015-01-01T00:00:00Z")
    )
    await projection.worker.drain()
    assert await projection.stores.aggregates.member_records("E9") == []
    assert (await projection.reconciler.reconcile()).drift == 0


async def test_the_daily_run_applies_once_a_day(
    backend: Backend, tmp_path: Path, writer: Writer, clock: Clock
) -> None:
    projection = await seeded(backend, tmp_path, writer, clock)
    daily = DailyRetention(projection.retention, clock)
    first = await daily.run_due()  # at start
    assert first is not None and first.statement_ids() == []
    clock.now_us += 3600 * 1_000_000
    assert await daily.run_due() is None  # an hour later: not due
    clock.now_us = us("2024-06-01T00:00:00")
    ran = await daily.run_due()
    assert ran is not None and len(ran.statement_ids()) == 3
    clock.now_us += DAY_US - 1
    assert await daily.run_due() is None
    clock.now_us += 1
    again = await daily.run_due()
    assert again is not None and again.statement_ids() == []


async def test_over_http_what_is_past_its_period_is_never_read(
    aiohttp_client: Any, backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lrs.app import create_app
    from lrs.config import Config
    from projections.settings import ProjectionSettings
    from tests.projections.api_support import Market
    from tests.projections.conftest import HRIS, hris_knows

    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(retention_mapping(tmp_path)))
    config = Config(core=Settings(data_dir=tmp_path), projection=ProjectionSettings.from_env())
    market = Market(await aiohttp_client(create_app(config, backend=backend)), backend)
    await hris_knows(market.projection.stores)
    today = datetime.now(UTC)
    recent = today.strftime("%Y-%m-%dT00:00:00Z")
    two_years_ago = f"{today.year - 2}-01-01T00:00:00Z"  # within P5Y, past P1Y
    await market.post_statements(
        [
            statement("completed", activity=OLD_COURSE, timestamp="2015-01-01T00:00:00Z"),
            statement(
                "passed",
                timestamp=two_years_ago,
                result={"score": {"raw": 9, "min": 0, "max": 10}},
            ),
            statement("attempted", timestamp=recent),
        ]
    )
    await market.projection.worker.drain()
    auth = await market.token("read:activity:aggregate")
    _, body, _ = await market.get("/marketplace/v1/aggregates", auth, include_removed="true")
    [item] = body["data"]
    assert item["activity_id"] == COURSE and item["score"] is None  # that score is past P1Y
    assert item["success"] == "passed" and item["last_activity_at"].startswith(recent[:10])
    assert (await market.projection.retention.dry_run()).statement_ids() == []
    assert (await market.projection.reconciler.reconcile()).drift == 0
