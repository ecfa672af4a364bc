"""The Activities (/xapi/activities) and Agents (/xapi/agents) resources, 1.0.3 Part 3 §2.4-2.5."""

from __future__ import annotations

import orjson
from aiohttp import web

from lrs.errors import BadRequest
from lrs.http.resource import xapi_resource
from lrs.http.xapi_request import XAPIRequest
from lrs.keys import backend_key, statement_service_key
from lrs.middlewares import json_response
from lrs.xapi.activities import person_of
from lrs.xapi.documents import parse_activity_id, parse_agent


def _only(xreq: XAPIRequest, name: str) -> str:
    value = xreq.params.get(name)
    if not value:
        raise BadRequest(f"the {name} parameter is required", parameter=name)
    if set(xreq.params) != {name}:
        raise BadRequest(f"this resource takes only the {name} parameter")
    return value


async def get_activity(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
    """The Activity with its canonical definition; an unknown id still gets an Activity."""
    # 1.0.3 Part 3 §2.5: activityId is the IRI of an Activity
    activity_id = parse_activity_id(_only(xreq, "activityId"))
    canonical = await request.app[backend_key].activities.get_activities([activity_id])
    activity: dict[str, object] = {"objectType": "Activity", "id": activity_id}
    if activity_id in canonical:
        activity["definition"] = canonical[activity_id]
    return json_response(activity)


async def get_agent(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
    """The Person object for an agent (Part 3 §2.4: the IFIs and names the LRS knows)."""
    raw = _only(xreq, "agent")
    try:
        agent = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("agent must be a JSON Agent object", parameter="agent") from exc
    # 1.0.3 Part 3 §2.6: an Agent with one valid IFI, checked as the document resources do
    # (an mbox that is not a mailto IRI was answered with a Person)
    parse_agent(raw)
    known = await request.app[statement_service_key].agent_names(agent)
    return json_response(person_of(agent, known_names=known))


activities_resource = xapi_resource({"GET": get_activity})
agents_resource = xapi_resource({"GET": get_agent})
