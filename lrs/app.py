"""The composition root: the app built from a `Config`, with each package as a sub-application.

The xAPI routes, `/health` and `/metrics` sit on the root app (its outermost middleware times
every request for `/metrics`: `lrs.request_metrics`); LTI, SCORM, the marketplace, the HRIS
events and the operator console are sub-applications mounted at `/lti`, `/scorm`,
`/marketplace`, `/hris` and `/console`, each with its own error middleware and AppKeys (the
HRIS app and the console use the marketplace's projection). The root's middlewares (CORS,
preflights, the version header, JSON errors) run around every request, sub-applications'
included, and the request-size limit is the root's.
`create_app` reads nothing but its argument.

Lifetimes: the root's cleanup contexts open the core services (backend, statement process
pool, authenticator, statement and document services), set them on every sub-app under the
`lrs.keys` keys, then run each package's services context on its sub-app. The root runs those
contexts itself, rather than leaving them to the sub-apps' own `cleanup_ctx`, because aiohttp
closes a parent's cleanup contexts before its sub-apps' (the backend would close under a
running projection worker) and skips the sub-apps' on a failed start-up.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from console.http import app as console_http
from lrs.auth import Authenticator
from lrs.config import Config
from lrs.errors import ConfigError
from lrs.http import documents
from lrs.http.about import about_resource
from lrs.http.activities import activities_resource, agents_resource
from lrs.http.statements import PATH as STATEMENTS_PATH
from lrs.http.statements import statements_resource
from lrs.keyfile import load_or_create_key
from lrs.keys import (
    authenticator_key,
    backend_key,
    console_app_key,
    document_service_key,
    lti_app_key,
    marketplace_app_key,
    query_token_key,
    request_metrics_key,
    scorm_app_key,
    settings_key,
    statement_service_key,
)
from lrs.middlewares import (
    body_timeout_middleware,
    error_middleware,
    json_response,
    xapi_headers_middleware,
)
from lrs.request_metrics import RequestMetrics
from lrs.services.documents import DocumentService
from lrs.services.factory import statement_service
from lrs.services.statement_prep import start_worker, warm_up
from lrs.settings import Settings, authority_home_page
from lrs.store.base import Backend
from lrs.store.factory import open_backend
from lti.http import app as lti_http
from projections.http import app as marketplace_http
from projections.http import hris as hris_http
from scorm_adapter.http import app as scorm_http

log = logging.getLogger(__name__)

Services = Callable[[web.Application], AsyncIterator[None]]

# What the root sets on every sub-app once the backend is open.
_CORE_KEYS: tuple[web.AppKey[Any], ...] = (
    settings_key,
    backend_key,
    authenticator_key,
    statement_service_key,
    document_service_key,
)


def create_app(config: Config, *, backend: Backend | None = None) -> web.Application:
    """The LRS as an aiohttp application; `backend` lets tests hand in an opened store."""
    settings = config.core
    metrics = RequestMetrics()  # outermost: it sees the status every other middleware made
    app = web.Application(
        middlewares=[
            metrics.middleware,
            body_timeout_middleware,
            xapi_headers_middleware,
            error_middleware,
        ],
        client_max_size=settings.max_request_bytes,
    )
    app[settings_key] = settings
    app[request_metrics_key] = metrics
    _add_xapi_routes(app)
    app.router.add_get("/health", health)
    lti = lti_http.create_lti_app(config.lti)
    scorm = scorm_http.create_scorm_app(config.scorm)
    marketplace = marketplace_http.create_marketplace_app(config.projection)
    console = console_http.create_console_app(config.console, marketplace)
    app.router.add_routes([marketplace_http.metrics_route(marketplace)])
    app.cleanup_ctx.append(_core_ctx(backend, [lti, scorm, marketplace, console]))
    _mount(app, lti_http.PREFIX, lti_app_key, lti, lti_http.lti_services)
    _mount(app, scorm_http.PREFIX, scorm_app_key, scorm, scorm_http.scorm_services)
    _mount(
        app,
        marketplace_http.PREFIX,
        marketplace_app_key,
        marketplace,
        marketplace_http.marketplace_services,
    )
    app.add_subapp(hris_http.PREFIX, hris_http.create_hris_app())  # uses the marketplace's
    # after the marketplace: the console's services use the projection's audit log
    _mount(app, console_http.PREFIX, console_app_key, console, console_http.console_services)
    return app


def _mount(
    app: web.Application,
    prefix: str,
    key: web.AppKey[web.Application],
    sub: web.Application,
    services: Services,
) -> None:
    """Mount `sub` at `prefix`, and run its services context after the core's opened."""
    app[key] = sub
    app.add_subapp(prefix, sub)
    app.cleanup_ctx.append(_run_on(sub, services))


