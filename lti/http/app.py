"""The LTI sub-application: its routes, its error middleware, and its services.

`create_lti_app(settings)` builds the app the root mounts at `PREFIX`. The root hands it the
core services (settings, backend, statement service...) under the `lrs.keys` keys, then runs
`lti_services(app)`, which builds the LTI services on them and closes them at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from lrs.keys import backend_key, settings_key, statement_service_key
from lrs.middlewares import error_middleware
from lti.gradebook import Gradebook
from lti.http import PREFIX
from lti.http.ags import add_ags_routes
from lti.http.outcomes import add_outcome_routes
from lti.http.token import jwks, token
from lti.jwks import ToolKeys
from lti.keys import (
    gradebook_key,
    lti_settings_key,
    lti_stores_key,
    outcome_service_key,
    platform_keys_key,
    sourced_ids_key,
    token_service_key,
    vault_key,
)
from lti.outcomes import OutcomeService
from lti.platform import PlatformKeys
from lti.settings import LTISettings
from lti.sourcedids import SourcedIds
from lti.store import open_lti_stores
from lti.tokens import TokenService
from lti.urls import configured_base
from lti.vault import load_vault

__all__ = ["PREFIX", "create_lti_app", "lti_services"]


def create_lti_app(settings: LTISettings) -> web.Application:
    """The LTI routes (relative to PREFIX); LRS-shaped JSON errors, as the LTI errors are LRS's."""
    app = web.Application(middlewares=[error_middleware])
    app[lti_settings_key] = settings
    app.router.add_get("/jwks", jwks, allow_head=False)
    app.router.add_post("/token", token)
    add_ags_routes(app)
    add_outcome_routes(app)
    return app


async def lti_services(app: web.Application) -> AsyncIterator[None]:
    """Build the LTI services on the core services the root set on `app`; close them after."""
    settings = app[settings_key]
    lti = app[lti_settings_key]
    stores = await open_lti_stores(app[backend_key])
    vault = load_vault(lti, settings.data_dir)
    base = configured_base(settings)
    authority_home = settings.authority_home_page or base
    user_home = lti.user_home_page or base
    platform = PlatformKeys(stores.platform_keys, vault)
    session = aiohttp.ClientSession()
    statements = app[statement_service_key]
    app[lti_stores_key] = stores
    app[vault_key] = vault
    app[platform_keys_key] = platform
    app[sourced_ids_key] = SourcedIds(vault)
    app[token_service_key] = TokenService(
        stores.registrations,
        stores.replays,
        platform,
        ToolKeys(session, cache_seconds=lti.jwks_cache_seconds),
        lti,
        issuer=base,
    )
    app[gradebook_key] = Gradebook(
        stores.gradebook,
        statements,
        iri_base=base,
        authority_home_page=authority_home,
        user_home_page=user_home,
    )
    app[outcome_service_key] = OutcomeService(
        stores.outcomes,
        statements,
        app[sourced_ids_key],
        iri_base=base,
        authority_home_page=authority_home,
        user_home_page=user_home,
    )
    yield
    await session.close()
