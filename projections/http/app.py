"""The marketplace projection in the LRS app: routes, and the projection opened with the app.

`setup(app)` is listed in `lrs.app.PACKAGE_SETUPS`. It refuses to start on an invalid mapping
(the process exits with a message naming the row), adds the routes below and a cleanup
context that wires the projection on the app's backend and, when `lrs serve --with-worker`
(or `LRS_WITH_WORKER=1`) asked for it, runs the projection worker and the webhook dispatcher
in this process until shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from lrs.keys import backend_key, settings_key
from projections import api, api_webhooks
from projections.facts import Projector
from projections.keys import projection_key, projection_settings_key
from projections.service import open_projection
from projections.settings import ProjectionSettings
from projections.transforms import MappingError

PREFIX = "/marketplace/v1"

ROUTES = (
    ("POST", f"{PREFIX}/oauth/token", api.token),
    ("POST", f"{PREFIX}/oauth/revoke", api.revoke),
    ("GET", f"{PREFIX}/members/{{member_id}}/learning", api.member_learning),
    ("GET", f"{PREFIX}/members/{{member_id}}/summary", api.member_summary),
    ("POST", f"{PREFIX}/members/{{member_id}}/badges", api.award_badge),
    ("GET", f"{PREFIX}/aggregates", api.aggregates),
    ("GET", f"{PREFIX}/export", api.export),
    ("GET", f"{PREFIX}/status", api.status),
    ("GET", f"{PREFIX}/webhooks", api_webhooks.list_webhooks),
    ("POST", f"{PREFIX}/webhooks", api_webhooks.create_webhook),
    ("DELETE", f"{PREFIX}/webhooks/{{subscription_id}}", api_webhooks.delete_webhook),
    ("GET", f"{PREFIX}/webhooks/dead-letters", api_webhooks.dead_letters),
    ("POST", f"{PREFIX}/webhooks/dead-letters/redeliver", api_webhooks.redeliver),
    ("GET", "/metrics", api.metrics),
)


def checked_settings() -> ProjectionSettings:
    """The settings from the environment, with the mapping they name checked."""
    settings = ProjectionSettings.from_env()
    try:
        Projector.from_settings(settings)
    except MappingError as exc:
        raise SystemExit(f"the marketplace mapping is invalid: {exc}") from exc
    return settings


def setup(app: web.Application) -> None:
    """Add the marketplace routes and open the projection with the app."""
    app[projection_settings_key] = checked_settings()
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.cleanup_ctx.append(_projection_ctx)


async def _projection_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    projection_settings = app[projection_settings_key]
    projection = await open_projection(app[backend_key], settings, projection_settings)
    app[projection_key] = projection
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if getattr(settings, "with_worker", False):
        poll = projection_settings.worker_poll_s
        tasks = [
            asyncio.create_task(projection.worker.run(stop, poll), name="projection-worker"),
            asyncio.create_task(projection.webhooks.run(stop, poll), name="webhook-dispatcher"),
        ]
    yield
    stop.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
