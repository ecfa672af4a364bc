"""The HRIS event endpoint: a sub-application mounted at /hris (`create_hris_app`).

    POST /hris/v1/events      one event, or an array of events, signed by an HRIS source

Headers: `X-HRIS-Source: <source name>` and `X-HRIS-Signature: t=<unix seconds>,v1=<hex>`
(the scheme of our outgoing webhooks; `projections.hris_sources`). Answers: 200 with the
result (or `{"results": [...]}` for an array), 202 for a lone `erase` (recorded, erasure not
built yet), 4xx `{"error", "message", "details"}` with nothing applied. The OpenAPI document
is spec/hris-events-openapi.json.

The endpoint uses the projection the marketplace sub-app opened (found through the root's
`marketplace_app_key`), so it shares its stores and its audit log.
"""

from __future__ import annotations

from aiohttp import web

from lrs.keys import marketplace_app_key
from lrs.middlewares import error_middleware, json_response
from projections.hris_sources import SIGNATURE_HEADER, SOURCE_HEADER
from projections.keys import projection_key

PREFIX = "/hris"
EVENTS_PATH = f"{PREFIX}/v1/events"


async def receive_events(request: web.Request) -> web.StreamResponse:
    """Apply the signed events of the body; their results."""
    projection = request.config_dict[marketplace_app_key][projection_key]
    body = await request.read()
    received = await projection.hris.receive(
        request.headers.get(SOURCE_HEADER), request.headers.get(SIGNATURE_HEADER), body
    )
    return json_response(received.to_json(), status=received.status)


def create_hris_app() -> web.Application:
    """The HRIS routes, with the LRS's JSON error middleware."""
    app = web.Application(middlewares=[error_middleware])
    app.router.add_post(EVENTS_PATH.removeprefix(PREFIX), receive_events)
    return app
