"""The public URL a tool called: what signatures (OAuth 1.0a) and audiences (client assertions)
are checked against.

The base is the LRS's public base URL (`LRS_PUBLIC_BASE_URL`, else the bound address), never the
request's Host header: a client chooses that header, and taking it would let an assertion or
signature made for another server pass here. Behind a reverse proxy that rewrites the URL, set
`LRS_LTI_TRUST_PROXY=true` and the proxy's `X-Forwarded-Proto`, `-Host`, `-Port` and `-Prefix`
replace the base; do that only when every request reaches the LRS through that proxy, which must
overwrite (not append to) those headers.
"""

from __future__ import annotations

import re

from aiohttp import web

from lrs.errors import BadRequest
from lrs.params import is_ascii_digits
from lrs.settings import Settings, public_base_url
from lti.settings import LTISettings

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-!$&'()*+,;=:@%]+)*/?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def configured_base(settings: Settings) -> str:
    """The base URL from the settings alone (stable: used for issuers and activity IRIs)."""
    return public_base_url(settings)


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def request_base(request: web.Request, settings: Settings, lti: LTISettings) -> str:
    """The base URL the client called, per the rules in the module docstring."""
    if not lti.trust_proxy:
        return configured_base(settings)
    headers = request.headers
    host = _first(headers.get("X-Forwarded-Host"))
    if not host:
        return configured_base(settings)
    proto = _first(headers.get("X-Forwarded-Proto")).lower() or request.scheme
    port = _first(headers.get("X-Forwarded-Port"))
    prefix = _first(headers.get("X-Forwarded-Prefix"))
    if proto not in _DEFAULT_PORTS or not _HOST.match(host):
        raise BadRequest("the X-Forwarded-Proto or X-Forwarded-Host header is malformed")
    if port:
        if not is_ascii_digits(port) or ":" in host.rsplit("]", 1)[-1]:
            raise BadRequest("the X-Forwarded-Port header is malformed or conflicts with the host")
        if port != _DEFAULT_PORTS[proto]:
            host = f"{host}:{port}"
    if prefix and not _PREFIX.match(prefix):
        raise BadRequest("the X-Forwarded-Prefix header is malformed")
    return f"{proto}://{host}{prefix.rstrip('/')}"


def request_url(request: web.Request, settings: Settings, lti: LTISettings) -> str:
    """The full URL (path and raw query) the client called."""
    return request_base(request, settings, lti) + request.rel_url.raw_path_qs
