"""The webhooks page: subscriptions, their deliveries, dead letters to redeliver, subscribe and
delete. Seen by every operator; changed by operators and admins (audited). Thin: parse, call a
`console.webhooks` function, audit, render."""

from __future__ import annotations

from aiohttp import web

from console import webhooks
from console.http.auth import require, signed
from console.http.render import render, see_other
from console.http.services import audit, projection
from console.roles import CAN_ACT
from lrs.errors import BadRequest
from projections.scopes import SCOPES
from projections.webhooks import EVENT_TYPES


async def _page(request: web.Request, status: int = 200, **context: object) -> web.Response:
    market = projection(request)
    deliveries = market.stores.deliveries
    chosen = request.query.get("subscription") or None
    page = {
        "subscriptions": await webhooks.subscription_views(deliveries, market.webhooks),
        "dead": await webhooks.dead_rows(deliveries, chosen),
        "chosen": chosen,
        "dead_shown": webhooks.DEAD_SHOWN,
        "event_types": EVENT_TYPES,
        "scopes": SCOPES,
        "can_act": signed(request).operator.role in CAN_ACT,
        **context,
    }
    return render(request, "webhooks.html", page, status=status)


async def webhooks_page(request: web.Request) -> web.StreamResponse:
    """GET /console/webhooks (`?subscription=` narrows the dead letters to one)."""
    return await _page(request)


@require(*CAN_ACT)
async def subscribe(request: web.Request) -> web.StreamResponse:
    """POST /console/webhooks: a new subscription; its signing secret shown this once."""
    form = await request.post()
    try:
        subscription, secret = await webhooks.subscribe(projection(request).webhooks, form)
    except BadRequest as exc:
        return await _page(request, 400, error=exc.message)
    details = {
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "verbs": list(subscription.verbs),
        "activities": list(subscription.activities),
        "members": len(subscription.members),  # how many: employee ids stay out of the log
        "scopes": list(subscription.scopes),
    }
    await audit(request, "console.webhook_created", subscription.id, details)
    return await _page(request, created=subscription, secret=secret)


@require(*CAN_ACT)
async def delete(request: web.Request) -> web.StreamResponse:
    """POST /console/webhooks/{id}/delete: the subscription and its pending deliveries go."""
    subscription_id = request.match_info["id"]
    deliveries = projection(request).stores.deliveries
    found = await deliveries.get_subscription(subscription_id)
    if found is None or not await deliveries.delete_subscription(subscription_id):
        raise web.HTTPNotFound(text=f"no subscription {subscription_id}")
    await audit(request, "console.webhook_deleted", subscription_id, {"url": found.url})
    return see_other("/console/webhooks")


@require(*CAN_ACT)
async def redeliver(request: web.Request) -> web.StreamResponse:
    """POST /console/webhooks/redeliver: the ticked dead letters, queued again."""
    form = await request.post()
    try:
        ids = webhooks.redeliver_ids(form)
    except BadRequest as exc:
        return await _page(request, 400, error=exc.message)
    count = await webhooks.redeliver(projection(request).stores.deliveries, ids)
    details = {"ids": ids, "count": count}
    await audit(request, "console.dead_letters_redelivered", "webhooks", details)
    return await _page(request, redelivered=count)
