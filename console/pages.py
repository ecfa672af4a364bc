"""What each console page shows, as plain functions of the services (tested without HTTP).

The handlers (`console.http.pages`) only parse the request, call one of these and render the
template with the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from console.charts import Series
from console.insights import Insights, insights
from lrs.auth import validate_scopes
from lrs.errors import BadRequest, NotFound
from lrs.model.credentials import Credential
from lrs.services.statements import StatementService
from lrs.store.base import Backend, StatementStore
from lrs.xapi.query import SingleStatementRequest, StatementQuery, parse_statement_params
from projections.service import Projection
from projections.store.base import Subscription

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
PAGE_SIZE = 25
FILTERS = ("agent", "verb", "activity", "registration", "since", "until")


@dataclass(frozen=True)
class Dashboard:
    """The dashboard: stored statements per hour and per day, projection status, webhooks,
    and the rest (`console.insights`): sources, latency, drift, unmatched learners."""

    hourly: Series
    daily: Series
    status: dict[str, Any]
    subscriptions: list[tuple[Subscription, dict[str, int]]]
    insights: Insights

    @property
    def quality(self) -> list[tuple[str, int]]:
        """The open quality-queue items per reason, the largest first."""
        by_reason: dict[str, int] = self.status.get("quality_items_open_by_reason") or {}
        return sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))


def _utc(us: int, fmt: str) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime(fmt)


async def stored_series(
    statements: StatementStore, now_us: int, *, bucket_us: int, buckets: int, title: str, fmt: str
) -> Series:
    """Statements stored per period, the last period being the one holding `now_us`."""
    since = (now_us // bucket_us - buckets + 1) * bucket_us
    counts = await statements.stored_counts(since, bucket_us, buckets)
    labels = [_utc(since + n * bucket_us, fmt) for n in range(buckets)]
    return Series(title=title, labels=labels, counts=counts)


async def dashboard(backend: Backend, projection: Projection, now_us: int) -> Dashboard:
    """Everything the dashboard shows, read from the existing stores."""
    statements = backend.statements
    hourly = await stored_series(
        statements, now_us, bucket_us=HOUR_US, buckets=48, title="per hour, last 48 h", fmt="%H:00"
    )
    daily = await stored_series(
        statements, now_us, bucket_us=DAY_US, buckets=30, title="per day, last 30 days", fmt="%d %b"
    )
    deliveries = projection.stores.deliveries
    subscriptions = [
        (sub, await deliveries.subscription_counts(sub.id))
        for sub in await deliveries.list_subscriptions()
    ]
    more = await insights(backend, projection, now_us)
    return Dashboard(hourly, daily, await projection.status(), subscriptions, more)


def _agent_param(text: str) -> str:
    """An agent filter as typed: JSON as xAPI takes it, or an email address."""
    if text.startswith("{"):
        return text
    if "@" in text:
        address = text.removeprefix("mailto:")
        return orjson.dumps({"mbox": f"mailto:{address}"}).decode()
    raise BadRequest("agent: an email address or an Agent as JSON", parameter="agent")


def statement_query(form: Mapping[str, str]) -> StatementQuery:
    """The xAPI statement query for the browser's filters (the xAPI rules check each one)."""
    params = {name: form[name].strip() for name in FILTERS if form.get(name, "").strip()}
    if "agent" in params:
        params["agent"] = _agent_param(params["agent"])
    params["limit"] = str(PAGE_SIZE)

    def no_more(_token: str) -> StatementQuery:
        raise BadRequest("no more token here")

    query = parse_statement_params(params, no_more)
    assert isinstance(query, StatementQuery)  # no statementId among FILTERS
    return query


@dataclass(frozen=True)
class StatementRow:
    """One line of the statement browser."""

    id: str
    stored: str
    actor: str
    verb: str
    object: str


def _row(raw: bytes) -> StatementRow:
    statement = orjson.loads(raw)
    actor = statement.get("actor", {})
    who = actor.get("name") or actor.get("mbox") or (actor.get("account") or {}).get("name", "")
    verb = statement.get("verb", {})
    display = next(iter((verb.get("display") or {}).values()), verb.get("id", ""))
    target = statement.get("object", {})
    return StatementRow(
        statement["id"], statement.get("stored", ""), who, display, target.get("id", "")
    )


async def statement_rows(
    service: StatementService, query: StatementQuery
) -> tuple[list[StatementRow], StatementQuery | None]:
    """One page of the browser, through the statement query service, and the next page's query."""
    result = await service.query_statements(query)
    return [_row(raw) for raw in result.statements], result.more


async def statement_detail(service: StatementService, statement_id: str) -> tuple[str, bool]:
    """A statement's JSON, pretty, and whether it is voided (404 when unknown)."""
    for voided in (False, True):
        try:
            view = await service.get_statement(SingleStatementRequest(statement_id, voided))
        except NotFound:
            continue
        pretty = orjson.dumps(orjson.loads(view.raw), option=orjson.OPT_INDENT_2)
        return pretty.decode(), voided
    raise NotFound(f"no statement {statement_id}")


def credential_scopes(form: Mapping[str, Any]) -> list[str]:
    """The scopes ticked on the credential form (the same check as the CLI's)."""
    chosen = form.getall("scopes", []) if hasattr(form, "getall") else form.get("scopes", [])
    return list(validate_scopes(list(chosen)))


def credential_rows(credentials: list[Credential]) -> list[Credential]:
    """Active credentials first, then by name."""
    return sorted(credentials, key=lambda c: (c.revoked, c.name.lower(), c.key))
