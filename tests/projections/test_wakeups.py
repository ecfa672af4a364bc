"""Latency to the marketplace, on every backend: a committed statement wakes the in-process
worker, an applied one the dispatcher, with a poll interval of an hour configured; and each
webhook subscription's deliveries proceed in a lane of their own, so a receiver that does not
answer holds back no other. Waits poll with a deadline; nothing is timed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lrs.app import create_app
from lrs.config import Config
from lrs.errors import StatementConflict
from lrs.settings import Settings
from lrs.store.base import Backend
from projections.settings import ProjectionSettings
from projections.webhook_verify import SIGNATURE_HEADER, verify_webhook
from tests.projections.api_support import Market
from tests.projections.conftest import AUTHORITY, HRIS, Writer, hris_actor, hris_knows, statement

P = "/marketplace/v1"
DEADLINE_S = 15.0


async def until(check: Callable[[], bool], what: str) -> None:
    """Poll `check` until it holds; fail naming `what` after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {DEADLINE_S} s"
        await asyncio.sleep(0.01)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1; `hold` keeps every answer back until `release`."""

    hold: bool = False
    failures: int = 0  # answers 500 to this many deliveries first
    secret: str = ""
    url: str = ""
    activities: list[str] = field(default_factory=list)  # in the order they arrived
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event = verify_webhook(self.secret, body, request.headers.get(SIGNATURE_HEADER))
        self.activities.append(event["activity_id"])
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=500)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hold:
                await self.release.wait()
        finally:
            self.in_flight -= 1
        return web.Response(status=204)


@pytest.fixture
async def receivers(aiohttp_server: Callable[..., Any]) -> AsyncIterator[list[Receiver]]:
    """A healthy receiver and one that answers nothing until released (released at the end)."""
    healthy, slow = Receiver(), Receiver(hold=True)
    for receiver in (healthy, slow):
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = await aiohttp_server(app, host="127.0.0.1")
        receiver.url = str(server.make_url("/hook"))
    yield [healthy, slow]
    slow.release.set()


@pytest.fixture
async def serving(
    aiohttp_client: Callable[..., Any],
    backend: Backend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Market:
    """`lrs serve --with-worker` in this process, polling once an hour, one delivery at a time."""
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.setenv("LRS_WEBHOOK_ALLOW_INTERNAL", "1")  # receivers on 127.0.0.1
    monkeypatch.setenv("LRS_WORKER_POLL", "3600")
    monkeypatch.setenv("LRS_WEBHOOK_TIMEOUT", "3600")
    monkeypatch.setenv("LRS_WEBHOOK_CONCURRENCY", "1")
    config = Config(
        core=Settings(data_dir=tmp_path, with_worker=True),
        projection=ProjectionSettings.from_env(),
    )
    app = create_app(config, backend=backend)
    market = Market(http=await aiohttp_client(app), backend=backend)
    await hris_knows(market.projection.stores)
    return market


async def subscribe(market: Market, receiver: Receiver) -> None:
    admin = await market.token("admin")
    created = await market.http.post(
        f"{P}/webhooks", json={"url": receiver.url}, headers={"Authorization": admin}
    )
    assert created.status == 201, await created.text()
    receiver.secret = (await created.json())["data"]["secret"]


def course(n: int) -> str:
    return f"https://lms.example.com/courses/wake-{n}"


async def test_a_statement_wakes_the_worker_and_the_dispatcher_without_a_poll(
    serving: Market, receivers: list[Receiver]
) -> None:
    healthy, _slow = receivers
    await subscribe(serving, healthy)
    await serving.post_statements(
        [statement("completed", actor=hris_actor("E1"), activity=course(1))]
    )
    await until(lambda: course(1) in healthy.activities, "the webhook of the statement")
    # and again, once both loops have gone back to their hour-long pause
    await serving.post_statements(
        [statement("completed", actor=hris_actor("E1"), activity=course(2))]
    )
    await until(lambda: course(2) in healthy.activities, "the webhook of the second statement")


async def test_a_failed_delivery_is_retried_when_due_without_a_poll(
    serving: Market, receivers: list[Receiver]
) -> None:
    healthy, _slow = receivers
    healthy.failures = 1
    await subscribe(serving, healthy)
    actor = hris_actor("E1")
    await serving.post_statements([statement("completed", actor=actor, activity=course(1))])
    await until(lambda: healthy.activities == [course(1)] * 2, "the retry (after 0.5 s)")


async def test_a_receiver_that_does_not_answer_holds_back_no_other(
    serving: Market, receivers: list[Receiver]
) -> None:
    healthy, slow = receivers
    await subscribe(serving, healthy)
    await subscribe(serving, slow)
    await serving.post_statements(
        [statement("completed", actor=hris_actor("E1"), activity=course(1))]
    )
    await until(lambda: course(1) in slow.activities, "the slow receiver's first delivery")
    await until(lambda: course(1) in healthy.activities, "the healthy receiver's first delivery")
    for n in (2, 3):
        actor = hris_actor("E1")
        await serving.post_statements([statement("completed", actor=actor, activity=course(n))])
        await until(lambda n=n: course(n) in healthy.activities, f"healthy delivery {n}")
    # the slow lane holds one delivery (LRS_WEBHOOK_CONCURRENCY=1), still unanswered
    assert (slow.activities, slow.in_flight) == ([course(1)], 1)
    slow.release.set()
    await until(lambda: len(slow.activities) == 3, "the slow receiver's other deliveries")
    assert slow.activities[1:] == [course(2), course(3)]  # in the order they fell due
    assert slow.most_in_flight == 1


async def test_listeners_hear_of_each_write_that_stored_statements(writer: Writer) -> None:
    heard: list[str] = []
    writer.service.add_listener(lambda: heard.append("stored"))
    first = statement("completed", id="2f7e7e4e-8f7b-4b55-9b4a-6a0f0f7c2d11")
    await writer.store(first, statement("attempted"))  # one write of two: one call
    assert heard == ["stored"]
    await writer.store(first)  # already stored, nothing new: no call
    with pytest.raises(StatementConflict):  # refused: no call
        await writer.service.store_statements(
            {**first, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}},
            authority=AUTHORITY,
            version="1.0.3",
        )
    assert heard == ["stored"]
    listener = heard.clear
    writer.service.add_listener(listener)
    writer.service.remove_listener(listener)
    writer.service.remove_listener(listener)  # not there any more: harmless
    await writer.store(statement("completed"))
    assert heard == ["stored", "stored"]  # heard by the first listener, not cleared
