"""Fault test, on every backend: a stream of statements (voids and repeats included) while
several workers run at once and random ones are cancelled mid-batch, identities arrive midway,
and webhook dispatchers are cancelled mid-delivery. Afterwards: reconcile reports 0 drift,
and the receiver (de-duplicating by event id) has seen every change of every record, in
versions 1..n without a gap, the last one equal to the stored record.

Crashes are task cancellations at whatever await the task has reached after a random number
of event-loop turns; time (leases, backoff) is a test clock moved forward; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from lrs.store.base import Backend
from projections import worker as worker_module
from projections.facts import Projector
from projections.keyring import Keyring
from projections.reconcile import Reconciler
from projections.store import ProjectionStores
from projections.store.base import Member
from projections.webhook_targets import TargetPolicy
from projections.webhook_verify import SIGNATURE_HEADER, verify_webhook
from projections.webhooks import WebhookService
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    Writer,
    at,
    hris_actor,
    hris_load,
    mbox_actor,
    statement,
    voiding,
)

LEASE_S = 30
VERBS = ["attempted", "completed", "passed", "failed", "scored", "progressed"]


class Stream:
    """Random statements over a few members and activities, with voids and repeats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.live: list[dict[str, Any]] = []  # stored, not voided, not voiding
        self.sent: list[dict[str, Any]] = []

    def actor(self) -> dict[str, Any]:
        n = self.rng.randrange(5)
        return mbox_actor(f"late{n}@example.com") if n == 4 else hris_actor(f"E{n}")

    def batch(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(self.rng.randint(1, 6)):
            roll = self.rng.random()
            if roll < 0.2 and self.live:
                target = self.live.pop(self.rng.randrange(len(self.live)))
                out.append(
                    {"id": str(uuid.UUID(int=self.rng.getrandbits(128))), **voiding(target["id"])}
                )
            elif roll < 0.27 and self.sent:
                out.append(self.rng.choice(self.sent))  # the same statement again
            else:
                verb = self.rng.choice(VERBS)
                result = {"score": {"raw": self.rng.randint(0, 100)}} if verb == "scored" else {}
                made = statement(
                    verb,
                    actor=self.actor(),
                    activity=f"{COURSE}/{self.rng.randrange(3)}",
                    timestamp=at(self.rng.randrange(80_000)),
                    **({"result": result} if result else {}),
                )
                made["id"] = str(uuid.UUID(int=self.rng.getrandbits(128)))
                out.append(made)
                self.live.append(made)
        unique = {s["id"]: s for s in out}  # one statement once per batch
        self.sent += [s for s in unique.values() if s["verb"]["id"].endswith("voided") is False]
        return list(unique.values())


class Receiver:
    """Verifies signatures on the test clock; keeps each event once (by id)."""

    def __init__(self, clock: list[int]) -> None:
        self.clock = clock
        self.secret = ""
        self.events: dict[str, dict[str, Any]] = {}
        self.duplicates = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event = verify_webhook(
            self.secret, body, request.headers.get(SIGNATURE_HEADER), now=self.clock[0] / 1e6
        )
        if event["id"] in self.events:
            self.duplicates += 1
        self.events[event["id"]] = event
        return web.Response(status=200)


async def crash_some(tasks: list[asyncio.Task[Any]], rng: random.Random) -> None:
    """Let the tasks run a random number of loop turns, then cancel about half of them."""
    for _ in range(rng.randint(0, 40)):
        await asyncio.sleep(0)  # a turn of the event loop, not a wait for time
    for task in tasks:
        if rng.random() < 0.5:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("slice_size", [None, 2])
@pytest.mark.parametrize("seed", [11, 23, 42])
async def test_crashes_and_concurrency_lose_nothing_and_count_nothing_twice(
    backend: Backend,
    stores: ProjectionStores,
    projector: Projector,
    writer: Writer,
    aiohttp_server: Callable[..., Any],
    seed: int,
    slice_size: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`slice_size` 2: each batch of 4 is claimed and its facts written in two slices before
    its records are rebuilt, so a cancellation can fall between the slices too."""
    if slice_size is not None:
        monkeypatch.setattr(worker_module, "_SLICE", slice_size)
    rng = random.Random(seed)
    clock = [time.time_ns() // 1000]
    receiver = Receiver(clock)
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    keyring = Keyring(b"f" * 32)

    def dispatcher() -> WebhookService:
        return WebhookService(
            stores.deliveries,
            stores.aggregates,
            keyring,
            max_attempts=50,
            clock=lambda: clock[0],
            targets=TargetPolicy(allow_internal=True),
        )

    def worker() -> ProjectionWorker:
        return ProjectionWorker(
            backend.statements, stores, projector, batch=4, lease_s=LEASE_S, clock=lambda: clock[0]
        )

    _sub, receiver.secret = await dispatcher().subscribe(str(server.make_url("/hooks")))
    stream = Stream(rng)
    async with aiohttp.ClientSession() as session:
        for round_no in range(14):
            await writer.store(*stream.batch())
            if round_no == 7:  # the HRIS file arrives while workers run
                loading = hris_load(stores, worker(), Member("E4", ("late4@example.com",)))
            else:
                loading = asyncio.sleep(0)
            tasks = [asyncio.create_task(worker().run_once()) for _ in range(3)]
            tasks.append(asyncio.create_task(dispatcher().run_once(session)))
            writing = asyncio.create_task(writer.store(*stream.batch()))
            await crash_some(tasks, rng)
            await writing
            await loading
            clock[0] += (LEASE_S + 1) * 1_000_000  # crashed workers' leases expire

        # recovery: healthy processes finish what is left
        clock[0] += 3600 * 1_000_000
        assert await worker().drain() > 0 or True
        hooks = dispatcher()
        for _ in range(100):
            await hooks.run_once(session)
            counts = await stores.deliveries.delivery_counts()
            if counts.pending == 0 and counts.unfanned_events == 0:
                break
            clock[0] += 61 * 1_000_000  # leases of cancelled dispatchers, and backoff
        assert counts.pending == 0 and counts.dead == 0

    report = await Reconciler(backend.statements, stores, projector, worker()).reconcile()
    assert report.awaiting == 0
    assert report.drift == 0, report.to_json()
    assert report.expected > 0

    # every change of every record reached the receiver, once per version, none missing
    versions: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for event in receiver.events.values():
        pair = (event["member_id"], event["activity_id"])
        assert event["version"] not in versions[pair], "two events for one change"
        versions[pair][event["version"]] = event
    page = await stores.aggregates.page_records(limit=1000, include_removed=True)
    assert {(r.member_id, r.activity_id) for r in page.records if r.version} == set(versions)
    for stored in page.records:
        seen = versions[(stored.member_id, stored.activity_id)]
        assert sorted(seen) == list(range(1, stored.version + 1))
        if stored.version:
            assert seen[stored.version]["data"] == stored.record
    assert sum(len(v) for v in versions.values()) == len(receiver.events)
