"""Webhooks: receiver-side verification, backoff, filters, and delivery to a real HTTP receiver
on 127.0.0.1 with retries, Retry-After, dead letters and redelivery. Time is a test clock that
the tests move forward; nothing sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from lrs.errors import BadRequest, NotFound
from lrs.store.base import Backend
from projections.aggregates import change_causes
from projections.delivery_metrics import increments
from projections.keyring import Keyring
from projections.pseudonyms import Disclosure
from projections.replay import Replayer
from projections.store import ProjectionStores
from projections.store.base import DELIVERED, Delivery, Fact, Subscription
from projections.transforms import format_datetime
from projections.wakeup import Wakeup
from projections.webhook_targets import TargetPolicy
from projections.webhook_verify import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureMismatchError,
    WebhookVerificationError,
    sign,
    verify_webhook,
)
from projections.webhooks import (
    WebhookService,
    backoff_s,
    lane_claim_size,
    matches,
    parse_retry_after,
    read_capped,
)
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    VERB,
    Writer,
    at,
    hris_actor,
    statement,
    voiding,
)

INTERNAL = TargetPolicy(allow_internal=True)  # the receivers listen on 127.0.0.1

SECRET = "whsec_test"


# --- verification (what a receiver runs) ------------------------------------------------------


def test_a_good_signature_verifies() -> None:
    body = b'{"id": "evt_1", "type": "learning.updated"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert verify_webhook(SECRET, body, header, now=1_700_000_100)["id"] == "evt_1"
    two = f"{header},v1={'0' * 64}"  # several signatures (during a secret rotation)
    assert verify_webhook(SECRET, body, two, now=1_700_000_000)["type"] == "learning.updated"


@pytest.mark.parametrize(
    ("secret", "body", "now", "message"),
    [
        ("whsec_other", b'{"id": 1}', 1_700_000_000, "does not match"),
        (SECRET, b'{"id": 2}', 1_700_000_000, "does not match"),  # body changed
        (SECRET, b'{"id": 1}', 1_700_000_301, "replay window"),
        (SECRET, b'{"id": 1}', 1_699_999_699, "replay window"),
    ],
)
def test_bad_signatures_and_stale_timestamps_are_rejected(
    secret: str, body: bytes, now: int, message: str
) -> None:
    header = sign(SECRET, 1_700_000_000, b'{"id": 1}')
    with pytest.raises(WebhookVerificationError, match=message):
        verify_webhook(secret, body, header, now=now)


@pytest.mark.parametrize(
    "header", [None, "", "v1=abc", "t=123", "t=x,v1=abc", "t=\u00b2,v1=abc", "garbage"]
)
def test_malformed_signature_headers_are_rejected(header: str | None) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, b"{}", header, now=123)


def test_a_signature_that_is_not_ascii_is_a_mismatch_not_a_type_error() -> None:
    # hmac.compare_digest raises TypeError on str values that are not ASCII
    with pytest.raises(SignatureMismatchError):
        verify_webhook(SECRET, b"{}", "t=123,v1=\u00e9", now=123)


# --- rules ------------------------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_to_thirty() -> None:
    assert [backoff_s(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_s(1, retry_after_s=10) == 10  # Retry-After, when longer, wins
    assert backoff_s(8, retry_after_s=1) == 30
    assert backoff_s(1, retry_after_s=10**9) == 3600  # but not forever


def test_retry_after_parsing() -> None:
    assert parse_retry_after("\u00b2", 0.0) is None  # a Unicode digit raised ValueError
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None


def test_subscription_filters() -> None:
    event = {
        "type": "learning.updated",
        "tags": ["badge.awarded"],
        "verbs": ["v:earned"],
        "member_id": "E1",
        "activity_id": "A",
    }
    assert matches(Subscription("s", "u"), event)
    assert matches(Subscription("s", "u", event_types=("badge.awarded",)), event)
    assert matches(Subscription("s", "u", event_types=("learning.updated",)), event)
    assert not matches(Subscription("s", "u", event_types=("learning.removed",)), event)
    assert matches(Subscription("s", "u", verbs=("v:earned",)), event)
    assert not matches(Subscription("s", "u", verbs=("v:passed",)), event)
    assert not matches(Subscription("s", "u", activities=("B",)), event)
    assert matches(Subscription("s", "u", members=("E1", "E2")), event)
    assert not matches(Subscription("s", "u", members=("E2",)), event)


# --- delivery to a receiver -------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies, records and answers as told."""

    secret: str = ""
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    rejected: int = 0
    clock: list[int] | None = None  # the test clock, when the sender runs on it

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:
            now = self.clock[0] / 1e6 if self.clock else None
            event = verify_webhook(
                self.secret, body, request.headers.get(SIGNATURE_HEADER), now=now
            )
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=400)
        assert request.headers[EVENT_ID_HEADER] == event["id"]
        if self.answers:
            status, headers = self.answers.pop(0)
            if status >= 300:
                return web.Response(status=status, headers=headers)
        self.events[event["id"]] = event  # de-duplicated by event id
        return web.Response(status=204)


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Any]) -> tuple[Receiver, str]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", got.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    return got, str(server.make_url("/hooks"))


