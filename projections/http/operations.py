"""Operations: projection lag and webhook backlog, as JSON (`admin`) and as Prometheus text."""

from __future__ import annotations

from aiohttp import web

from projections.http.envelope import ok, protected
from projections.metrics import render_metrics
from projections.service import Projection
from projections.tokens import TokenClaims


@protected("admin")
async def status(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /status: projection lag and webhook backlog."""
    return ok(await projection.status())


async def metrics(request: web.Request, projection: Projection) -> web.StreamResponse:
    """GET /metrics: the same figures in the Prometheus text format."""
    return web.Response(
        text=render_metrics(await projection.status()),
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
