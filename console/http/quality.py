"""The quality-queue page: counts per reason with examples, one reason's items, an item, and
retry / dismiss on ticked items. Seen by every operator; acted on by operators and admins
(audited). Thin: parse, call a `console.quality` function, audit, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console import quality
from console.http.auth import require, signed
from console.http.render import render
from console.http.services import audit, projection
from console.roles import CAN_ACT
from lrs.errors import BadRequest
from projections.quality import REASONS, grouped


async def _page(
    request: web.Request, params: Any, status: int = 200, **context: Any
) -> web.Response:
    """The overview, or one reason's items (`reason`), in a state; an error is a 400 page."""
    store = projection(request).stores.quality
    page: dict[str, Any] = {
        "reasons": REASONS,
        "can_act": signed(request).operator.role in CAN_ACT,
        **context,
    }
    try:
        state = quality.parse_state(params.get("state"))
        reason = quality.parse_reason(params.get("reason"))
    except BadRequest as exc:
        page.update(state="open", reason=None, groups=[], error=exc.message)
        return render(request, "quality.html", page, status=400)
    page.update(state=state, reason=reason)
    if reason is None:
        groups = await grouped(store, state, examples=quality.EXAMPLES)
        page["groups"] = [
            {**g, "examples": [quality.shown(e) for e in g["examples"]]} for g in groups
        ]
    else:
        page["items"], page["next_after"] = await quality.items_page(
            store, state, reason, params.get("after") or None
        )
    return render(request, "quality.html", page, status=status)


async def quality_page(request: web.Request) -> web.StreamResponse:
    """GET /console/quality (`?state=`, `?reason=`, `?after=`)."""
    return await _page(request, request.query)


async def item_page(request: web.Request) -> web.StreamResponse:
    """GET /console/quality/items/{id}: one item, its value in full."""
    found = await quality.item(projection(request).stores.quality, request.match_info["id"])
    can_act = signed(request).operator.role in CAN_ACT
    return render(request, "quality_item.html", {"item": found, "can_act": can_act})


@require(*CAN_ACT)
async def retry(request: web.Request) -> web.StreamResponse:
    """POST /console/quality/retry: the ticked items' statements, projected again."""
    form = await request.post()
    try:
        ids = quality.ticked_items(form)
        done = await quality.retry_items(projection(request), ids)
    except BadRequest as exc:
        return await _page(request, form, 400, error=exc.message)
    details = {"ids": ids, "statements": done.statements, "resolved": done.resolved}
    await audit(request, "console.quality_retried", "quality", details)
    return await _page(request, form, notice=_retried(done))


@require(*CAN_ACT)
async def retry_reason(request: web.Request) -> web.StreamResponse:
    """POST /console/quality/retry-reason: every open item of the reason, projected again."""
    form = await request.post()
    try:
        done = await quality.retry_reason(projection(request), _text(form.get("reason")))
    except BadRequest as exc:
        return await _page(request, form, 400, error=exc.message)
    details = {"reason": form["reason"], "statements": done.statements, "resolved": done.resolved}
    await audit(request, "console.quality_retried", "quality", details)
    return await _page(request, form, notice=_retried(done))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _retried(done: quality.Retried) -> str:
    return (
        f"Projected {done.statements} statement(s) again: {done.resolved} item(s) resolved, "
        f"{done.open} open."
    )


@require(*CAN_ACT)
async def dismiss(request: web.Request) -> web.StreamResponse:
    """POST /console/quality/dismiss: the ticked items are fine as they are."""
    form = await request.post()
    store = projection(request).stores.quality
    try:
        ids = quality.ticked_items(form)
        count = await quality.dismiss_items(store, ids)
    except BadRequest as exc:
        return await _page(request, form, 400, error=exc.message)
    await audit(request, "console.quality_dismissed", "quality", {"ids": ids, "count": count})
    return await _page(request, form, notice=f"Dismissed {count} item(s).")
