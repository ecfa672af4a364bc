"""Where a statement came from (xAPI, SCORM, LTI, import, marketplace), told from the statement.

The LRS records no source beside a statement: every path stores through the one statement
service, which sets `authority`. So the source is derived from what each path writes, which is
the cheapest honest way (no new column, nothing rewritten):

- **LTI**: the authority is an LTI tool's or consumer's account (`lti-tool:<client id>`,
  `lti-consumer:<key>`; `lti.gradebook.tool_authority`, `lti.outcomes.consumer_authority`);
- **marketplace**: the authority is a marketplace client's account (`urn:lrs-marketplace:clients`,
  badges awarded through `POST /marketplace/v1/members/{id}/badges`);
- **xAPI** / **SCORM**: the authority is one of the LRS's credentials (its account's name is the
  credential key); SCORM when the statement carries the xAPI SCORM Profile's category activity
  (`https://w3id.org/xapi/scorm`), which the SCORM runtime endpoint always sets;
- **import**: any other authority: the bulk imports (`lrs import-statements`, `lrs import-scorm`)
  set their own (`lrs-import`, `lrs-import-scorm` or `--authority-name`), and an import with
  `--keep-authority` keeps another LRS's. A credential deleted from the store would make its
  statements count here too (credentials are revoked, never deleted).

Counting needs the statements themselves, so the dashboard reads those stored in a window,
oldest first, up to `SCAN_LIMIT`, and says how many it read of how many (`SourceCounts`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from lrs.store.base import StatementStore

XAPI, SCORM, LTI, IMPORT, MARKETPLACE = "xAPI", "SCORM", "LTI", "import", "marketplace"
SOURCES = (XAPI, SCORM, LTI, IMPORT, MARKETPLACE)
SCORM_PROFILE = "https://w3id.org/xapi/scorm"
MARKETPLACE_CLIENTS = "urn:lrs-marketplace:clients"
SCAN_LIMIT = 20_000
PAGE = 1000


def _category_ids(statement: Mapping[str, Any]) -> list[str]:
    context = statement.get("context")
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    category = activities.get("category") if isinstance(activities, dict) else None
    if isinstance(category, dict):  # xAPI 0.95 allowed a single object
        category = [category]
    if not isinstance(category, list):
        return []
    return [str(a.get("id")) for a in category if isinstance(a, dict)]


def statement_source(statement: Mapping[str, Any], credential_keys: Collection[str]) -> str:
    """The source of one statement (see the module docstring for the rules)."""
    authority = statement.get("authority")
    account = authority.get("account") if isinstance(authority, dict) else None
    name = account.get("name") if isinstance(account, dict) else None
    home = account.get("homePage") if isinstance(account, dict) else None
    if isinstance(name, str) and name.startswith(("lti-tool:", "lti-consumer:")):
        return LTI
    if home == MARKETPLACE_CLIENTS:
        return MARKETPLACE
    if name in credential_keys:
        return SCORM if SCORM_PROFILE in _category_ids(statement) else XAPI
    return IMPORT


@dataclass(frozen=True)
class SourceCounts:
    """Statements per source among those read from a window: `read` of `stored`."""

    counts: dict[str, int]
    read: int
    stored: int

    @property
    def complete(self) -> bool:
        """Whether every statement of the window was read."""
        return self.read >= self.stored


async def source_counts(
    statements: StatementStore,
    credential_keys: Collection[str],
    *,
    since_us: int,
    until_us: int,
    limit: int = SCAN_LIMIT,
) -> SourceCounts:
    """Statements stored after `since_us` up to `until_us`, per source, reading `limit` at most."""
    counts = dict.fromkeys(SOURCES, 0)
    read, after = 0, None
    while read < limit:
        page = await statements.export_statements(
            after, min(PAGE, limit - read), since_us=since_us, until_us=until_us
        )
        for raw in page.statements:
            counts[statement_source(orjson.loads(raw), credential_keys)] += 1
        read += len(page.statements)
        if page.next_position is None or not page.statements:
            break
        after = page.next_position
    stored = read
    if read >= limit:
        [stored] = await statements.stored_counts(since_us + 1, until_us - since_us, 1)
    return SourceCounts(counts, read, stored)
