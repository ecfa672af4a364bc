"""GET /statements parameters → a query value (1.0.3 Part 3 §2.1.3), as a pure function.

The `more` link carries the whole query and the store's position in one opaque, signed token
(`lrs.xapi.query_token`), so a client paging through results keeps exactly the query it started
with, and statements that arrive meanwhile neither shift nor repeat a page (a keyset cursor,
not an offset).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import orjson

from lrs.errors import BadRequest
from lrs.params import ascii_int
from lrs.xapi.agents import ifi_key
from lrs.xapi.timestamps import timestamp_us

FORMATS = ("exact", "ids", "canonical")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FILTERS = (
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
)
_SINGLE = ("statementId", "voidedStatementId")
MORE = "more"


@dataclass(frozen=True)
class SingleStatementRequest:
    """GET of one statement by `statementId` or `voidedStatementId`."""

    statement_id: str
    voided: bool
    format: str = "exact"
    attachments: bool = False


@dataclass(frozen=True)
class StatementQuery:
    """A statement query as the client asked it, plus the position of the page to return."""

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 0
    format: str = "exact"
    attachments: bool = False
    ascending: bool = False
    after: str | None = None

    def next_page(self, position: str) -> StatementQuery:
        """The same query, continuing after `position`."""
        return replace(self, after=position)


def _bool(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest(f"{name} must be true or false, got {value!r}", parameter=name)


def _format(params: Mapping[str, str]) -> str:
    value = params.get("format", "exact")
    if value not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}", parameter="format")
    return value


def _uuid(params: Mapping[str, str], name: str) -> str:
    value = params[name]
    if not _UUID.match(value):
        raise BadRequest(f"{name} must be a UUID, got {value!r}", parameter=name)
    return value.lower()


def _agent(params: Mapping[str, str]) -> str | None:
    raw = params.get("agent")
    if raw is None:
        return None
    try:
        agent = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("agent must be a JSON Agent or Group object", parameter="agent") from exc
    key = ifi_key(agent)
    if key is None:
        raise BadRequest("agent must have exactly one IFI", parameter="agent")
    if sum(1 for name in ("mbox", "mbox_sha1sum", "openid", "account") if name in agent) != 1:
        raise BadRequest("agent must have exactly one IFI", parameter="agent")
    return key


def _limit(params: Mapping[str, str]) -> int:
    limit = ascii_int(params.get("limit", "0"))
    if limit is None:
        raise BadRequest("limit must be a non-negative integer", parameter="limit")
    return limit


def _time(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return timestamp_us(raw, path=name)
    except BadRequest as exc:
        raise BadRequest(f"{name} must be an ISO 8601 timestamp", parameter=name) from exc


def parse_statement_params(
    params: Mapping[str, str], read_more: Callable[[str], StatementQuery]
) -> SingleStatementRequest | StatementQuery:
    """The request GET /statements makes, or a 400 naming the parameter at fault.

    `read_more` turns a `more` token back into its query (`lrs.xapi.query_token`).
    """
    names = set(params)
    if MORE in names:
        if names - {MORE}:
            raise BadRequest("a more link takes no other parameters")
        return read_more(params[MORE])
    unknown = names - set(_FILTERS) - set(_SINGLE)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    single = names & set(_SINGLE)
    if single:
        # Part 3 §2.1.3: not both ids, and nothing besides "attachments" and "format".
        if len(single) == 2:
            raise BadRequest("statementId and voidedStatementId cannot both be given")
        if names - single - {"attachments", "format"}:
            raise BadRequest(f"{single.pop()} allows only the attachments and format parameters")
        name = single.pop()
        return SingleStatementRequest(
            statement_id=_uuid(params, name),
            voided=name == "voidedStatementId",
            format=_format(params),
            attachments=_bool(params, "attachments"),
        )
    return StatementQuery(
        agent=_agent(params),
        verb=params.get("verb"),
        activity=params.get("activity"),
        registration=_uuid(params, "registration") if "registration" in params else None,
        related_activities=_bool(params, "related_activities"),
        related_agents=_bool(params, "related_agents"),
        since_us=_time(params, "since"),
        until_us=_time(params, "until"),
        limit=_limit(params),
        format=_format(params),
        attachments=_bool(params, "attachments"),
        ascending=_bool(params, "ascending"),
    )
