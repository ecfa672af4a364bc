"""The marketplace sub-application: its routes, its error middleware, and the projection.

`create_marketplace_app(settings)` refuses an invalid mapping (a ConfigError naming the row)
and builds the app the root mounts at `PREFIX`. The root hands it the core services under the
`lrs.keys` keys, then runs `marketplace_services(app)`, which opens the projection on the
backend and, when `lrs serve --with-worker` (or `LRS_WITH_WORKER=1`) asked for it, runs the
projection worker, the webhook dispatcher and the hourly OAuth housekeeping (and, with
`LRS_RETENTION_DAILY=1`, the daily retention run; with `LRS_RECONCILE_DAILY=1`, the daily
reconcile) in this process until shutdown: statements the statement service commits wake the
worker, and applied ones the dispatcher, at once. `/metrics` is served by the root app:
`metrics_route(app)` is its route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from lrs.errors import ConfigError
from lrs.keys import backend_key, settings_key, statement_service_key
from lrs.middlewares import error_middleware
from projections.facts import Projector
from projections.http import (
    PREFIX,
    audit,
    erasure,
    identities,
    identity_merges,
    members,
    oauth,
    oauth_delegated,
    operations,
    quality,
    reconcile,
    records,
    webhooks,
)
from projections.http.envelope import public
from projections.keys import projection_key, projection_settings_key
from projections.oauth_housekeeping import OAuthHousekeeping
from projections.reconcile_runs import DailyReconcile
from projections.retention import DailyRetention
from projections.service import Projection, open_projection
from projections.settings import ProjectionSettings
from projections.transforms import MappingError
from projections.wakeup import Wakeup

__all__ = ["PREFIX", "create_marketplace_app", "marketplace_services", "metrics_route"]

V1 = f"{PREFIX}/v1"

# (method, path as served, handler): the sub-app registers each path without PREFIX.
ROUTES = (
    ("POST", f"{V1}/oauth/token", oauth.token),
    ("POST", f"{V1}/oauth/revoke", oauth.revoke),
    ("POST", f"{V1}/oauth/introspect", oauth.introspect),
    ("GET", f"{V1}/oauth/authorize", oauth_delegated.authorize),
    ("GET", f"{V1}/members/{{member_id}}/learning", members.member_learning),
    ("GET", f"{V1}/members/{{member_id}}/summary", members.member_summary),
    ("POST", f"{V1}/members/{{member_id}}/badges", members.award_badge),
    ("DELETE", f"{V1}/members/{{member_id}}", erasure.erase_member),
    ("GET", f"{V1}/aggregates", records.aggregates),
    ("GET", f"{V1}/export", records.export),
    ("GET", f"{V1}/status", operations.status),
    ("GET", f"{V1}/webhooks", webhooks.list_webhooks),
    ("POST", f"{V1}/webhooks", webhooks.create_webhook),
    ("DELETE", f"{V1}/webhooks/{{subscription_id}}", webhooks.delete_webhook),
    ("GET", f"{V1}/webhooks/dead-letters", webhooks.dead_letters),
    ("POST", f"{V1}/webhooks/dead-letters/redeliver", webhooks.redeliver),
    ("GET", f"{V1}/admin/audit", audit.audit_log),
    ("GET", f"{V1}/identities/conflicts", identities.list_conflicts),
    ("POST", f"{V1}/identities/conflicts/resolve", identities.resolve_conflict),
    ("GET", f"{V1}/identities/unmatched", identities.unmatched),
    ("GET", f"{V1}/quality", quality.quality),
    ("POST", f"{V1}/identities/merges", identity_merges.merge),
    ("POST", f"{V1}/identities/merges/{{seq}}/undo", identity_merges.unmerge),
    ("GET", f"{V1}/reconcile/runs", reconcile.runs),
)

# Any id but `dead-letters`: that path is a resource of its own (GET only), and its 405 would
# otherwise also allow DELETE, the subscription route matching it too.
SUBSCRIPTION_ID = "{subscription_id:(?!dead-letters$)[^/]+}"


def check_mapping(settings: ProjectionSettings) -> None:
    """Refuse to start on a mapping or verb table the projector cannot use."""
    try:
        Projector.from_settings(settings)
    except MappingError as exc:
        raise ConfigError(f"the marketplace mapping is invalid: {exc}") from exc


def create_marketplace_app(settings: ProjectionSettings) -> web.Application:
    """The marketplace routes; handlers answer in the API's envelope, the rest as the LRS does."""
    check_mapping(settings)
    app = web.Application(middlewares=[error_middleware])
    app[projection_settings_key] = settings
    for method, path, handler in ROUTES:
        path = path.replace("{subscription_id}", SUBSCRIPTION_ID)
        app.router.add_route(method, path.removeprefix(PREFIX), handler)
    return app


def metrics_route(marketplace: web.Application) -> web.RouteDef:
    """GET /metrics for the root app, on the marketplace app's projection."""
    return web.get("/metrics", public(marketplace, operations.metrics), allow_head=False)


async def marketplace_services(app: web.Application) -> AsyncIterator[None]:
    """Open the projection on the core services the root set on `app`; run the worker if asked."""
    settings = app[settings_key]
    projection_settings = app[projection_settings_key]
    projection = await open_projection(app[backend_key], settings, projection_settings)
    app[projection_key] = projection
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    statements = app[statement_service_key]
    worker_wake, dispatcher_wake = Wakeup(), Wakeup()
    if settings.with_worker:
        statements.add_listener(worker_wake.set)  # new statements wake the worker at once
        tasks = start_projection(projection, stop, worker_wake, dispatcher_wake)
    else:  # no worker here to run it hourly: one pass as the server starts
        await OAuthHousekeeping(projection.grants, projection.projector.clock).run_once()
    yield
    statements.remove_listener(worker_wake.set)
    stop.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def start_projection(
    projection: Projection, stop: asyncio.Event, worker_wake: Wakeup, dispatcher_wake: Wakeup
) -> list[asyncio.Task[None]]:
    """The worker and the dispatcher as tasks; the worker wakes the dispatcher when it applies."""
    poll = projection.settings.worker_poll_s
    worker = projection.worker.run(stop, poll, wake=worker_wake, on_applied=dispatcher_wake.set)
    dispatcher = projection.webhooks.run(stop, poll, wake=dispatcher_wake)
    housekeeping = OAuthHousekeeping(projection.grants, projection.projector.clock).run(stop)
    tasks = [
        asyncio.create_task(worker, name="projection-worker"),
        asyncio.create_task(dispatcher, name="webhook-dispatcher"),
        asyncio.create_task(housekeeping, name="oauth-housekeeping"),
    ]
    if projection.settings.retention_daily:  # LRS_RETENTION_DAILY
        daily = DailyRetention(projection.retention, projection.projector.clock)
        tasks.append(asyncio.create_task(daily.run(stop), name="retention-daily"))
    if projection.settings.reconcile_daily:  # LRS_RECONCILE_DAILY
        reconcile = DailyReconcile(projection.reconcile_runs, projection.projector.clock)
        tasks.append(asyncio.create_task(reconcile.run(stop), name="reconcile-daily"))
    return tasks
