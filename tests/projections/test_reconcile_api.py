"""GET /marketplace/v1/reconcile/runs: the drift history, admin only."""

from __future__ import annotations

import json

import jsonschema

from projections.settings import SPEC_DIR
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, hris_actor, statement
from tests.projections.test_reconcile import damage

P = "/marketplace/v1"
OPENAPI = json.loads((SPEC_DIR / "marketplace-openapi.json").read_text())


def check(body: object, status: str) -> None:
    """The body against the document's response schema, and the document's example too."""
    operation = OPENAPI["paths"][f"{P}/reconcile/runs"]["get"]
    content = operation["responses"][status]["content"]["application/json"]
    schema = {**content["schema"], "components": OPENAPI["components"]}
    jsonschema.validate(body, schema)
    for example in content["examples"].values():
        jsonschema.validate(example["value"], schema)


async def test_runs_and_the_drift_slo_over_the_window(market: Market) -> None:
    admin = await market.token("admin")
    status, body, _ = await market.get(f"{P}/reconcile/runs", admin)
    assert status == 200
    assert body["data"]["runs"] == [] and body["data"]["slo_held"] is None
    await market.post_statements([statement("completed", actor=hris_actor("E1"))])
    await market.projection.worker.drain()
    await market.projection.reconcile_runs.run()
    await damage(market.projection.stores, "E1", COURSE, {"made": "up"})
    await market.projection.reconcile_runs.run(fix=True)
    status, body, _ = await market.get(f"{P}/reconcile/runs", admin, days="7")
    data = body["data"]
    assert [(r["fix"], r["drift"], r["drift_percent"], r["fixed"]) for r in data["runs"]] == [
        (True, 1, 100.0, 1),
        (False, 0, 0.0, 0),
    ]
    assert data["slo_held"] is False and data["max_drift_percent"] == 100.0
    assert data["window_days"] == 7 and data["latest_flagged"] == []
    assert body["meta"]["count"] == 2
    check(body, "200")


async def test_runs_need_the_admin_scope_and_a_valid_window(market: Market) -> None:
    reader = await market.token("read:activity:aggregate")
    status, body, _ = await market.get(f"{P}/reconcile/runs", reader)
    assert status == 403 and body["error"]["code"] == "insufficient_scope"
    assert (await market.http.get(f"{P}/reconcile/runs")).status == 401
    admin = await market.token("admin")
    for bad in ("0", "367", "x", "-1"):
        status, body, _ = await market.get(f"{P}/reconcile/runs", admin, days=bad)
        assert status == 400 and body["error"]["details"]["parameter"] == "days"
        check(body, "400")
