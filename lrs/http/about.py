"""The About resource, /xapi/about (1.0.3 Part 3 §2.8): no authentication, no version needed."""

from __future__ import annotations

from aiohttp import web

from lrs import __version__
from lrs.http.resource import xapi_resource
from lrs.http.xapi_request import XAPIRequest
from lrs.middlewares import json_response
from lrs.xapi.versions import SUPPORTED

_IMPLEMENTATION = "https://w3id.org/xapi/lrs/implementation"


async def get_about(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
    """Versions served, and this LRS's name and version as an extension."""
    return json_response(
        {
            "version": list(SUPPORTED),
            "extensions": {
                "https://w3id.org/xapi/lrs/implementation": f"lrs-marketplace {__version__}"
            },
        }
    )


about_resource = xapi_resource({"GET": get_about}, authenticate=False, versioned=False)