@pytest.fixture
def clock() -> list[int]:
    return [time.time_ns() // 1000]


@pytest.fixture
def hooks(stores: ProjectionStores, clock: list[int]) -> WebhookService:
    return WebhookService(
        stores.deliveries,
        stores.aggregates,
        Keyring(b"w" * 32),
        max_attempts=3,
        timeout_s=5,
        clock=lambda: clock[0],
        targets=INTERNAL,
    )


async def test_changes_are_delivered_signed(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
) -> None:
    got, url = receiver
    _subscription, got.secret = await hooks.subscribe(url)
    await writer.store(statement("attempted"))
    await worker.drain()
    await writer.store(statement("completed"))
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        assert await hooks.run_once(session) == 4  # 2 events fanned out + 2 delivered
        assert await hooks.run_once(session) == 0
    events = sorted(got.events.values(), key=lambda e: e["version"])
    assert [(e["type"], e["version"]) for e in events] == [
        ("learning.created", 1),
        ("learning.updated", 2),
    ]
    assert "learning.completed" in events[1]["tags"]
    assert events[1]["data"] == (await stores.aggregates.get_record("E1", COURSE)).record
    counts = await stores.deliveries.delivery_counts()
    assert (counts.delivered, counts.pending, counts.dead, counts.unfanned_events) == (2, 0, 0, 0)


async def test_failures_back_off_honour_retry_after_then_dead_letter(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
    clock: list[int],
) -> None:
    got, url = receiver
    got.clock = clock
    _subscription, got.secret = await hooks.subscribe(url)
    got.answers = [(500, {}), (503, {"Retry-After": "120"}), (500, {})]
    await writer.store(statement("completed"))
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        await hooks.run_once(session)  # attempt 1: 500
        assert await hooks.deliver_once(session) == 0  # not due yet
        clock[0] += 500_000
        assert await hooks.deliver_once(session) == 1  # attempt 2: 503, Retry-After 120
        clock[0] += 119_000_000
        assert await hooks.deliver_once(session) == 0  # the receiver asked for 120 s
        clock[0] += 1_000_000
        assert await hooks.deliver_once(session) == 1  # attempt 3: 500 → dead
        clock[0] += 3_600_000_000
        assert await hooks.deliver_once(session) == 0
    assert got.requests == 3 and got.events == {}
    [dead] = await stores.deliveries.dead_letters(10)
    assert dead.attempts == 3 and dead.last_error == "HTTP 500"
    assert (await stores.deliveries.delivery_counts()).dead == 1

    assert await stores.deliveries.redeliver([dead.id], clock[0]) == 1
    async with aiohttp.ClientSession() as session:
        assert await hooks.deliver_once(session) == 1
    assert len(got.events) == 1 and await stores.deliveries.dead_letters(10) == []


async def test_an_unreachable_receiver_is_retried(
    hooks: WebhookService,
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
) -> None:
    await hooks.subscribe("http://127.0.0.1:9/hooks")  # nothing listens on port 9
    await writer.store(statement("completed"))
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        await hooks.run_once(session)
    counts = await stores.deliveries.delivery_counts()
    assert counts.pending == 1 and counts.delivered == 0


async def test_filters_pick_the_subscriptions(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    got, url = receiver
    _sub, got.secret = await hooks.subscribe(
        url, members=["E2"], event_types=["learning.completed"]
    )
    await writer.store(
        statement("completed", actor=hris_actor("E1")),
        statement("attempted", actor=hris_actor("E2")),
    )
    await worker.drain()
    await writer.store(statement("completed", actor=hris_actor("E2")))
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        await hooks.run_once(session)
    assert [(e["member_id"], e["version"]) for e in got.events.values()] == [("E2", 2)]


async def test_a_verb_filter_gets_only_changes_caused_by_that_verb(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    got, url = receiver
    _sub, got.secret = await hooks.subscribe(url, verbs=[VERB + "passed"])
    [passed] = await writer.store(statement("passed"))
    await worker.drain()
    for verb in ("attempted", "completed"):  # the record has a pass: these are not passes
        await writer.store(statement(verb, result={"score": {"scaled": 0.5}}))
        await worker.drain()
    await writer.store(voiding(passed))  # withdraws the pass: a change the pass caused
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        await hooks.run_once(session)
    events = sorted(got.events.values(), key=lambda e: e["version"])
    assert [(e["version"], e["verbs"]) for e in events] == [
        (1, [VERB + "passed"]),
        (4, [VERB + "passed"]),
    ]
    assert all(VERB + "passed" not in e["data"]["verbs"] for e in events[1:])


async def test_a_subscription_with_scopes_gets_only_their_fields(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
) -> None:
    got, url = receiver
    _sub, got.secret = await hooks.subscribe(url, scopes=["read:completions"])
    await writer.store(
        statement("completed", timestamp=at(5000), result={"score": {"scaled": 0.9}}),
        statement("attempted", timestamp=at(4000)),
    )
    await worker.drain()
    # a better score only (an older attempt, a verb the record has): nothing it sees changed
    score = {"score": {"scaled": 1}}
    await writer.store(statement("attempted", timestamp=at(4500), result=score))
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        await hooks.run_once(session)
    [event] = got.events.values()
    assert event["type"] == "learning.created" and event["version"] == 1
    assert event["data"]["learning_completed"] is True
    assert not {"score", "enrollment_state", "email"} & set(event["data"])
    assert "score" not in event["changes"] and "score.changed" not in event["tags"]
    assert "learning.completed" in event["tags"]


async def test_subscription_scopes_are_checked(hooks: WebhookService) -> None:
    with pytest.raises(BadRequest, match="unknown scope"):
        await hooks.subscribe("https://m.example/h", scopes=["read:everything"])
    with pytest.raises(BadRequest, match=r"score\.changed"):
        await hooks.subscribe(
            "https://m.example/h", scopes=["read:completions"], event_types=["score.changed"]
        )
    sub, _ = await hooks.subscribe("https://m.example/h", scopes=["read:scores"])
    assert sub.scopes == ("read:scores",)


async def test_events_carry_when_the_statements_behind_them_were_stored(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    backend: Backend,
) -> None:
    """`source_stored_at`: the earliest stored time of the statements behind a change (the
    voiding statement's for a voiding); none on a change that re-applies old statements."""
    got, url = receiver
    _sub, got.secret = await hooks.subscribe(url)
    first, second = await writer.store(
        statement("attempted", actor=hris_actor("E1")), statement("passed", actor=hris_actor("E1"))
    )
    await worker.drain()
    [void] = await writer.store(voiding(second, actor=hris_actor("E1")))
    await worker.drain()
    await worker.reapply([first, second])  # as `reconcile --fix`: nothing changes, no event
    async with aiohttp.ClientSession() as session:
        await hooks.run_once(session)
    stored = await backend.statements.get_statements([first, second, void])
    events = sorted(got.events.values(), key=lambda e: e["version"])
    assert [e["source_stored_at"] for e in events] == [
        format_datetime(stored[first].stored_us),
        format_datetime(stored[void].stored_us),
    ]


def test_a_re_applied_change_names_no_stored_time() -> None:
    fact = Fact("s1", "k", "E1", COURSE, stored_us=5, data={"verb_id": VERB + "passed"})
    fresh = change_causes([fact], {}, [], voided_at={})
    again = change_causes([fact], {}, [])
    assert (fresh[("E1", COURSE)].stored_us, again[("E1", COURSE)].stored_us) == (5, None)
    assert fresh[("E1", COURSE)].verbs == again[("E1", COURSE)].verbs == {VERB + "passed"}


def test_delivery_latency_is_measured_from_the_statements_stored_time() -> None:
    def delivered(body: dict[str, Any]) -> dict[Any, float]:
        delivery = Delivery("d", "e", "sub", DELIVERED, 1, 0, body=orjson.dumps(body))
        return increments(delivery, DELIVERED, now_us=3_000_000 + 1_700_000_000_000_000)

    stored = format_datetime(1_700_000_000_000_000)
    occurred = format_datetime(1_700_000_002_000_000)
    counted = delivered({"occurred_at": occurred, "source_stored_at": stored})
    assert counted[("webhook_latency_sum", "sub")] == 3.0  # stored → 2xx, not occurred → 2xx
    not_counted = delivered({"occurred_at": occurred})  # reconcile, replay: no statement
    assert ("webhook_latency_sum", "sub") not in not_counted
    assert not_counted[("webhook_success", "sub")] == 1


async def test_a_replay_goes_to_its_subscription_only(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
    clock: list[int],
) -> None:
    got, url = receiver
    await writer.store(
        statement("completed", actor=hris_actor("E1")),
        statement("passed", actor=hris_actor("E2")),
    )
    await worker.drain()
    other, _secret = await hooks.subscribe("http://127.0.0.1:9/hooks")  # nothing listens
    async with aiohttp.ClientSession() as session:
        await hooks.drain(session)  # the live events: pending for `other` (unreachable)
    late, got.secret = await hooks.subscribe(url, verbs=[VERB + "passed"])
    disclosure = Disclosure(None, stores.identities, frozenset())  # type: ignore[arg-type]
    replayer = Replayer(stores, disclosure, lambda: clock[0])
    report = await replayer.replay(late.id)
    assert (report.records, report.queued) == (2, 1)  # its verb filter: E2's pass
    async with aiohttp.ClientSession() as session:
        await hooks.drain(session)
    [event] = got.events.values()
    assert (event["member_id"], event["replay"], event["version"]) == ("E2", True, 1)
    pending = await stores.deliveries.claim_deliveries("t", 2**62, 1, 100)
    assert {d.subscription_id for d in pending} == {other.id}  # none of the replays
    assert len(pending) == 2
    with pytest.raises(NotFound):
        await replayer.replay("sub_nope")


async def test_two_dispatchers_do_not_send_the_same_delivery_twice(
    stores: ProjectionStores,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    clock: list[int],
) -> None:
    got, url = receiver
    keyring = Keyring(b"w" * 32)
    first = WebhookService(
        stores.deliveries, stores.aggregates, keyring, clock=lambda: clock[0], targets=INTERNAL
    )
    second = WebhookService(
        stores.deliveries, stores.aggregates, keyring, clock=lambda: clock[0], targets=INTERNAL
    )
    _sub, got.secret = await first.subscribe(url)
    for n in range(5):
        await writer.store(statement("attempted", activity=f"{COURSE}/{n}"))
    await worker.drain()
    await first.fan_out_once()
    await second.fan_out_once()
    async with aiohttp.ClientSession() as session:
        sent = await asyncio.gather(first.deliver_once(session), second.deliver_once(session))
    assert sum(sent) == 5 and got.requests == 5 and len(got.events) == 5


@dataclass
class FloodingReceiver:
    """A receiver that answers 503 with a body far larger than anyone should read."""

    body_bytes: int = 32 * 1024 * 1024
    sent: int = 0
    cut: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=503, headers={"Retry-After": "7"})
        chunk = b"x" * 65536
        try:
            await response.prepare(request)
            while self.sent < self.body_bytes:
                await response.write(chunk)
                self.sent += len(chunk)
            await response.write_eof()
        except ConnectionError:
            self.cut = True  # the dispatcher hung up instead of reading on
        except asyncio.CancelledError:
            self.cut = True  # aiohttp cancels a handler whose client went away
            raise
        finally:
            self.done.set()
        return response


async def test_a_receivers_answer_body_is_read_only_up_to_4_kib(
    hooks: WebhookService,
    aiohttp_server: Callable[..., Any],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
    clock: list[int],
) -> None:
    flood = FloodingReceiver()
    app = web.Application()
    app.router.add_post("/hooks", flood.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    await hooks.subscribe(str(server.make_url("/hooks")))
    await writer.store(statement("completed"))
    await worker.drain()
    async with aiohttp.ClientSession() as session:
        assert await hooks.run_once(session) == 2  # fanned out, attempted
        await asyncio.wait_for(flood.done.wait(), timeout=30)
    assert flood.cut and flood.sent < flood.body_bytes
    counts = await stores.deliveries.delivery_counts()
    assert (counts.pending, counts.delivered) == (1, 0)
    clock[0] += 6_000_000
    async with aiohttp.ClientSession() as session:  # the answer's Retry-After was still read
        assert await hooks.deliver_once(session) == 0


async def test_read_capped_returns_a_short_body_whole(aiohttp_server: Callable[..., Any]) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=400, text="missing field 'x'")

    app = web.Application()
    app.router.add_get("/", answer)
    server = await aiohttp_server(app, host="127.0.0.1")
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/")) as response:
        assert await read_capped(response, 8) == b"missing "
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/")) as response:
        assert await read_capped(response) == b"missing field 'x'"


class Spy:
    """A delivery store that notes the name of every method called on it."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self._real, name)


async def test_an_idle_round_only_reads_and_pauses_until_the_next_delivery_falls_due(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
    clock: list[int],
) -> None:
    got, url = receiver
    _subscription, got.secret = await hooks.subscribe(url)
    await writer.store(statement("completed"))
    await worker.drain()
    clock[0] += 5_000_000  # fanned out "in 5 s": due then
    assert await hooks.fan_out_once() == 1
    clock[0] -= 5_000_000
    spy = Spy(stores.deliveries)
    hooks._deliveries = spy  # type: ignore[assignment]
    lanes: dict[str, set[asyncio.Task[None]]] = {}
    async with aiohttp.ClientSession() as session:
        assert await hooks._dispatch_round(session, lanes, Wakeup(), 60.0) == 5.0
        writes = {"claim_deliveries", "fan_out", "finish_delivery", "redeliver"}
        assert not writes & set(spy.calls), spy.calls  # a look, no claim: nothing is due
        assert await hooks._dispatch_round(session, lanes, Wakeup(), 2.0) == 2.0  # the poll
        clock[0] += 5_000_000
        await hooks._dispatch_round(session, lanes, Wakeup(), 60.0)
        assert "claim_deliveries" in spy.calls
        deadline = time.monotonic() + 10
        while any(lanes.values()):  # the delivery runs as a task of its subscription's lane
            assert time.monotonic() < deadline, "the delivery did not end in 10 s"
            await asyncio.sleep(0.01)
    assert len(got.events) == 1
    assert (await stores.deliveries.delivery_counts()).delivered == 1


class GatedClaims:
    """A delivery store whose claims wait for `gate` once `closed` (a runner's next claim)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.gate = asyncio.Event()
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def claim_deliveries(self, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            await self.gate.wait()
        return await self._real.claim_deliveries(*args, **kwargs)


async def test_a_lane_that_frees_up_wakes_the_dispatcher_for_its_retry(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
    clock: list[int],
) -> None:
    # A round that finds a lane full cannot see that lane's next due delivery; when the lane's
    # runner ended after a failure, nothing woke the dispatcher and the retry waited a poll.
    got, url = receiver
    got.answers = [(500, {})]
    _subscription, got.secret = await hooks.subscribe(url)
    await writer.store(statement("completed"))
    await worker.drain()
    assert await hooks.fan_out_once() == 1
    gated = GatedClaims(stores.deliveries)
    hooks._deliveries = gated  # type: ignore[assignment]
    hooks._concurrency = 1
    lanes: dict[str, set[asyncio.Task[None]]] = {}
    wake = Wakeup()
    async with aiohttp.ClientSession() as session:
        await hooks._dispatch_round(session, lanes, wake, 3600.0)
        gated.closed = True  # the runner has its delivery; its next claim waits
        deadline = time.monotonic() + 10
        while not (got.requests == 1 and wake.is_set()):  # sent, answered 500, retry noted
            assert time.monotonic() < deadline, "the first attempt did not end in 10 s"
            await asyncio.sleep(0.01)
        wake.clear()
        assert await hooks._dispatch_round(session, lanes, wake, 3600.0) == 3600.0  # lane full
        gated.gate.set()
        while any(lanes.values()):
            assert time.monotonic() < deadline, "the runner did not end in 10 s"
            await asyncio.sleep(0.01)
        assert wake.is_set()  # the freed lane calls the dispatcher back
        assert await hooks._dispatch_round(session, lanes, wake, 3600.0) == 0.5  # the backoff


async def due_deliveries(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    count: int,
) -> Subscription:
    """A subscription to `receiver` with `count` deliveries due (one event each)."""
    got, url = receiver
    subscription, got.secret = await hooks.subscribe(url)
    await writer.store(*(statement("completed", actor=hris_actor(f"E{n}")) for n in range(count)))
    await worker.drain()
    assert await hooks.fan_out_once() == count
    return subscription


async def states(stores: ProjectionStores, subscription: Subscription) -> list[str]:
    """The states of the subscription's latest deliveries."""
    return [d.state for d in await stores.deliveries.recent_deliveries(subscription.id, 10)]


async def run_one_lane(hooks: WebhookService, deliveries: Any) -> None:
    """One dispatch round with one runner per lane, on `deliveries` (a store wrapped to watch
    it), until the runner finds nothing more due."""
    hooks._deliveries = deliveries
    hooks._concurrency = 1
    lanes: dict[str, set[asyncio.Task[None]]] = {}
    async with aiohttp.ClientSession() as session:
        await hooks._dispatch_round(session, lanes, Wakeup(), 3600.0)
        deadline = time.monotonic() + 20
        while any(lanes.values()):
            assert time.monotonic() < deadline, "the lane did not end in 20 s"
            await asyncio.sleep(0.01)


class ClaimsWhileFinishing:
    """A delivery store noting the claims made while an outcome is being recorded (each
    outcome waits up to 5 s for one)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.finishing = 0
        self.claimed_meanwhile = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def finish_delivery(self, *args: Any, **kwargs: Any) -> Any:
        self.finishing += 1
        try:
            await asyncio.wait_for(self.claimed_meanwhile.wait(), 5)
        except TimeoutError:
            pass
        finally:
            self.finishing -= 1
        return await self._real.finish_delivery(*args, **kwargs)

    async def claim_deliveries(self, *args: Any, **kwargs: Any) -> Any:
        if self.finishing:
            self.claimed_meanwhile.set()
        return await self._real.claim_deliveries(*args, **kwargs)


async def test_a_lane_claims_its_next_delivery_as_it_records_an_outcome(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
) -> None:
    # Together, on SQLite one group commit (and fsync) per delivery instead of two in turn.
    got, _url = receiver
    subscription = await due_deliveries(hooks, receiver, worker, writer, 2)
    noting = ClaimsWhileFinishing(stores.deliveries)
    await run_one_lane(hooks, noting)
    assert got.requests == 2
    assert noting.claimed_meanwhile.is_set()
    assert await states(stores, subscription) == [DELIVERED] * 2


@pytest.mark.parametrize(
    ("lease_s", "timeout_s", "size"),
    [(60, 10, 3), (60, 1, 4), (60, 30, 1), (60, 50, 1), (120, 10, 4)],
)
def test_a_runner_claims_what_it_can_send_within_half_the_lease(
    lease_s: float, timeout_s: float, size: int
) -> None:
    assert lane_claim_size(lease_s, timeout_s) == size


class CountedClaims:
    """A delivery store noting the size asked and got of each claim."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.claims: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def claim_deliveries(self, *args: Any, **kwargs: Any) -> Any:
        got = await self._real.claim_deliveries(*args, **kwargs)
        self.claims.append((args[3], len(got)))
        return got


async def test_a_lane_claims_a_few_due_deliveries_at_once(
    hooks: WebhookService,
    receiver: tuple[Receiver, str],
    worker: ProjectionWorker,
    writer: Writer,
    stores: ProjectionStores,
) -> None:
    # While the writer is busy (a burst), each store round is slow: a runner that claimed one
    # delivery at a time sent about ten a second.
    got, _url = receiver
    subscription = await due_deliveries(hooks, receiver, worker, writer, 7)
    counted = CountedClaims(stores.deliveries)
    await run_one_lane(hooks, counted)
    size = hooks._lane_claim  # `lane_claim_size` of the fixture's lease and timeout
    assert size > 1
    expected, left = [(1, 1)], 6  # the round's claim, then the runner's
    while True:
        expected.append((size, min(size, left)))
        if left == 0:
            break
        left -= min(size, left)
    assert counted.claims == expected
    assert got.requests == 7
    assert await states(stores, subscription) == [DELIVERED] * 7
