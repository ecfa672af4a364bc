"""The AGS gradebook: line items, scores and results of LTI 1.3 tools (AGS 2.0 §3-§5).

Outcomes of `post_score`:
- the line item is unknown, or belongs to another tool: NotFound (404), the same answer for
  both, so a tool cannot learn that another tool's line item exists;
- the score is malformed: ValidationError (400);
- a score with the same or a later timestamp is already recorded for that user and line item:
  Conflict (409), nothing stored (AGS §4.3.1: a platform must not let an older score replace a
  newer one; a repeat of the last one changes nothing either);
- otherwise the score becomes the user's result and its statements (`lti.converters`) are
  stored through the statement service. The result is recorded first as pending and marked done
  after the statements are stored, so a client that retries after a failure in between is let
  through once more with the same score and stores the same statements (deterministic ids).
"""

from __future__ import annotations

import secrets
from typing import Any

from lrs.errors import Conflict, NotFound
from lrs.services.statements import StatementService
from lrs.xapi.versions import XAPI_VERSION
from lti import converters
from lti.lineitems import parse_line_item
from lti.scores import Score, parse_score
from lti.store.base import GradebookStore, LineItem, LineItemFilter, Page, ScoreRecord, Tool
from lti.vocabulary import AGS_SCORE, PASSING_THRESHOLD


def tool_iri(base: str, tool_id: str) -> str:
    """The Activity IRI (and URL) of a tool."""
    return f"{base}/lti/tools/{tool_id}"


def line_item_iri(base: str, tool_id: str, item_id: str) -> str:
    """The Activity IRI (and URL) of a line item."""
    return f"{tool_iri(base, tool_id)}/lineitems/{item_id}"


def tool_authority(tool: Tool, home_page: str) -> dict[str, Any]:
    """The authority of statements a tool's scores become."""
    return {
        "objectType": "Agent",
        "name": tool.name,
        "account": {"homePage": home_page, "name": f"lti-tool:{tool.client_id}"},
    }


class Gradebook:
    """Line items, scores and results; scores go to the statement service."""

    def __init__(
        self,
        store: GradebookStore,
        statements: StatementService,
        *,
        iri_base: str,
        authority_home_page: str,
        user_home_page: str,
    ) -> None:
        self._store = store
        self._statements = statements
        self._iri_base = iri_base
        self._authority_home_page = authority_home_page
        self._user_home_page = user_home_page

    async def add_line_item(self, tool: Tool, body: Any) -> LineItem:
        """Create a line item for the tool."""
        item = LineItem(id=secrets.token_hex(8), tool_id=tool.id, properties=parse_line_item(body))
        await self._store.add_line_item(item)
        return item

    async def line_item(self, tool: Tool, item_id: str) -> LineItem:
        """The tool's line item; 404 when unknown and, alike, when another tool's."""
        item = await self._store.get_line_item(item_id)
        if item is None or item.tool_id != tool.id:
            raise NotFound(f"no line item {item_id}")
        return item

    async def replace_line_item(self, tool: Tool, item_id: str, body: Any) -> LineItem:
        """Replace the properties of the tool's line item."""
        await self.line_item(tool, item_id)
        item = LineItem(item_id, tool.id, parse_line_item(body, item_id=item_id))
        if not await self._store.replace_line_item(item):
            raise NotFound(f"no line item {item_id}")
        return item

    async def delete_line_item(self, tool: Tool, item_id: str) -> None:
        """Delete the tool's line item and its results (its statements stay: they are history)."""
        await self.line_item(tool, item_id)
        await self._store.delete_line_item(item_id)

    async def line_items(self, query: LineItemFilter) -> Page:
        """One page of the tool's line items."""
        return await self._store.list_line_items(query)

    async def results(
        self, tool: Tool, item_id: str, *, user_id: str | None, limit: int, after: str | None
    ) -> tuple[LineItem, Page]:
        """The line item and one page of its results (ScoreRecords)."""
        item = await self.line_item(tool, item_id)
        page = await self._store.list_scores(item.id, user_id=user_id, limit=limit, after=after)
        return item, page

    async def post_score(self, tool: Tool, item_id: str, body: Any) -> list[str]:
        """Record a score and store its statements; their ids (see the module docstring)."""
        item = await self.line_item(tool, item_id)
        score = parse_score(body)
        statements = converters.grade_statements(self.grade(tool, item, score))
        ids = [s["id"] for s in statements]
        record = ScoreRecord(
            line_item_id=item.id,
            user_id=score.user_id,
            timestamp_us=score.timestamp_us,
            score=score.raw,
            fingerprint=score.fingerprint,
            statement_ids=tuple(ids),
        )
        if not await self._store.begin_score(record):
            raise Conflict(
                "a score with the same or a later timestamp is already recorded for this user "
                "and line item",
                userId=score.user_id,
                timestamp=score.raw["timestamp"],
            )
        if statements:
            await self._statements.store_statements(
                statements,
                authority=tool_authority(tool, self._authority_home_page),
                version=XAPI_VERSION,
            )
        await self._store.finish_score(item.id, score.user_id, score.timestamp_us)
        return ids

    def grade(self, tool: Tool, item: LineItem, score: Score) -> converters.Grade:
        """The grade a score on a line item is (see `lti.converters` for the rules)."""
        threshold = item.properties.get(PASSING_THRESHOLD, tool.passing_threshold)
        return converters.Grade(
            source=converters.AGS_SOURCE,
            registration=tool.client_id,
            item=item.id,
            user_id=score.user_id,
            user_home_page=tool.user_home_page or self._user_home_page,
            activity=converters.activity(
                line_item_iri(self._iri_base, tool.id, item.id), item.label
            ),
            grouping=tool_iri(self._iri_base, tool.id),
            timestamp=score.raw["timestamp"],
            timestamp_us=score.timestamp_us,
            given=score.raw["scoreGiven"] if score.counts else None,
            maximum=score.raw.get("scoreMaximum"),
            final=score.final,
            threshold=threshold,
            extensions={AGS_SCORE: score.raw},
        )
