"""What the app-grants page shows: one page of grants, newest first, optionally one app's.

A page holds `PAGE_SIZE` grants; its `more` link carries where it ended (`before`: the last
grant's creation time and id, `<created_us>.<grant_id>`), so the next page starts there
however many grants were added meanwhile, and no grant is shown twice or skipped. The store
reads each page by an index (creation time, or app and creation time).
"""

from __future__ import annotations

from dataclasses import dataclass

from lrs.errors import BadRequest
from projections.service import Projection
from projections.store.oauth import Grant, OAuthApp
from projections.transforms import format_datetime

PAGE_SIZE = 50
_MAX_CURSOR = 200


@dataclass(frozen=True)
class GrantPage:
    """The rows of one page (grant, created, app name), the apps, the next page's cursor."""

    rows: list[tuple[Grant, str, str]]
    apps: list[OAuthApp]
    more: str | None


def cursor_of(grant: Grant) -> str:
    """Where a page that ends with `grant` ends."""
    return f"{grant.created_us}.{grant.grant_id}"


def parse_cursor(text: str) -> tuple[int, str]:
    """A `before` value as (created_us, grant_id); a BadRequest naming it otherwise."""
    created, _, grant_id = text.partition(".")
    if not created.isdigit() or not grant_id or len(text) > _MAX_CURSOR:
        raise BadRequest("before: not a position in the list of grants", field="before")
    return int(created), grant_id


async def grant_page(
    projection: Projection, client_id: str | None, before: str | None, size: int = PAGE_SIZE
) -> GrantPage:
    """The page of grants after `before` (newest first), `client_id`'s only when given."""
    position = parse_cursor(before) if before else None
    grants = await projection.grants.list_grants(size + 1, client_id=client_id, before=position)
    apps = await projection.apps.list()
    names = {a.client_id: a.name for a in apps}
    shown = grants[:size]
    rows = [(g, format_datetime(g.created_us), names.get(g.client_id, "")) for g in shown]
    more = cursor_of(shown[-1]) if len(grants) > size else None
    return GrantPage(rows=rows, apps=apps, more=more)
