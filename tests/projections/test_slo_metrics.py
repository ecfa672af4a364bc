"""SLO metrics on /metrics: the credential it needs, request latency per route template and
status class, API errors, webhook outcomes and latency per subscription, the last reconcile's
drift, provisioning, the quality-queue hook; and the example alert rules name real series."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from lrs.app import create_app
from lrs.config import Config
from lrs.settings import Settings
from lrs.store.base import Backend
from projections.metrics import render_metrics
from projections.settings import ProjectionSettings
from tests.projections.api_support import Market
from tests.projections.conftest import (
    COURSE,
    HRIS,
    hris_actor,
    hris_knows,
    mbox_actor,
    statement,
)
from tests.projections.test_reconcile import damage

RULES = Path(__file__).resolve().parents[2] / "docs" / "prometheus-rules.yml"
TOKEN = "scrape-token-0123456789"
MakeMarket = Callable[..., Awaitable[Market]]


@pytest.fixture
def make_market(aiohttp_client: Callable[..., Any], backend: Backend, tmp_path: Path) -> MakeMarket:
    """The whole app on the test backend, with projection settings of the test's choosing."""

    async def make(**overrides: Any) -> Market:
        settings = ProjectionSettings(
            hris_home_page=HRIS,
            webhook_allow_internal=True,  # receivers on 127.0.0.1
        ).with_overrides(**overrides)
        app = create_app(
            Config(core=Settings(data_dir=tmp_path), projection=settings), backend=backend
        )
        market = Market(http=await aiohttp_client(app), backend=backend)
        await hris_knows(market.projection.stores)
        return market

    return make


async def scrape(market: Market, auth: str = "Bearer " + TOKEN) -> dict[tuple[str, tuple], float]:
    response = await market.http.get("/metrics", headers={"Authorization": auth})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(await response.text())
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_metrics_need_the_scrape_token_or_an_admin_token(make_market: MakeMarket) -> None:
    market = await make_market(metrics_token=TOKEN)
    assert (await market.http.get("/metrics")).status == 401
    wrong = await market.http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    reader = await market.token("read:activity:aggregate")
    assert (await market.http.get("/metrics", headers={"Authorization": reader})).status == 403
    await scrape(market)
    await scrape(market, await market.token("admin"))


async def test_metrics_can_be_public_by_setting(make_market: MakeMarket) -> None:
    market = await make_market(metrics_public=True)
    assert (await market.http.get("/metrics")).status == 200


async def test_request_latency_per_route_template_and_errors(make_market: MakeMarket) -> None:
    market = await make_market(metrics_token=TOKEN)
    reader = await market.token("read:activity:aggregate")
    for member in ("E1", "E2"):
        path = f"/marketplace/v1/members/{member}/learning"
        assert (await market.http.get(path, headers={"Authorization": reader})).status == 200
    assert (await market.http.get("/marketplace/v1/aggregates")).status == 401
    assert (await market.http.get("/no/such/path/1")).status == 404
    samples = await scrape(market)
    route = "/marketplace/v1/members/{member_id}/learning"
    count = "lrs_http_request_duration_seconds_count"
    assert value(samples, count, method="GET", route=route, status_class="2xx") == 2
    assert not [k for k in samples if "E1" in str(k)]  # the template, never the raw path
    assert value(samples, count, method="GET", route="unmatched", status_class="4xx") == 1
    errors = "lrs_http_request_errors_total"
    assert value(samples, errors, method="GET", route="/marketplace/v1/aggregates", status="401")
    assert value(samples, errors, method="GET", route=route, status="200") is None


async def receiver(aiohttp_server: Callable[..., Any], status: int) -> str:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hooks", answer)
    server = await aiohttp_server(app, host="127.0.0.1")
    return str(server.make_url("/hooks"))


