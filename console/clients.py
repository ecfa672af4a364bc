"""What the marketplace-clients page shows and does, as plain functions of the projection.

The same operations as `lrs marketplace clients create|list|revoke|rotate-secret`, through
`projections.tokens.TokenService`, which hashes each secret (a new one exists in clear only in
the answer to create / rotate, shown once) and audits each change (`client.created`,
`client.revoked`, `client.secret_rotated`) with the operator as its actor.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.accounts import actor_of
from console.forms import ticked
from lrs.errors import BadRequest, NotFound
from projections.cli_clients import grace_seconds
from projections.service import Projection
from projections.store.base import ApiClient
from projections.tokens import NewClient, RotatedSecret
from projections.transforms import format_datetime
from projections.webhooks import wall_clock_us

MAX_NAME = 100
MAX_RATE = 1_000_000
GRACES = ("0", "1h", "24h", "7d")  # offered on the page; any `grace_seconds` text is taken


@dataclass(frozen=True)
class ClientRow:
    """A client as a line of the page (never a secret nor its hash)."""

    client_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: str
    rate_limit: str
    state: str
    previous_until: str | None  # while a rotated-out secret still works


def client_row(client: ApiClient, default_rate: int, now_us: int) -> ClientRow:
    """A client for the page: its rate limit (or the default) and its state."""
    live = [p.until_us for p in client.previous_secrets if p.until_us > now_us]
    rate = (
        f"{client.rate_limit_per_min}/min"
        if client.rate_limit_per_min
        else f"{default_rate}/min (default)"
    )
    return ClientRow(
        client.client_id,
        client.name,
        client.scopes,
        client.created_at,
        rate,
        "revoked" if client.revoked else "active",
        format_datetime(max(live)) if live and not client.revoked else None,
    )


async def client_rows(projection: Projection) -> list[ClientRow]:
    """Every client, active ones first, then by name."""
    clients = await projection.stores.access.list_clients()
    now, default = wall_clock_us(), projection.settings.rate_limit_per_min
    rows = [client_row(c, default, now) for c in clients]
    return sorted(rows, key=lambda r: (r.state != "active", r.name.lower(), r.client_id))


def _rate_limit(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_RATE:
        raise BadRequest(f"rate limit: requests per minute, 1 to {MAX_RATE}", field="rate_limit")
    return int(text)


async def create(projection: Projection, form: Mapping[str, Any], operator: str) -> NewClient:
    """A new client from the form (name, scopes ticked, rate limit); its secret, once."""
    name = str(form.get("name", "")).strip()
    if not name or len(name) > MAX_NAME:
        raise BadRequest(f"a client needs a name of 1 to {MAX_NAME} characters", field="name")
    rate = _rate_limit(str(form.get("rate_limit", "")).strip())
    return await projection.tokens.create_client(
        name, ticked(form, "scopes"), rate_limit=rate, actor=actor_of(operator)
    )


async def revoke(projection: Projection, client_id: str, operator: str) -> None:
    """Revoke a client and every token it holds (404 when unknown or revoked already: the
    store's revoke answers yes to a revoked one, and the audit log would say it twice)."""
    found = await projection.stores.access.get_client(client_id)
    if found is None or found.revoked:
        raise NotFound(f"no live client {client_id}")
    if not await projection.tokens.revoke_client(client_id, actor=actor_of(operator)):
        raise NotFound(f"no live client {client_id}")


def parse_grace(text: str) -> int:
    """The grace period typed or chosen (`24h`, `90m`, `7d`, `0`) in seconds."""
    try:
        return grace_seconds(text.strip() or "24h")
    except argparse.ArgumentTypeError as exc:
        raise BadRequest(f"grace: {exc}", field="grace") from None


async def rotate(
    projection: Projection, client_id: str, form: Mapping[str, Any], operator: str
) -> RotatedSecret:
    """A new secret for a live client; the old one works for the grace period chosen."""
    grace = parse_grace(str(form.get("grace", "")))
    rotated = await projection.tokens.rotate_secret(
        client_id, grace_s=grace, actor=actor_of(operator)
    )
    if rotated is None:
        raise NotFound(f"no live client {client_id}")
    return rotated
