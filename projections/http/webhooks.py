"""Webhook subscription and dead-letter handlers of the marketplace API (scope `admin`)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from lrs.errors import BadRequest, NotFound
from projections.http.envelope import ok, protected
from projections.service import Projection
from projections.store.base import Delivery, Subscription
from projections.tokens import TokenClaims
from projections.webhooks import wall_clock_us


def subscription_json(subscription: Subscription) -> dict[str, Any]:
    """A subscription as the API shows it (never its secret)."""
    return {
        "id": subscription.id,
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "verbs": list(subscription.verbs),
        "activities": list(subscription.activities),
        "members": list(subscription.members),
        "scopes": list(subscription.scopes),
        "created_at": subscription.created_at,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A dead letter as the API and the CLI show it."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "subscription_id": delivery.subscription_id,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "event": orjson.loads(delivery.body) if delivery.body else None,
    }


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be an array of strings", field=name)
    return value


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body, which must be a JSON object (empty: `{}`)."""
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


@protected("admin")
async def create_webhook(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /webhooks: subscribe; the signing secret is in this response only."""
    body = await json_object(request)
    url = body.get("url")
    if not isinstance(url, str):
        raise BadRequest("url is required", field="url")
    subscription, secret = await projection.webhooks.subscribe(
        url,
        event_types=_strings(body, "event_types"),
        verbs=_strings(body, "verbs"),
        activities=_strings(body, "activities"),
        members=_strings(body, "members"),
        scopes=_strings(body, "scopes"),
    )
    return ok({**subscription_json(subscription), "secret": secret}, status=201)


@protected("admin")
async def list_webhooks(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /webhooks: every subscription."""
    subscriptions = await projection.stores.deliveries.list_subscriptions()
    return ok([subscription_json(s) for s in subscriptions], count=len(subscriptions))


@protected("admin")
async def delete_webhook(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """DELETE /webhooks/{subscription_id}."""
    subscription_id = request.match_info["subscription_id"]
    if not await projection.stores.deliveries.delete_subscription(subscription_id):
        raise NotFound(f"no subscription {subscription_id}")
    return web.Response(status=204)


@protected("admin")
async def dead_letters(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /webhooks/dead-letters: deliveries that gave up."""
    dead = await projection.stores.deliveries.dead_letters(1000)
    return ok([delivery_json(d) for d in dead], count=len(dead))


@protected("admin")
async def redeliver(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /webhooks/dead-letters/redeliver: `{"ids": [...]}` or `{"all": true}`."""
    body = await json_object(request)
    everything = body.get("all", False)
    if not isinstance(everything, bool):  # {"all": {}} was read as "not all"
        raise BadRequest("all must be true or false", field="all")
    ids = None if everything else _strings(body, "ids")
    count = await projection.stores.deliveries.redeliver(ids, wall_clock_us())
    return ok({"redelivered": count})
