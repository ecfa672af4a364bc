"""End to end, on every backend: statements in through the xAPI API (HTTP Basic) → the worker →
the marketplace API (a bearer token) → a webhook received by a server on 127.0.0.1 whose
signature verifies. And `lrs serve --with-worker`: the same without driving the worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from lrs.app import create_app
from lrs.config import Config
from lrs.errors import ConfigError
from lrs.settings import Settings
from lrs.store.base import Backend
from projections.settings import ProjectionSettings
from projections.webhook_verify import SIGNATURE_HEADER, verify_webhook
from tests.projections.api_support import Market
from tests.projections.conftest import (
    COURSE,
    HRIS,
    hris_actor,
    hris_knows,
    mbox_actor,
    statement,
)

P = "/marketplace/v1"


async def webhook_receiver(
    aiohttp_server: Callable[..., Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, str], str]:
    """(events by id, {"secret": ...} to fill in, url)."""
    events: dict[str, dict[str, Any]] = {}
    secret: dict[str, str] = {}

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        event = verify_webhook(secret["value"], body, request.headers.get(SIGNATURE_HEADER))
        events[event["id"]] = event
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/marketplace-hooks", handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    return events, secret, str(server.make_url("/marketplace-hooks"))


async def test_statement_to_api_to_signed_webhook(
    market: Market, aiohttp_server: Callable[..., Any]
) -> None:
    events, secret, url = await webhook_receiver(aiohttp_server)
    admin = await market.token("admin")
    created = await market.http.post(
        f"{P}/webhooks",
        json={"url": url, "event_types": ["learning.completed"]},
        headers={"Authorization": admin},
    )
    secret["value"] = (await created.json())["data"]["secret"]

    # an LMS sends statements over xAPI with an HTTP Basic credential
    await market.post_statements(
        [
            statement("attempted", actor=hris_actor("E100")),
            statement(
                "passed",
                actor=mbox_actor("Ada@Example.com"),
                result={"score": {"raw": 18, "min": 0, "max": 20}, "success": True},
            ),
        ]
    )
    await market.post_statements([statement("completed", actor=hris_actor("E100"))])
    assert await market.projection.worker.drain() == 3

    # the marketplace reads with a token
    reader = await market.token("read:activity:aggregate")
    status, body, _ = await market.get(f"{P}/members/E100/learning", reader)
    assert status == 200
    [record] = body["data"]
    assert record["activity_id"] == COURSE and record["learning_completed"] is True
    assert (
        record["enrollment_state"] == "completed" and len(record["provenance"]["statements"]) == 2
    )

    # and hears about it, signed
    async with aiohttp.ClientSession() as session:
        await market.projection.webhooks.run_once(session)
    [event] = events.values()
    assert (event["member_id"], event["type"]) == ("E100", "learning.created")
    assert "learning.completed" in event["tags"]
    assert next(iter(events.values()))["data"] == {
        k: v for k, v in record.items() if k not in ("version", "updated_at")
    }


async def test_serve_with_worker_projects_by_itself(
    aiohttp_client: Callable[..., Any],
    backend: Backend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.setenv("LRS_WEBHOOK_ALLOW_INTERNAL", "1")  # receivers on 127.0.0.1
    monkeypatch.setenv("LRS_WORKER_POLL", "0.02")
    config = Config(
        core=Settings(data_dir=tmp_path, with_worker=True),
        projection=ProjectionSettings.from_env(),
    )
    app = create_app(config, backend=backend)
    market = Market(http=await aiohttp_client(app), backend=backend)
    await hris_knows(market.projection.stores)
    await market.post_statements([statement("completed", actor=hris_actor("E7"))])
    reader = await market.token("read:activity:aggregate")
    deadline = time.monotonic() + 10
    while True:  # polled with a deadline: the in-process worker runs on its own
        status, body, _ = await market.get(f"{P}/members/E7/learning", reader)
        if status == 200 and body["data"]:
            break
        assert time.monotonic() < deadline, "the in-process worker did not project in 10 s"
        await asyncio.sleep(0.02)
    assert body["data"][0]["learning_completed"] is True


def test_the_serve_command_has_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from lrs.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "--with-worker" in capsys.readouterr().out
    assert Settings.from_env({"LRS_WITH_WORKER": "1"}).with_worker is True
    assert Settings.from_env({}).with_worker is False


def test_the_app_refuses_to_start_on_a_bad_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "spec" / "marketplace-mapping.csv"
    bad = tmp_path / "m.csv"
    bad.write_text(shipped.read_text().replace("score,score,score", "score,scores,score"))
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(bad))
    config = Config(core=Settings(data_dir=tmp_path), projection=ProjectionSettings.from_env())
    with pytest.raises(ConfigError, match=r"m\.csv row 16: unknown target field 'scores'"):
        create_app(config)
