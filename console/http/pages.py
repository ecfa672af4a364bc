"""The signed-in pages: dashboard, statement browser, xAPI credentials. Thin: parse, call a
`console.pages` function, render."""

from __future__ import annotations

import time

from aiohttp import web

from console import pages
from console.accounts import CAN_MANAGE
from console.charts import bar_chart
from console.explain import statement_effect
from console.http.auth import require, signed
from console.http.dashboard_charts import insight_charts
from console.http.render import render, see_other
from console.insights import seconds
from console.keys import accounts_key, projection_app_key
from lrs.auth import SCOPES, create_credential
from lrs.errors import BadRequest
from lrs.keys import authenticator_key, backend_key, query_token_key, statement_service_key
from lrs.xapi.query_token import decode_query, encode_query
from projections.keys import projection_key


async def dashboard(request: web.Request) -> web.StreamResponse:
    """GET /console/: stored statements, projection lag, webhook deliveries."""
    projection = request.app[projection_app_key][projection_key]
    data = await pages.dashboard(request.app[backend_key], projection, time.time_ns() // 1000)
    charts = {
        "hourly": bar_chart(data.hourly, chart_id="chart-hourly"),
        "daily": bar_chart(data.daily, chart_id="chart-daily"),
        **insight_charts(data),
    }
    context = {"data": data, "charts": charts, "seconds": seconds}
    return render(request, "dashboard.html", context)


async def statements(request: web.Request) -> web.StreamResponse:
    """GET /console/statements: filters, one page, a link to the next."""
    service = request.app[statement_service_key]
    key = request.config_dict[query_token_key]
    filters = {name: request.query.get(name, "") for name in pages.FILTERS}
    try:
        more = request.query.get("page")
        query = decode_query(more, key) if more else pages.statement_query(filters)
        rows, following = await pages.statement_rows(service, query)
    except BadRequest as exc:
        context: dict[str, object] = {"filters": filters, "rows": [], "error": exc.message}
        return render(request, "statements.html", context, status=400)
    next_page = encode_query(following, key) if following else None
    context = {"filters": filters, "rows": rows, "next_page": next_page}
    return render(request, "statements.html", context)


async def statement(request: web.Request) -> web.StreamResponse:
    """GET /console/statements/{id}: the JSON, the voided state, what it contributed."""
    service = request.app[statement_service_key]
    text, voided = await pages.statement_detail(service, request.match_info["id"])
    projection = request.app[projection_app_key][projection_key]
    statements = request.app[backend_key].statements
    effect = await statement_effect(projection, statements, request.match_info["id"])
    context = {
        "statement_id": request.match_info["id"],
        "json": text,
        "voided": voided,
        "effect": effect,
    }
    return render(request, "statement.html", context)


def _credentials_page(
    request: web.Request, context: dict[str, object], status: int = 200
) -> web.Response:
    return render(request, "credentials.html", {"scopes": SCOPES, **context}, status=status)


@require(*CAN_MANAGE)
async def credentials(request: web.Request) -> web.StreamResponse:
    """GET /console/credentials: every credential, never a secret."""
    listed = await request.app[backend_key].credentials.list_credentials()
    return _credentials_page(request, {"credentials": pages.credential_rows(listed)})


@require(*CAN_MANAGE)
async def create(request: web.Request) -> web.StreamResponse:
    """POST /console/credentials: the new key and its secret, shown this once."""
    form = await request.post()
    store = request.app[backend_key].credentials
    name = str(form.get("name", "")).strip()
    try:
        if not name:
            raise BadRequest("a credential needs a name")
        new = await create_credential(store, name, pages.credential_scopes(form))
    except BadRequest as exc:
        listed = pages.credential_rows(await store.list_credentials())
        return _credentials_page(request, {"credentials": listed, "error": exc.message}, 400)
    who = signed(request).operator.name
    details = {"name": name, "scopes": list(new.credential.scopes)}
    await request.app[accounts_key].audit_change(
        "console.credential_created", who, new.credential.key, details
    )
    listed = pages.credential_rows(await store.list_credentials())
    return _credentials_page(request, {"credentials": listed, "created": new})


@require(*CAN_MANAGE)
async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /console/credentials/{key}/revoke."""
    key = request.match_info["key"]
    if not await request.app[backend_key].credentials.revoke_credential(key):
        raise web.HTTPNotFound(text=f"no credential {key}")
    request.app[authenticator_key].forget(key)
    who = signed(request).operator.name
    await request.app[accounts_key].audit_change("console.credential_revoked", who, key, {})
    return see_other("/console/credentials")
