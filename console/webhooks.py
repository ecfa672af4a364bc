"""What the webhooks page shows and does, as plain functions of the projection's services.

The page lists every subscription with its delivery counts and latest deliveries, the dead
letters (of one subscription or all) to redeliver, and forms to subscribe and to delete. It
goes through the same code as the marketplace API and `lrs webhooks`: `WebhookService.subscribe`
(URL scheme, target policy, event types, scopes) and `DeliveryStore.redeliver`.

A delivery's status code and latency are read from what the store keeps: a delivered one got a
2xx (the exact code is not kept), a failed attempt's error is `HTTP <code>` or the connection
error; the latency, from the event's `source_stored_at` to the recorded 2xx, is what
`/metrics` measures (`projections.delivery_metrics`), shown only for events that carry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from console.forms import ticked, ticked_ids
from lrs.errors import BadRequest
from projections.delivery_metrics import source_stored_us
from projections.store.base import DEAD, DELIVERED, Delivery, DeliveryStore, Subscription
from projections.webhooks import WebhookService, wall_clock_us

RECENT = 10  # latest deliveries shown per subscription
DEAD_SHOWN = 200  # dead letters listed at a time
MAX_TICKED = 1000


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as a line of the page."""

    id: str
    event_id: str
    event_type: str
    subscription_id: str
    state: str
    when: str
    status: str
    attempts: int
    latency: str
    error: str


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription, its counts by state and its latest deliveries."""

    subscription: Subscription
    counts: dict[str, int]
    recent: list[DeliveryRow]
    refused: str | None  # why the target policy refuses its URL now; None: active


def _utc(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _state(delivery: Delivery) -> str:
    if delivery.state in (DELIVERED, DEAD):
        return delivery.state
    return "retrying" if delivery.attempts else "queued"


def status_of(delivery: Delivery) -> str:
    """The last attempt's HTTP status as far as it is kept: `2xx`, `503`, or `-` (no answer
    or not tried)."""
    if delivery.state == DELIVERED:
        return "2xx"
    error = delivery.last_error or ""
    code = error.removeprefix("HTTP ")
    return code if error.startswith("HTTP ") and code.isdigit() else "-"


def latency_of(delivery: Delivery) -> str:
    """Seconds from the event's first stored statement to its 2xx (`-` when not known)."""
    happened = source_stored_us(delivery.body) if delivery.state == DELIVERED else None
    if happened is None:
        return "-"
    return f"{max(0, delivery.next_at_us - happened) / 1e6:.2f} s"


def delivery_row(delivery: Delivery) -> DeliveryRow:
    """A delivery for the page: when (last outcome, or due), event, status, latency."""
    try:
        kind = orjson.loads(delivery.body).get("type", "") if delivery.body else ""
    except (orjson.JSONDecodeError, AttributeError):
        kind = ""
    return DeliveryRow(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=str(kind),
        subscription_id=delivery.subscription_id,
        state=_state(delivery),
        when=_utc(delivery.next_at_us),
        status=status_of(delivery),
        attempts=delivery.attempts,
        latency=latency_of(delivery),
        error="" if delivery.state == DELIVERED else delivery.last_error or "",
    )


async def subscription_views(
    deliveries: DeliveryStore, service: WebhookService
) -> list[SubscriptionView]:
    """Every subscription with its counts, its latest `RECENT` deliveries and whether the
    target policy lets it receive (a policy made stricter after it subscribed may not)."""
    return [
        SubscriptionView(
            sub,
            await deliveries.subscription_counts(sub.id),
            [delivery_row(d) for d in await deliveries.recent_deliveries(sub.id, RECENT)],
            service.target_refusal(sub),
        )
        for sub in await deliveries.list_subscriptions()
    ]


async def dead_rows(deliveries: DeliveryStore, subscription_id: str | None) -> list[DeliveryRow]:
    """Dead letters, oldest first (one subscription's, or every one's)."""
    dead = await deliveries.dead_letters(DEAD_SHOWN, subscription_id=subscription_id)
    return [delivery_row(d) for d in dead]


def _words(text: str) -> list[str]:
    """Values typed separated by spaces (IRIs may hold commas, never spaces)."""
    return text.split()


async def subscribe(webhooks: WebhookService, form: Mapping[str, Any]) -> tuple[Subscription, str]:
    """A subscription from the form, checked as the API checks it; its secret (shown once)."""
    url = str(form.get("url", "")).strip()
    if not url:
        raise BadRequest("a subscription needs a url", field="url")
    return await webhooks.subscribe(
        url,
        event_types=ticked(form, "event_types"),
        verbs=_words(str(form.get("verbs", ""))),
        activities=_words(str(form.get("activities", ""))),
        members=_words(str(form.get("members", ""))),
        scopes=ticked(form, "scopes"),
    )


def redeliver_ids(form: Mapping[str, Any]) -> list[str]:
    """The dead letters ticked (at least one)."""
    return ticked_ids(form, "dead letter", MAX_TICKED)


async def redeliver(deliveries: DeliveryStore, ids: list[str]) -> int:
    """Queue these dead letters again from attempt 0 (as `lrs webhooks redeliver`)."""
    return await deliveries.redeliver(ids, wall_clock_us())
