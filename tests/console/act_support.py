"""What the tests of the console's "act" pages share: the app's projection, its audit entries,
and dead letters made through the delivery store."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from lrs.auth import create_credential
from lrs.keys import marketplace_app_key
from projections.identity_rows import IdentityRow
from projections.keys import projection_key
from projections.service import Projection
from projections.store.base import DEAD, OutboxEvent, Subscription
from tests.console.conftest import Console


def market(console: Console) -> Projection:
    """The projection the app wired (its stores, services and audit log)."""
    return console.http.app[marketplace_app_key][projection_key]


async def audited(console: Console, kind: str) -> list[Any]:
    """The audit entries of one type, oldest first."""
    entries = await market(console).stores.audit.newest(limit=200)
    return [e for e in reversed(entries) if e.type == kind]


async def dead_letters(console: Console, subscription_id: str, *numbers: int) -> list[str]:
    """A subscription (made unless it exists) and one dead letter per number; their ids."""
    deliveries = market(console).stores.deliveries
    if await deliveries.get_subscription(subscription_id) is None:
        url = f"https://{subscription_id}.example.com/hook"
        await deliveries.add_subscription(
            Subscription(subscription_id, url, secret_salt="s", created_at="2026-01-01")
        )
    events = [
        OutboxEvent(
            f"evt_{subscription_id}_{n}",
            "learning.updated",
            "E1",
            f"A{n}",
            n,
            orjson.dumps({"type": "learning.updated", "n": n}),
        )
        for n in numbers
    ]
    await deliveries.add_replays(events, subscription_id, now_us=0)
    claimed = await deliveries.claim_deliveries(
        "test", 0, 1, len(numbers), subscription_id=subscription_id
    )
    for delivery in claimed:
        assert await deliveries.finish_delivery(
            delivery.id, "test", state=DEAD, attempts=8, next_at_us=5, error="HTTP 503"
        )
    return [d.id for d in claimed]


async def post_statements(console: Console, statements: list[dict[str, Any]]) -> list[str]:
    """Statements through the xAPI API with a credential made for it; their ids."""
    new = await create_credential(console.backend.credentials, "lms", ["all"])
    auth = base64.b64encode(f"{new.credential.key}:{new.secret}".encode()).decode()
    response = await console.http.post(
        "/xapi/statements",
        json=statements,
        headers={"Authorization": f"Basic {auth}", "X-Experience-API-Version": "1.0.3"},
    )
    assert response.status == 200, await response.text()
    ids: list[str] = await response.json()
    return ids


async def import_members(console: Console, *rows: tuple[str, str]) -> None:
    """HRIS rows (employee id, email) applied as `lrs identities import` applies them."""
    service = market(console).identities
    parsed = [IdentityRow(n, m, {"email": e}) for n, (m, e) in enumerate(rows, start=2)]
    await service.apply(await service.plan(parsed, full=False, present=set(), max_share=1))
