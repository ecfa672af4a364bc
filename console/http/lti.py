"""The LTI page (`/console/lti`): the LTI 1.3 tools and LTI 1.1 consumer keys the `lti` package
keeps, and disabling one (admin), as `lrs lti disable-tool` / `disable-consumer` do, audited
with the operator's name (`console.lti_tool_disabled`, `console.lti_consumer_disabled`).
Every role may read the lists: they hold no secret (a consumer's secret stays encrypted)."""

from __future__ import annotations

from aiohttp import web

from console.accounts import CAN_MANAGE
from console.http.auth import require, signed
from console.http.render import render, see_other
from console.keys import accounts_key
from lrs.errors import BadRequest
from lrs.keys import lti_app_key
from lti.keys import lti_stores_key
from lti.registry import disable_consumer, disable_tool
from lti.store.base import RegistrationStore

KINDS = {"tool": disable_tool, "consumer": disable_consumer}


def _registrations(request: web.Request) -> RegistrationStore:
    return request.config_dict[lti_app_key][lti_stores_key].registrations


async def registrations(request: web.Request) -> web.StreamResponse:
    """GET /console/lti: tools and consumers, enabled first, oldest first."""
    store = _registrations(request)
    tools = sorted(await store.list_tools(), key=lambda t: bool(t.disabled_at))
    consumers = sorted(await store.list_consumers(), key=lambda c: bool(c.disabled_at))
    return render(request, "lti.html", {"tools": tools, "consumers": consumers})


@require(*CAN_MANAGE)
async def disable(request: web.Request) -> web.StreamResponse:
    """POST /console/lti/disable (kind=tool|consumer, target=id or key): disable it."""
    form = await request.post()
    kind, target = str(form.get("kind", "")), str(form.get("target", "")).strip()
    if kind not in KINDS or not target:
        raise BadRequest("kind must be tool or consumer, and target its id or key")
    at = await KINDS[kind](_registrations(request), target)  # NotFound: 404
    who = signed(request).operator.name
    await request.app[accounts_key].audit_change(
        f"console.lti_{kind}_disabled", who, target, {"disabled_at": at}
    )
    return see_other("/console/lti")
