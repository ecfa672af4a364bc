"""Signed HRIS event requests for the tests (real signatures, as an HRIS would send them)."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
import orjson

from projections.settings import SPEC_DIR
from projections.webhook_verify import sign
from tests.projections.api_support import Market

EVENTS = "/hris/v1/events"
OPENAPI = json.loads((SPEC_DIR / "hris-events-openapi.json").read_text())
OPERATION = OPENAPI["paths"][EVENTS]["post"]


def response_schema(status: int) -> dict[str, Any]:
    """The documented schema of a response status, resolvable on its own."""
    content = OPERATION["responses"][str(status)]["content"]["application/json"]
    return {**content["schema"], "components": OPENAPI["components"]}


def conforms(status: int, body: Any) -> None:
    """Assert that a response is documented and matches its schema."""
    jsonschema.validate(body, response_schema(status))


def event(
    event_id: str, type: str, effective_at: str, employee_id: str = "H1", **member: Any
) -> dict[str, Any]:
    """An HRIS event for one member."""
    return {
        "event_id": event_id,
        "type": type,
        "effective_at": effective_at,
        "member": {"employee_id": employee_id, **member},
    }


def signed(source: str, secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    """The headers of a request signed at `at` (now by default)."""
    stamp = int(time.time()) if at is None else at
    return {
        "X-HRIS-Source": source,
        "X-HRIS-Signature": sign(secret, stamp, body),
        "Content-Type": "application/json",
    }


async def post_events(
    market: Market, source: str, secret: str, payload: Any, *, at: int | None = None
) -> tuple[int, Any]:
    """POST a signed body (JSON of `payload`, or bytes as given): (status, JSON answer)."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    response = await market.http.post(EVENTS, data=body, headers=signed(source, secret, body, at))
    answer = await response.json()
    conforms(response.status, answer)
    return response.status, answer


async def new_source(market: Market, name: str = "workday") -> str:
    """A new HRIS source on the app's projection; its secret."""
    _source, secret = await market.projection.hris.sources.create(name)
    return secret
