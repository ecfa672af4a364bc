"""What the quality-queue page shows and does, as plain functions of the projection.

The same views and actions as `GET /marketplace/v1/quality` and `lrs quality`
(`projections.quality`): counts per reason with a few examples, one reason's items a page at
a time, an item, and the two actions on ticked items: retry (project their statements again
with the mapping and identity map as they are now; items that map now are resolved) and
dismiss (the item is fine as it is and stays dismissed). An action names every unknown item
and changes nothing when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from console.forms import ticked_ids
from lrs.errors import BadRequest, NotFound
from projections.quality import (
    REASONS,
    dismiss,
    item_view,
    open_statement_ids,
    retry,
    statements_of_items,
)
from projections.service import Projection
from projections.store.quality import OPEN, STATES, QualityStore
from projections.webhooks import wall_clock_us

PAGE_SIZE = 50
EXAMPLES = 3
MAX_TICKED = 500


@dataclass(frozen=True)
class Retried:
    """What a retry did: statements projected again, items resolved, items still open."""

    statements: int
    resolved: int
    open: int


def parse_state(text: str | None) -> str:
    """The state asked for (open by default)."""
    state = text or OPEN
    if state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}", field="state")
    return state


def parse_reason(text: str | None) -> str | None:
    """A known reason, or None for the overview."""
    if not text:
        return None
    if text not in REASONS:
        raise BadRequest(f"reason must be one of {', '.join(REASONS)}", field="reason")
    return text


def shown(view: dict[str, Any]) -> dict[str, Any]:
    """An item view with its value as compact JSON text."""
    return {**view, "value_text": orjson.dumps(view["value"]).decode()}


async def items_page(
    store: QualityStore, state: str, reason: str, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One reason's items from `after` on, and the `after` of the next page (None: last)."""
    items = await store.list_items(state, reason=reason, limit=PAGE_SIZE, after=after)
    views = [shown(item_view(i)) for i in items]
    more = views[-1]["id"] if len(views) == PAGE_SIZE else None
    return views, more


async def item(store: QualityStore, item_id: str) -> dict[str, Any]:
    """One item (404 when unknown)."""
    found = await store.get_item(item_id)
    if found is None:
        raise NotFound(f"no quality item {item_id}")
    view = item_view(found)
    return {**view, "value_text": orjson.dumps(view["value"], option=orjson.OPT_INDENT_2).decode()}


def ticked_items(form: Mapping[str, Any]) -> list[str]:
    """The items ticked (at least one, at most `MAX_TICKED`)."""
    return ticked_ids(form, "item", MAX_TICKED)


async def _statements(store: QualityStore, item_ids: list[str]) -> list[str]:
    statement_ids, missing = await statements_of_items(store, item_ids)
    if missing:
        raise BadRequest(f"no quality item {', '.join(missing)}", field="ids")
    return statement_ids


async def retry_items(projection: Projection, item_ids: list[str]) -> Retried:
    """Project the items' statements again (as `lrs quality retry ID...`)."""
    return await _retry(projection, await _statements(projection.stores.quality, item_ids))


async def retry_reason(projection: Projection, reason: str | None) -> Retried:
    """Project the statements of every open item of a reason again (as `lrs quality retry
    --reason R`), after the mapping or the identity map was fixed."""
    known = parse_reason(reason)
    if known is None:
        raise BadRequest("name the reason whose open items to retry", field="reason")
    store = projection.stores.quality
    return await _retry(projection, await open_statement_ids(store, known))


async def _retry(projection: Projection, statement_ids: list[str]) -> Retried:
    store = projection.stores.quality
    before = sum((await store.reason_counts(OPEN)).values())
    remaining = await retry(store, projection.worker.reapply, statement_ids)
    await projection.stores.aggregates.publish_events()
    return Retried(len(statement_ids), max(0, before - remaining), remaining)


async def dismiss_items(store: QualityStore, item_ids: list[str]) -> int:
    """Mark the items dismissed (as `lrs quality dismiss ID...`); how many changed."""
    await _statements(store, item_ids)
    return await dismiss(store, item_ids, wall_clock_us())
