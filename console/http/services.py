"""What the console's handlers ask of the app: the marketplace projection, and the audit of a
change made by the signed-in operator."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.http.auth import signed
from console.keys import accounts_key, projection_app_key
from projections.keys import projection_key
from projections.service import Projection


def projection(request: web.Request) -> Projection:
    """The projection the marketplace sub-app wired (its stores and services)."""
    return request.app[projection_app_key][projection_key]


async def audit(request: web.Request, kind: str, subject: str, details: dict[str, Any]) -> None:
    """Record a change the signed-in operator made (never a secret in `details`)."""
    who = signed(request).operator.name
    await request.app[accounts_key].audit_change(kind, who, subject, details)
