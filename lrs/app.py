"""The app factory: routes, middlewares, and the backend opened and closed with the app."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor

from aiohttp import web

from lrs.auth import Authenticator
from lrs.http import documents
from lrs.http.about import about_resource
from lrs.http.activities import activities_resource, agents_resource
from lrs.http.statements import PATH as STATEMENTS_PATH
from lrs.http.statements import statements_resource
from lrs.keys import (
    authenticator_key,
    backend_key,
    document_service_key,
    settings_key,
    statement_service_key,
)
from lrs.middlewares import error_middleware, json_response, xapi_headers_middleware
from lrs.services.documents import DocumentService
from lrs.services.statement_prep import start_worker, warm_up
from lrs.services.statements import StatementService
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.store.factory import open_backend

log = logging.getLogger(__name__)


def public_base_url(settings: Settings) -> str:
    """The URL clients reach this LRS at (configured, or the bound address)."""
    return (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def authority_home_page(settings: Settings) -> str:
    """The homePage of the account Agents the LRS puts in `authority`."""
    return settings.authority_home_page or public_base_url(settings)


def statement_service(
    backend: Backend, settings: Settings, pool: ProcessPoolExecutor | None = None
) -> StatementService:
    """The statement service on `backend` as the server configures it (importers use it too)."""
    return StatementService(
        backend.statements,
        backend.attachments,
        backend.activities,
        page_size=settings.statement_page_size,
        max_page_size=settings.max_statement_page_size,
        max_batch=settings.max_batch_size,
        max_attachment_bytes=settings.max_attachment_bytes,
        pool=pool,
    )


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


def _backend_ctx(backend: Backend | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        opened = backend if backend is not None else await open_backend(app[settings_key])
        pool = _statement_pool(app[settings_key])
        _wire_services(app, opened, pool)
        try:
            yield
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if backend is None:  # a backend handed in belongs to the caller
                await opened.close()

    return ctx


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


async def health(request: web.Request) -> web.StreamResponse:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


# Packages that add routes and services: each module has `setup(app)`, which adds its routes
# and appends a cleanup_ctx building its services from `app[backend_key]` (opened by then,
# since cleanup contexts run in order). One line per package.
PACKAGE_SETUPS: tuple[str, ...] = ("lti.http", "scorm_adapter.http", "projections.http")


def create_app(settings: Settings, *, backend: Backend | None = None) -> web.Application:
    """The LRS as an aiohttp application; `backend` lets tests hand in an opened store."""
    app = web.Application(
        middlewares=[xapi_headers_middleware, error_middleware],
        client_max_size=settings.max_request_bytes,
    )
    app[settings_key] = settings
    app.cleanup_ctx.append(_backend_ctx(backend))
    app.router.add_route("*", STATEMENTS_PATH, statements_resource)
    app.router.add_route("*", "/xapi/about", about_resource)
    app.router.add_route("*", "/xapi/activities", activities_resource)
    app.router.add_route("*", "/xapi/agents", agents_resource)
    app.router.add_route("*", documents.STATE_PATH, documents.state_resource)
    app.router.add_route("*", documents.ACTIVITY_PROFILE_PATH, documents.activity_profile_resource)
    app.router.add_route("*", documents.AGENT_PROFILE_PATH, documents.agent_profile_resource)
    app.router.add_get("/health", health)
    for module_name in PACKAGE_SETUPS:
        importlib.import_module(module_name).setup(app)
    return app
