"""The console sub-application (`/console`): routes, templates, static files, its services.

Pages are rendered on the server with Jinja2 (through aiohttp-jinja2, autoescaping on); the
stylesheet is shipped in the package and served from `/console/static/`, so the console works
without a network connection. Errors render as HTML pages (the JSON error middleware of the
other sub-apps is for API clients).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console.accounts import Accounts
from console.http import apps as app_pages
from console.http import clients as client_pages
from console.http import conflicts as conflict_pages
from console.http import imports, login, lti, members, oauth, pages
from console.http import quality as quality_pages
from console.http import webhooks as webhook_pages
from console.http.auth import Handler, session_middleware
from console.http.render import render
from console.keys import accounts_key, console_settings_key, projection_app_key, sessions_key
from console.sessions import Sessions
from console.settings import ConsoleSettings
from console.store import open_console_stores
from lrs.errors import LRSError
from lrs.keys import backend_key
from projections.keys import projection_key

PREFIX = "/console"
PACKAGE = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


@web.middleware
async def html_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An LRS error or an HTTP error status as an HTML page; redirects pass."""
    try:
        return await handler(request)
    except LRSError as exc:
        return render(request, "error.html", {"message": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        page = render(request, "error.html", {"message": exc.text or exc.reason}, status=exc.status)
        if "Allow" in exc.headers:  # RFC 9110 §15.5.6: a 405 names the methods allowed
            page.headers["Allow"] = exc.headers["Allow"]
        return page


def create_console_app(
    settings: ConsoleSettings, projection_app: web.Application
) -> web.Application:
    """The console's routes; its services open in `console_services` (run by the root)."""
    app = web.Application(middlewares=[html_errors, session_middleware])
    app[console_settings_key] = settings
    app[projection_app_key] = projection_app
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(PACKAGE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    app.router.add_static("/static/", PACKAGE / "static", name="static")
    app.router.add_get("/", pages.dashboard)
    app.router.add_get("/login", login.login_form)
    app.router.add_post("/login", login.log_in)
    app.router.add_post("/logout", login.log_out)
    app.router.add_get("/set-password", login.password_form)
    app.router.add_post("/set-password", login.set_password)
    app.router.add_get("/statements", pages.statements)
    app.router.add_get("/statements/{id}", pages.statement)
    app.router.add_get("/members", members.search)
    app.router.add_get("/members/{id}", members.member)
    app.router.add_get("/imports", imports.history)
    app.router.add_get("/lti", lti.registrations)
    app.router.add_post("/lti/disable", lti.disable)
    app.router.add_get("/credentials", pages.credentials)
    app.router.add_post("/credentials", pages.create)
    app.router.add_post("/credentials/{key}/revoke", pages.revoke)
    app.router.add_get("/webhooks", webhook_pages.webhooks_page)
    app.router.add_post("/webhooks", webhook_pages.subscribe)
    app.router.add_post("/webhooks/redeliver", webhook_pages.redeliver)
    app.router.add_post("/webhooks/{id}/delete", webhook_pages.delete)
    app.router.add_get("/quality", quality_pages.quality_page)
    app.router.add_get("/quality/items/{id}", quality_pages.item_page)
    app.router.add_post("/quality/retry", quality_pages.retry)
    app.router.add_post("/quality/retry-reason", quality_pages.retry_reason)
    app.router.add_post("/quality/dismiss", quality_pages.dismiss)
    app.router.add_get("/conflicts", conflict_pages.conflicts_page)
    app.router.add_post("/conflicts/resolve", conflict_pages.resolve)
    app.router.add_get("/clients", client_pages.clients_page)
    app.router.add_post("/clients", client_pages.create)
    app.router.add_post("/clients/{id}/revoke", client_pages.revoke)
    app.router.add_post("/clients/{id}/rotate", client_pages.rotate)
    app.router.add_get("/oauth/consent", oauth.consent)
    app.router.add_post("/oauth/consent", oauth.decide)
    app.router.add_get("/grants", oauth.grants)
    app.router.add_post("/grants/{id}/revoke", oauth.revoke_grant)
    app.router.add_get("/apps", app_pages.apps_page)
    app.router.add_post("/apps", app_pages.register)
    app.router.add_post("/apps/{id}/revoke", app_pages.revoke)
    return app


async def console_services(app: web.Application) -> AsyncIterator[None]:
    """Open the console's stores and services on the core backend (after the projection's)."""
    stores = await open_console_stores(app[backend_key])
    settings = app[console_settings_key]
    audit = app[projection_app_key][projection_key].audit
    app[accounts_key] = Accounts(stores.operators, stores.sessions, audit, settings)
    app[sessions_key] = Sessions(stores.sessions, stores.operators, settings)
    dropped = await app[sessions_key].sweep()
    if dropped:
        log.info("console: forgot %d expired sessions", dropped)
    yield
