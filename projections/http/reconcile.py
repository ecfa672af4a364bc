"""GET /reconcile/runs: the recorded reconcile runs of a window and whether the drift
criterion (below 1% over 7 days) held (scope `admin`, like the identity admin API).

Query: `days` (1..366, 7 by default). The newest run's flagged cases come as
`latest_flagged`, so a reviewer sees what was left unfixed without the CLI.
"""

from __future__ import annotations

from aiohttp import web

from lrs.errors import BadRequest
from lrs.params import is_ascii_digits
from projections.http.envelope import ok, protected
from projections.service import Projection
from projections.tokens import TokenClaims

MAX_DAYS = 366


def days_param(request: web.Request) -> int:
    """The `days` query parameter: 1..MAX_DAYS, 7 when absent; else a 400."""
    raw = request.query.get("days", "7")
    if not is_ascii_digits(raw) or not 1 <= int(raw) <= MAX_DAYS:
        raise BadRequest(f"days must be 1..{MAX_DAYS}", parameter="days")
    return int(raw)


@protected("admin")
async def runs(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /reconcile/runs?days=: the window's runs, newest first, and the SLO verdict."""
    history = await projection.reconcile_runs.history(days_param(request))
    latest = await projection.reconcile_runs.latest()
    data = history.to_json()
    data["latest_flagged"] = list(latest.flagged) if latest is not None else []
    return ok(data, count=len(history.runs))