def _add_xapi_routes(app: web.Application) -> None:
    app.router.add_route("*", STATEMENTS_PATH, statements_resource)
    app.router.add_route("*", "/xapi/about", about_resource)
    app.router.add_route("*", "/xapi/activities", activities_resource)
    app.router.add_route("*", "/xapi/agents", agents_resource)
    app.router.add_route("*", documents.STATE_PATH, documents.state_resource)
    app.router.add_route("*", documents.ACTIVITY_PROFILE_PATH, documents.activity_profile_resource)
    app.router.add_route("*", documents.AGENT_PROFILE_PATH, documents.agent_profile_resource)


async def health(request: web.Request) -> web.StreamResponse:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


def _core_ctx(
    backend: Backend | None, subapps: list[web.Application]
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        opened = backend if backend is not None else await open_backend(app[settings_key])
        pool = _statement_pool(app[settings_key])
        _wire_services(app, opened, pool)
        for sub in subapps:
            for key in _CORE_KEYS:
                sub[key] = app[key]
        try:
            yield
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if backend is None:  # a backend handed in belongs to the caller
                await opened.close()

    return ctx


def _run_on(sub: web.Application, services: Services) -> Services:
    """A root cleanup context running a package's services context on its sub-app."""

    async def ctx(_root: web.Application) -> AsyncIterator[None]:
        async with asynccontextmanager(services)(sub):
            yield

    return ctx


def _wire_services(
    app: web.Application, backend: Backend, pool: ProcessPoolExecutor | None = None
) -> None:
    settings = app[settings_key]
    app[backend_key] = backend
    app[authenticator_key] = Authenticator(
        backend.credentials, authority_home_page=authority_home_page(settings)
    )
    app[statement_service_key] = statement_service(backend, settings, pool)
    app[document_service_key] = DocumentService(backend.documents)
    app[query_token_key] = load_query_token_key(settings)


QUERY_TOKEN_KEY_FILE = "query-token.key"
MIN_QUERY_TOKEN_KEY = 32


def load_query_token_key(settings: Settings) -> bytes:
    """The `more`-token key: LRS_QUERY_TOKEN_KEY, else a 0600 key file in the data directory.

    Every process serving one deployment needs the same key (a shared data directory does it;
    processes on several machines share LRS_QUERY_TOKEN_KEY).
    """
    if settings.query_token_key is not None:
        if len(settings.query_token_key) < MIN_QUERY_TOKEN_KEY:
            raise ConfigError(
                f"LRS_QUERY_TOKEN_KEY must be at least {MIN_QUERY_TOKEN_KEY} characters"
            )
        return settings.query_token_key.encode()
    path = settings.data_dir / QUERY_TOKEN_KEY_FILE
    return load_or_create_key(path, purpose="more-token signing key")


def _statement_pool(settings: Settings) -> ProcessPoolExecutor | None:
    """Processes for the CPU work of large statement batches (see `store_statements_json`)."""
    workers = settings.statement_workers
    if workers < 0:
        workers = os.cpu_count() or 1
    if workers < 1:
        return None
    # spawn, not fork: the app already runs threads (the SQLite writer)
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker
    )
    for _ in range(workers):
        pool.submit(warm_up)  # compile the schemas before the first request needs them
    return pool
