"""Webhooks: subscriptions, fan-out from the durable outbox, signed delivery with retries.

Every change of a record produces one event in the outbox, written in the same atomic step as
the change (see `projections.store`). The dispatcher then
1. fans out: for each outbox event, one pending delivery per matching subscription (event
   types, verbs, activities, members; empty filters match all; a verb filter matches the
   verbs of the statements that caused the change), then marks the event fanned;
2. delivers: leases due deliveries and POSTs each event's JSON to its subscription's URL with

       X-LRS-Event-Id:   the event id (receivers de-duplicate on it)
       X-LRS-Event-Type: e.g. learning.updated
       X-LRS-Signature:  t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

   A 2xx answer delivers it. Anything else (or no answer in `LRS_WEBHOOK_TIMEOUT`) is retried
   after 0.5 s, 1 s, 2 s, ... at most 30 s, or after the receiver's `Retry-After` when that
   is longer; after `LRS_WEBHOOK_MAX_ATTEMPTS` attempts it becomes a dead letter, listed and
   redelivered with `lrs webhooks dead-letters` / `lrs webhooks redeliver`. At most the first
   4 KiB of an answer's body are read, never the rest.

Each subscription has a lane of its own: at most `LRS_WEBHOOK_CONCURRENCY` of its deliveries
in flight at once, claimed in the order they fall due (a new event when fanned out, a retry
when its backoff ends), so a slow or failing receiver fills only its own lane and a retry
holds back no event that fell due before it. A lane's runners each send one delivery after
another while any is due, claiming a few at once (`lane_claim_size`: as many as can be sent
within half the lease), and record each outcome while sending the next. The dispatcher wakes
when the worker has applied statements in the same process, when a delivery is to be
retried, and when the next delivery falls due.

Delivery is at least once (a dispatcher that dies after sending but before recording sends
again when its lease expires): receivers de-duplicate by event id, and order a record's
events by their `version` (deliveries run concurrently). Verification on the receiving side:
`projections.webhook_verify.verify_webhook`. Subscriptions made after an event do not get it:
`lrs webhooks replay` sends them the records' current state (`projections.replay`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import aiohttp
import orjson

from lrs.errors import BadRequest, LRSError
from projections.delivery_metrics import DeliveryOutcomes
from projections.event_view import body_for, hidden_tags, view_of, visible_event
from projections.keyring import Keyring
from projections.member_events import MEMBER_EVENT_TYPES
from projections.scopes import SCOPES
from projections.store.base import (
    DEAD,
    DELIVERED,
    PENDING,
    AggregateStore,
    Delivery,
    DeliveryStore,
    OutboxEvent,
    Subscription,
)
from projections.together import together
from projections.transforms import is_http_url
from projections.wakeup import Wakeup, pause
from projections.webhook_targets import TargetPolicy
from projections.webhook_verify import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "learning.created",
    "learning.updated",
    "learning.removed",
    "learning.completed",
    "learning.uncompleted",
    "badge.awarded",
    "badge.revoked",
    "score.changed",
    "enrollment.changed",
    "certificate.changed",
    *MEMBER_EVENT_TYPES,
)
BACKOFF_START_S = 0.5
BACKOFF_FACTOR = 2.0
BACKOFF_CAP_S = 30.0
MAX_RETRY_AFTER_S = 3600.0
MAX_ANSWER_BYTES = 4096  # of a receiver's answer body read; the rest is never read
# the least time between the starts of two dispatch rounds: the worker wakes the dispatcher
# after every batch, and a round's lookups cost about what a delivery does
ROUND_GAP_S = 0.01
# the deliveries a lane's runner claims at once, at the most (`lane_claim_size`)
MOST_CLAIMED_BY_A_RUNNER = 4


def lane_claim_size(lease_s: float, timeout_s: float) -> int:
    """How many deliveries a lane's runner claims at once: up to `MOST_CLAIMED_BY_A_RUNNER`,
    and few enough that sending them one after another, each up to its timeout, ends within
    half the lease (else another dispatcher might send the last ones again)."""
    return max(1, min(MOST_CLAIMED_BY_A_RUNNER, int(lease_s / 2 // max(timeout_s, 1e-3))))


async def read_capped(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """At most `limit` bytes of an answer's body; the connection is closed if more is left.

    A receiver's answer matters only for its status and headers: a receiver that answers with
    an endless or huge body must not hold the dispatcher or fill its memory.
    """
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    if not response.content.at_eof():
        response.close()
    return b"".join(chunks)


def backoff_s(attempts: int, retry_after_s: float | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 → 0.5 s, 2 → 1 s, ...)."""
    delay = min(BACKOFF_CAP_S, BACKOFF_START_S * BACKOFF_FACTOR ** max(0, attempts - 1))
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # float() refuses "²", which isdigit() accepts
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError):
        return None


