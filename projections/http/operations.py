"""Operations: projection lag and webhook backlog, as JSON (`admin`) and as Prometheus text.

`/metrics` names members' counts, so it needs a credential: the scraper's bearer token
`LRS_METRICS_TOKEN` (compared in constant time), or a marketplace access token with the `admin`
scope (Prometheus's `oauth2` client credentials); `LRS_METRICS_PUBLIC=1` serves it to anyone
(behind a private network or a proxy that guards it). It holds the serving process's request
series (`lrs.request_metrics`) and the marketplace's, read from the store
(`projections.slo_metrics`).
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lrs.keys import request_metrics_key
from projections.http.envelope import bearer_token, ok, protected
from projections.service import Projection
from projections.slo_metrics import projection_metrics
from projections.tokens import TokenClaims


@protected("admin")
async def status(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /status: projection lag and webhook backlog."""
    return ok(await projection.status())


async def authorize_scrape(request: web.Request, projection: Projection) -> None:
    """Let the scrape through, or raise the 401 / 403 that says what is needed."""
    settings = projection.settings
    if settings.metrics_public:
        return
    token = bearer_token(request)
    expected = settings.metrics_token
    if expected is not None and hmac.compare_digest(token.encode(), expected.encode()):
        return
    claims = await projection.tokens.verify(token)
    claims.require("admin")


async def metrics(request: web.Request, projection: Projection) -> web.StreamResponse:
    """GET /metrics: this process's request series and the marketplace's, Prometheus text."""
    await authorize_scrape(request, projection)
    body = generate_latest(request.app[request_metrics_key].registry)
    body += await projection_metrics(projection)
    return web.Response(
        body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    )
