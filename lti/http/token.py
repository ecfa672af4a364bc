"""The platform's JWK Set and its OAuth 2.0 token endpoint (LTI 1.3 Security Framework)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from lrs.forms import read_small_form
from lrs.keys import settings_key
from lrs.middlewares import json_response
from lti.errors import InvalidRequest
from lti.keys import lti_settings_key, platform_keys_key, token_service_key
from lti.urls import request_base

FORM = "application/x-www-form-urlencoded"


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
        form = await read_small_form(request)
    except (ValueError, RequestPayloadError) as exc:  # not UTF-8; Content-Encoding not kept
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