def matches(subscription: Subscription, event: dict[str, Any]) -> bool:
    """Whether an event passes the subscription's filters."""
    kinds = {event.get("type"), *event.get("tags", ())}
    if subscription.event_types and not kinds & set(subscription.event_types):
        return False
    if subscription.verbs and not set(event.get("verbs", ())) & set(subscription.verbs):
        return False
    if subscription.activities and event.get("activity_id") not in subscription.activities:
        return False
    if subscription.members and event.get("member_id") not in subscription.members:
        return False
    return not subscription.scopes or visible_event(event, view_of(subscription.scopes)) is not None


def check_subscription_scopes(scopes: Sequence[str], event_types: Sequence[str]) -> None:
    """Known scopes, and no event-type filter on a tag whose field they hide (it could never
    match)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise BadRequest(f"unknown scope(s) {unknown}", field="scopes", known=list(SCOPES))
    view = view_of(scopes)
    blind = sorted(set(event_types) & set(hidden_tags(view))) if view else []
    if blind:
        raise BadRequest(f"the scopes hide the field of event type(s) {blind}", field="scopes")


def wall_clock_us() -> int:
    """Now, in microseconds."""
    return time.time_ns() // 1000


class Drained(NamedTuple):
    """What `WebhookService.drain` did: events fanned out, delivery attempts made."""

    fanned: int
    attempted: int


class WebhookService:
    """Subscriptions and the dispatcher; see the module docstring."""

    def __init__(
        self,
        deliveries: DeliveryStore,
        aggregates: AggregateStore,
        keyring: Keyring,
        *,
        max_attempts: int = 8,
        timeout_s: float = 10.0,
        lease_s: float = 60.0,
        concurrency: int = 8,
        fan_out_page: int = 500,
        clock: Callable[[], int] = wall_clock_us,
        targets: TargetPolicy | None = None,
        outcomes: DeliveryOutcomes | None = None,
    ) -> None:
        self.owner = f"dispatcher-{uuid.uuid4().hex[:12]}"
        self._outcomes = outcomes  # counts each attempt's outcome for /metrics
        self._concurrency = max(1, concurrency)
        self._fan_out_page = fan_out_page
        self._deliveries = deliveries
        self._aggregates = aggregates
        self._keyring = keyring
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self._lease_us = int(lease_s * 1_000_000)
        self._lane_claim = lane_claim_size(lease_s, timeout_s)
        self._clock = clock
        self._targets = targets or TargetPolicy()

    def session(self) -> aiohttp.ClientSession:
        """An HTTP session for deliveries that refuses forbidden addresses (DNS included)."""
        return self._targets.session()

    async def subscribe(
        self,
        url: str,
        *,
        event_types: Sequence[str] = (),
        verbs: Sequence[str] = (),
        activities: Sequence[str] = (),
        members: Sequence[str] = (),
        scopes: Sequence[str] = (),
    ) -> tuple[Subscription, str]:
        """A new subscription and its signing secret (shown once; derivable, never stored).

        `scopes`: the OAuth scopes whose fields its events carry (`projections.event_view`);
        none, every field."""
        if not is_http_url(url):
            raise BadRequest("the webhook url must be an absolute http(s) URL", field="url")
        self._targets.check_url(url)
        unknown = [t for t in event_types if t not in EVENT_TYPES]
        if unknown:
            raise BadRequest(f"unknown event type(s) {unknown}", known=list(EVENT_TYPES))
        check_subscription_scopes(scopes, event_types)
        subscription = Subscription(
            id="sub_" + secrets.token_hex(8),
            url=url,
            event_types=tuple(event_types),
            verbs=tuple(verbs),
            activities=tuple(activities),
            members=tuple(members),
            scopes=tuple(scopes),
            secret_salt=secrets.token_hex(8),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        await self._deliveries.add_subscription(subscription)
        return subscription, self.secret_for(subscription)

    def target_refusal(self, subscription: Subscription) -> str | None:
        """Why the target policy, as it is now, refuses the subscription's URL (its deliveries
        become dead letters at once), or None: it is active."""
        return self._targets.url_refusal(subscription.url)

    def secret_for(self, subscription: Subscription) -> str:
        """The subscription's signing secret."""
        return self._keyring.webhook_secret(subscription.id, subscription.secret_salt)

    async def fan_out_once(self, limit: int = 500) -> int:
        """Publish pending events and turn them into deliveries; how many events."""
        await self._aggregates.publish_events()
        events = await self._deliveries.unfanned_events(limit)
        if not events:
            return 0
        subscriptions = await self._deliveries.list_subscriptions()
        now = self._clock()

        async def fan_out(event: OutboxEvent) -> None:
            body = orjson.loads(event.body)
            targets = [s.id for s in subscriptions if matches(s, body)]
            await self._deliveries.fan_out(event.id, targets, now)

        # concurrently: on SQLite the writer commits them as one group, not one fsync each
        await asyncio.gather(*(fan_out(event) for event in events))
        return len(events)

    async def deliver_once(self, session: aiohttp.ClientSession, limit: int = 100) -> int:
        """Send every due delivery once (concurrently); how many were attempted."""
        claimed = await self._deliveries.claim_deliveries(
            self.owner, self._clock(), self._lease_us, limit
        )
        if not claimed:
            return 0
        subscriptions = {s.id: s for s in await self._deliveries.list_subscriptions()}
        await asyncio.gather(
            *(self._deliver(session, d, subscriptions.get(d.subscription_id)) for d in claimed)
        )
        return len(claimed)

    async def run_once(self, session: aiohttp.ClientSession) -> int:
        """One fan-out and one delivery round; the work done."""
        return await self.fan_out_once() + await self.deliver_once(session)

    async def drain(self, session: aiohttp.ClientSession, max_rounds: int = 100_000) -> Drained:
        """Fan out the whole outbox, then send every delivery due now until none is left
        (`lrs worker --once`). A failed attempt is retried later, not now, so this ends."""
        fanned = attempted = 0
        for _ in range(max_rounds):
            done = await self.fan_out_once(self._fan_out_page)
            fanned += done
            if done == 0:
                break
        for _ in range(max_rounds):
            done = await self.deliver_once(session)
            attempted += done
            if done == 0:
                break
        return Drained(fanned, attempted)

    async def run(
        self, stop: asyncio.Event, poll_s: float = 0.5, *, wake: Wakeup | None = None
    ) -> None:
        """Dispatch until `stop` is set; `wake` (set by the worker) ends a pause early.

        Each round fans out what the outbox holds, then tops up every subscription's lane:
        up to `concurrency` runners of a subscription, each sending its due deliveries one
        after another, so a slow or failing receiver holds only its own lane. Between rounds
        (`ROUND_GAP_S` apart at the most often) it pauses until the next delivery falls due,
        at most `poll_s`, unless woken: by the worker, a delivery to be retried or a lane freed.
        """
        wake = wake or Wakeup()
        lanes: dict[str, set[asyncio.Task[None]]] = {}
        async with self.session() as session:
            try:
                while not stop.is_set():
                    wake.clear()
                    started = time.monotonic()
                    try:
                        pause_s = await self._dispatch_round(session, lanes, wake, poll_s)
                    except LRSError as error:
                        log.warning("webhook dispatch failed, retrying: %s", error.message)
                        pause_s = poll_s
                    except Exception:  # a bug must not stop delivery silently: log, go on
                        log.exception("webhook dispatch failed unexpectedly, retrying")
                        pause_s = poll_s
                    await wake.wait(stop, pause_s)
                    await pause(stop, ROUND_GAP_S - (time.monotonic() - started))
            finally:
                await _cancel_all(lanes)

    async def _dispatch_round(
        self,
        session: aiohttp.ClientSession,
        lanes: dict[str, set[asyncio.Task[None]]],
        wake: Wakeup,
        poll_s: float,
    ) -> float:
        """Fan out, then start due deliveries in every lane with room; the pause to take."""
        fanned = await self.fan_out_once(self._fan_out_page)
        now = self._clock()
        next_due = now + int(poll_s * 1_000_000)
        for subscription in await self._deliveries.list_subscriptions():
            lane = lanes.setdefault(subscription.id, set())
            room = self._concurrency - len(lane)
            due = await self._deliveries.next_due_us(subscription.id) if room > 0 else None
            if due is None:
                continue
            if due > now:
                next_due = min(next_due, due)
                continue
            for delivery in await self._deliveries.claim_deliveries(
                self.owner, now, self._lease_us, room, subscription_id=subscription.id
            ):
                task = asyncio.create_task(self._run_lane(session, subscription, delivery, wake))
                lane.add(task)
                task.add_done_callback(functools.partial(_runner_done, lane, wake))
        if fanned >= self._fan_out_page:
            return 0.0  # more in the outbox
        return max(0.0, (next_due - now) / 1_000_000)

    async def _run_lane(
        self,
        session: aiohttp.ClientSession,
        subscription: Subscription,
        delivery: Delivery,
        wake: Wakeup,
    ) -> None:
        """One of a lane's runners: send this delivery, then the subscription's next due ones,
        a few claimed at once (`lane_claim_size`), one after another, while some are due.

        A delivery's outcome is recorded while the next is sent, and the last outcomes of a
        claim with the next claim (on SQLite, in one group commit): the claim cannot take a
        delivery sent (leased, or due later) and is queued after those outcomes. Why: while a
        burst of POSTs and the worker kept the writer busy, each store round took 60-120 ms,
        and a runner that waited for two of them (then one) per delivery sent about ten
        deliveries a second. Still one request in flight per runner."""
        claimed = [delivery]
        recording: list[asyncio.Future[None]] = []
        try:
            while claimed:
                for delivery in claimed:
                    outcome = await self._attempt(session, delivery, subscription)
                    recording.append(
                        asyncio.ensure_future(self._finish_lane(delivery, outcome, wake))
                    )
                steps = [self._claim_next(subscription), *recording]
                recording = []
                claimed = (await together(*steps))[0]
        finally:  # a failure or a cancellation: no outcome is left being recorded
            for step in recording:
                step.cancel()
            await asyncio.gather(*recording, return_exceptions=True)

    async def _finish_lane(self, delivery: Delivery, outcome: _Outcome, wake: Wakeup) -> None:
        await self._finish(delivery, *outcome)
        if outcome.state == PENDING:
            wake.set()  # a retry: the dispatcher's pause must end when it falls due

    async def _claim_next(self, subscription: Subscription) -> list[Delivery]:
        """A lane's next due deliveries, leased."""
        return await self._deliveries.claim_deliveries(
            self.owner,
            self._clock(),
            self._lease_us,
            self._lane_claim,
            subscription_id=subscription.id,
        )

    async def _deliver(
        self,
        session: aiohttp.ClientSession,
        delivery: Delivery,
        subscription: Subscription | None,
    ) -> bool:
        """Send one delivery and record its outcome; whether it is to be retried."""
        outcome = await self._attempt(session, delivery, subscription)
        await self._finish(delivery, *outcome)
        return outcome.state == PENDING

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        delivery: Delivery,
        subscription: Subscription | None,
    ) -> _Outcome:
        """Send one delivery (unless it can no longer be sent); its outcome, not yet recorded."""
        attempts = delivery.attempts + 1
        if subscription is None:
            return _Outcome(DEAD, attempts, "the subscription was deleted")
        refused = self.target_refusal(subscription)  # the policy may have changed
        if refused is not None:
            return _Outcome(DEAD, attempts, f"target refused: {refused}")
        now_s = self._clock() / 1_000_000
        body = body_for(delivery.body, view_of(subscription.scopes))
        event_type = orjson.loads(body).get("type", "") if body else ""
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: event_type,
            SIGNATURE_HEADER: sign(self.secret_for(subscription), int(now_s), body),
            "User-Agent": "lrs-marketplace-webhooks/1",
        }
        retry_after = None
        try:
            timeout = aiohttp.ClientTimeout(total=self._timeout_s)
            async with session.post(
                subscription.url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,  # a redirect could lead past the target policy
            ) as response:
                await read_capped(response)
                if 200 <= response.status < 300:
                    return _Outcome(DELIVERED, attempts, None)
                error = f"HTTP {response.status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now_s)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        if attempts >= self._max_attempts:
            log.warning("webhook %s is a dead letter after %d attempts", delivery.id, attempts)
            return _Outcome(DEAD, attempts, error)
        delay_us = math.ceil(backoff_s(attempts, retry_after) * 1_000_000)
        return _Outcome(PENDING, attempts, error, self._clock() + delay_us)

    async def _finish(
        self, delivery: Delivery, state: str, attempts: int, error: str | None, at: int = 0
    ) -> None:
        recorded = await self._deliveries.finish_delivery(
            delivery.id,
            self.owner,
            state=state,
            attempts=attempts,
            next_at_us=at or self._clock(),
            error=error,
        )
        if recorded and self._outcomes is not None:
            await self._outcomes.note(delivery, state, self._clock())


class _Outcome(NamedTuple):
    """An attempt's outcome as `_finish` records it (`at`: when a retry falls due)."""

    state: str
    attempts: int
    error: str | None
    at: int = 0


def _runner_done(lane: set[asyncio.Task[None]], wake: Wakeup, task: asyncio.Task[None]) -> None:
    """A lane's runner ended: free its place and call the dispatcher back.

    A round that found the lane full could not look up its next due delivery (a retry the
    runner just scheduled, say) and may have paused for a whole poll: the next round must
    look again now that the lane has room.
    """
    lane.discard(task)
    wake.set()
    if not task.cancelled() and (error := task.exception()) is not None:
        # the outcome of its delivery was not recorded: the lease expires, it is sent again
        log.warning("webhook delivery failed before its outcome was recorded: %r", error)


async def _cancel_all(lanes: dict[str, set[asyncio.Task[None]]]) -> None:
    """Stop every delivery in flight (their leases expire; another round sends them again)."""
    tasks = [task for lane in lanes.values() for task in lane]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task