async def test_webhook_outcomes_and_latency_per_subscription(
    make_market: MakeMarket, aiohttp_server: Callable[..., Any]
) -> None:
    market = await make_market(metrics_token=TOKEN, webhook_max_attempts=1)
    hooks = market.projection.webhooks
    good, _ = await hooks.subscribe(await receiver(aiohttp_server, 204))
    bad, _ = await hooks.subscribe(await receiver(aiohttp_server, 500))
    await market.post_statements(
        [statement("completed", actor=hris_actor(f"E{n}")) for n in (1, 2)]
    )
    await market.projection.worker.drain()
    async with aiohttp.ClientSession() as session:
        while await hooks.run_once(session):
            pass
    samples = await scrape(market)
    attempts = "lrs_webhook_delivery_attempts_total"
    assert value(samples, attempts, subscription=good.id, outcome="success") == 2
    assert value(samples, attempts, subscription=good.id, outcome="failure") == 0
    assert value(samples, attempts, subscription=bad.id, outcome="failure") == 2
    dead = "lrs_webhook_deliveries_dead_lettered_total"
    assert (
        value(samples, dead, subscription=good.id),
        value(samples, dead, subscription=bad.id),
    ) == (0, 2)
    latency = "lrs_webhook_delivery_latency_seconds"
    assert value(samples, latency + "_count", subscription=good.id) == 2
    assert value(samples, latency + "_bucket", subscription=good.id, le="+Inf") == 2
    assert value(samples, latency + "_count", subscription=bad.id) == 0


async def test_the_last_reconcile_drift_and_provisioning(make_market: MakeMarket) -> None:
    market = await make_market(metrics_token=TOKEN, unknown_learners="provision")
    samples = await scrape(market)
    assert value(samples, "lrs_reconcile_last_drift_percent") is None  # no run yet
    assert value(samples, "lrs_members_provisioned_total") == 0
    await market.post_statements(
        [
            statement("completed", actor=hris_actor("E1")),
            statement("completed", actor=mbox_actor("new.learner@example.com")),
        ]
    )
    await market.projection.worker.drain()
    await damage(market.projection.stores, "E1", COURSE, {"made": "up"})
    await market.projection.reconcile_runs.run()
    samples = await scrape(market)
    assert value(samples, "lrs_reconcile_last_drift_percent") == 50.0
    assert value(samples, "lrs_reconcile_last_drift_records") == 1
    assert value(samples, "lrs_reconcile_last_flagged") == 0
    assert value(samples, "lrs_members_provisioned_total") == 1


def test_the_quality_queue_gauge_reads_the_status_field() -> None:
    assert "\nlrs_quality_items_open " not in render_metrics({})
    assert "\nlrs_quality_items_open 7.0\n" in render_metrics({"quality_items_open": 7})


def test_the_alert_rules_are_well_formed() -> None:
    document = yaml.safe_load(RULES.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {g["name"] for g in document["groups"]} and len(rules) >= 3
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"] and isinstance(rule["expr"], str) and rule["expr"].strip()
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    exprs = " ".join(r["expr"] for r in rules)
    for needed in (
        "lrs_webhook_delivery_attempts_total",
        "lrs_reconcile_last_drift_percent",
        "lrs_webhook_delivery_latency_seconds_bucket",
    ):
        assert needed in exprs


async def test_every_series_the_rules_use_is_exposed(
    make_market: MakeMarket, aiohttp_server: Callable[..., Any]
) -> None:
    market = await make_market(metrics_token=TOKEN)
    await market.projection.webhooks.subscribe(await receiver(aiohttp_server, 204))
    await market.projection.reconcile_runs.run()
    exposed = {name for name, _labels in await scrape(market)}
    used = set()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            used |= {w for w in _words(rule["expr"]) if w.startswith("lrs_")}
    assert used and used <= exposed, used - exposed


def _words(expr: str) -> set[str]:
    word, found = "", set()
    for char in expr + " ":
        if char.isalnum() or char == "_":
            word += char
        else:
            found.add(word)
            word = ""
    return found
