"""The data-quality queue through the public surfaces: the marketplace API, /metrics, the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lrs.cli import main
from lrs.store.sqlite import SQLiteBackend
from projections.store import open_stores
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, HRIS, at, hris_actor, statement
from tests.projections.test_api import OPENAPI, schema
from tests.projections.test_cli import store
from tests.projections.test_quality import edx_learner_day

QUALITY = "/marketplace/v1/quality"
OPENAPI_QUALITY = OPENAPI["paths"][QUALITY]["get"]
BAD_SCORE = {"score": {"raw": -2, "max": 10}}


def bad_statements() -> list[dict[str, Any]]:
    """Two unusable scores, one out-of-scope problem with a score (and in-scope others)."""
    return [
        statement("scored", result=BAD_SCORE),
        statement("scored", actor=hris_actor("E2"), result=BAD_SCORE, timestamp=at()),
        *edx_learner_day(),
    ]


async def test_the_queue_is_grouped_per_reason_for_admins(market: Market) -> None:
    ids = await market.post_statements(bad_statements())
    await market.projection.worker.drain()
    admin = await market.token("admin")
    status, body, _ = await market.get(QUALITY, admin)
    assert status == 200, body
    assert body["meta"] == {"state": "open", "total": 3}
    answer = OPENAPI_QUALITY["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**answer, "components": OPENAPI["components"]})
    for group in body["data"]:
        jsonschema.validate(group, schema("QualityGroup"))
    groups = {g["reason"]: g for g in body["data"]}
    assert {r: g["count"] for r, g in groups.items()} == {
        "out_of_scope_with_result": 1,
        "score_without_scale": 2,
    }
    example = groups["score_without_scale"]["examples"][0]
    assert example["statement_id"] in ids[:2] and example["field"] == "score"
    assert example["value"] == BAD_SCORE["score"] and example["member_id"] in ("E1", "E2")
    assert example["activity_id"] == COURSE and example["first_seen_at"].endswith("Z")
    # one reason's items, a page at a time
    status, page, _ = await market.get(QUALITY, admin, reason="score_without_scale", limit="1")
    assert status == 200 and len(page["data"]) == 1
    jsonschema.validate(page["data"][0], schema("QualityItem"))
    after = page["meta"]["next_after"]
    status, rest, _ = await market.get(
        QUALITY, admin, reason="score_without_scale", limit="1", after=after
    )
    assert [i["id"] for i in page["data"] + rest["data"]] == sorted(
        f"score_without_scale:{i}" for i in ids[:2]
    )


async def test_the_queue_is_for_admins_only_and_checks_its_parameters(market: Market) -> None:
    reader = await market.token("read:activity:aggregate")
    status, body, _ = await market.get(QUALITY, reader)
    assert status == 403, body
    status, _body, _ = await market.get(QUALITY, "Bearer nope")
    assert status == 401
    admin = await market.token("admin")
    answer = OPENAPI_QUALITY["responses"]["200"]["content"]["application/json"]["schema"]
    for params in ({}, {"reason": "none_such"}):  # empty: both views are []
        status, body, _ = await market.get(QUALITY, admin, **params)
        assert status == 200 and body["data"] == []
        jsonschema.validate(body, {**answer, "components": OPENAPI["components"]})
    for params in ({"state": "closed"}, {"examples": "0"}, {"reason": "x", "limit": "abc"}):
        status, body, _ = await market.get(QUALITY, admin, **params)
        assert status == 400 and body["error"]["details"]["field"] in params, body


async def test_metrics_and_status_count_open_items(market: Market) -> None:
    await market.post_statements(bad_statements())
    await market.projection.worker.drain()
    admin = {"Authorization": await market.token("admin")}
    metrics = await (await market.http.get("/metrics", headers=admin)).text()
    assert "# TYPE lrs_quality_items_open gauge" in metrics
    assert "lrs_quality_items_open 3" in metrics
    status = await market.projection.status()
    assert status["quality_items_open_by_reason"] == {
        "out_of_scope_with_result": 1,
        "score_without_scale": 2,
    }


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.projections.test_cli import _hris_knows

    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    asyncio.run(_hris_knows(tmp_path))
    return tmp_path


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_show_dismiss(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store(data_dir, *bad_statements())
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    capsys.readouterr()
    groups = cli_json(capsys, "quality", "list")
    assert [(g["reason"], g["count"]) for g in groups] == [
        ("out_of_scope_with_result", 1),
        ("score_without_scale", 2),
    ]
    assert main(["quality", "list"]) == 0
    text = capsys.readouterr().out
    assert "score_without_scale: 2" in text and "score = " in text
    items = cli_json(capsys, "quality", "list", "--reason", "score_without_scale")
    first = items[0]["id"]
    shown = cli_json(capsys, "quality", "show", first)
    assert shown["value"] == BAD_SCORE["score"] and shown["state"] == "open"
    assert main(["quality", "dismiss", first]) == 0
    assert "dismissed 1 items" in capsys.readouterr().out
    assert cli_json(capsys, "quality", "show", first)["state"] == "dismissed"
    assert [g["count"] for g in cli_json(capsys, "quality", "list")] == [1, 1]


def test_unknown_items_are_errors(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "show", "score_without_scale:nope"]) == 1
    assert "no quality item score_without_scale:nope" in capsys.readouterr().err
    assert main(["quality", "dismiss", "nope"]) == 1
    assert main(["quality", "retry", "nope"]) == 1
    assert "no quality item nope" in capsys.readouterr().err


def test_retry_after_a_mapping_change_resolves_what_maps_now(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store(data_dir, *bad_statements())
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    shipped = Path(__file__).resolve().parents[2] / "spec" / "marketplace-mapping.csv"
    wider = data_dir / "mapping.csv"
    wider.write_text(
        shipped.read_text().replace("# version: 2", "# version: 3")
        + "scope,object.definition.type,include,pattern,*cmi.interaction,,,,\n"
    )
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(wider))
    capsys.readouterr()
    assert main(["quality", "retry", "--reason", "out_of_scope_with_result"]) == 0
    assert "projected 1 statements again: 1 items resolved, 2 open" in capsys.readouterr().out
    assert [g["reason"] for g in cli_json(capsys, "quality", "list")] == ["score_without_scale"]
    resolved = cli_json(capsys, "quality", "list", "--state", "resolved")
    assert [g["count"] for g in resolved] == [1]
    records = asyncio.run(_activities(data_dir))
    assert any("problem" in a for a in records)  # the problem is a record now


async def _activities(data_dir: Path) -> list[str]:
    backend = SQLiteBackend(data_dir)
    try:
        stores = await open_stores(backend)
        return [r.activity_id for r in await stores.aggregates.member_records("E1")]
    finally:
        await backend.close()


def test_the_openapi_examples_of_the_queue_match_its_schemas() -> None:
    content = OPENAPI["paths"][QUALITY]["get"]["responses"]["200"]["content"]
    examples = content["application/json"]["examples"]
    for group in examples["grouped"]["value"]["data"]:
        jsonschema.validate(group, schema("QualityGroup"))
    for item in examples["items"]["value"]["data"]:
        jsonschema.validate(item, schema("QualityItem"))
    responses = OPENAPI["paths"][QUALITY]["get"]["responses"]
    for status in ("400", "401", "403", "429"):
        described = responses[status]["content"]["application/json"]
        assert described["examples"], status
        for example in described["examples"].values():
            jsonschema.validate(example["value"], schema("ErrorEnvelope"))
