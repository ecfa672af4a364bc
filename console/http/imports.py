"""The import history page (`/console/imports`): thin, over `console.imports`. Every role may
read it (it names files and counts, and the rejected rows' reasons)."""

from __future__ import annotations

from aiohttp import web

from console import imports
from console.http.render import render
from console.keys import projection_app_key
from lrs.errors import BadRequest
from projections.keys import projection_key


async def history(request: web.Request) -> web.StreamResponse:
    """GET /console/imports?kind=: the newest import runs."""
    store = request.app[projection_app_key][projection_key].stores.import_runs
    kind = request.query.get("kind", "")
    context: dict[str, object] = {"kinds": imports.KINDS, "kind": kind}
    try:
        rows = await imports.import_rows(store, kind)
    except BadRequest as exc:
        failed = {**context, "rows": [], "error": exc.message}
        return render(request, "imports.html", failed, status=400)
    return render(request, "imports.html", {**context, "rows": rows})
