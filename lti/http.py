"""The LTI adapter's HTTP side: `setup(app)` adds its routes and builds its services.

Routes (all under /lti; the OpenAPI document is spec/lti-openapi.json):
    GET    /lti/jwks                                   the platform's public keys (JWK Set)
    POST   /lti/token                                  OAuth 2.0 client credentials + JWT assertion
    GET    /lti/tools/{tool}/lineitems                 AGS line items container (paged)
    POST   /lti/tools/{tool}/lineitems                 create a line item
    GET    /lti/tools/{tool}/lineitems/{item}          one line item
    PUT    /lti/tools/{tool}/lineitems/{item}          replace it
    DELETE /lti/tools/{tool}/lineitems/{item}          delete it
    POST   /lti/tools/{tool}/lineitems/{item}/scores   post a score
    GET    /lti/tools/{tool}/lineitems/{item}/results  results container (paged)
    POST   /lti/1.1/outcomes                           LTI 1.1 Basic Outcomes (POX)
    POST   /lti/1.1/sourcedids                         mint a sourcedId (HTTP Basic credential)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from lrs.keys import backend_key, settings_key, statement_service_key
from lrs.middlewares import json_response
from lti.errors import InvalidRequest
from lti.gradebook import Gradebook
from lti.http_ags import add_ags_routes
from lti.http_outcomes import add_outcome_routes
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
from lti.urls import configured_base, request_base
from lti.vault import load_vault

FORM = "application/x-www-form-urlencoded"


def setup(app: web.Application) -> None:
    """Add the LTI routes, and a cleanup context building the LTI services."""
    app.router.add_get("/lti/jwks", jwks, allow_head=False)
    app.router.add_post("/lti/token", token)
    add_ags_routes(app)
    add_outcome_routes(app)
    app.cleanup_ctx.append(_lti_ctx)


async def _lti_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the services on the opened backend (tests may set `lti_settings_key` first)."""
    settings = app[settings_key]
    lti = app.get(lti_settings_key) or LTISettings.from_env()
    app[lti_settings_key] = lti
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


async def jwks(request: web.Request) -> web.StreamResponse:
    """GET /lti/jwks: the platform's public JWK Set (LTI 1.3 Security Framework §6.3)."""
    response = json_response(await request.app[platform_keys_key].jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def token(request: web.Request) -> web.StreamResponse:
    """POST /lti/token: an access token for a client assertion (RFC 6749 §4.4, RFC 7523)."""
    if request.content_type != FORM:
        raise InvalidRequest(f"a token request is sent as {FORM}")
    try:
        form = await request.post()
    except ValueError as exc:  # e.g. bytes that are not UTF-8
        raise InvalidRequest("the token request is not a valid form") from exc
    fields: dict[str, str] = {}
    for name in form:
        values = form.getall(name)
        if len(values) > 1:  # RFC 6749 §3.2: parameters must not be repeated
            raise InvalidRequest(f"the parameter {name} is repeated")
        fields[name] = str(values[0])
    settings, lti = request.app[settings_key], request.app[lti_settings_key]
    token_url = request_base(request, settings, lti) + request.path
    body = await request.app[token_service_key].issue(fields, token_url=token_url)
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    response.headers["Pragma"] = "no-cache"
    return response
