"""The storage seam of the data-quality queue: what the projection could not map, per statement.

    QualityIssue   what the mapping found wrong in one statement's contribution: the reason
                   (`projections.quality.REASONS`), the target field, the offending value
    QualityItem    an issue as queued: open, resolved (a later projection mapped it) or
                   dismissed (an operator said it is fine), with when it was first and last seen

An item is keyed by (reason, statement id), `QualityIssue.item_id`: projecting a statement
again (a crash retried, `reconcile --fix`, a new mapping) updates its item, never adds one, so
the queue is bounded by the statements times the reasons. Writes are per worker batch, not per
statement. A dismissed item stays dismissed when its issue is seen again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

OPEN, RESOLVED, DISMISSED = "open", "resolved", "dismissed"
STATES = (OPEN, RESOLVED, DISMISSED)


@dataclass(frozen=True)
class QualityIssue:
    """One statement's contribution the mapping could not make (or made only in part)."""

    statement_id: str
    reason: str
    field: str
    value: Any  # JSON: the offending value as read from the statement
    member_id: str | None = None
    activity_id: str | None = None

    @property
    def item_id(self) -> str:
        """The queue's key: one item per (reason, statement)."""
        return f"{self.reason}:{self.statement_id}"


@dataclass(frozen=True)
class QualityItem:
    """An issue in the queue, with its state and history."""

    issue: QualityIssue
    state: str
    mapping_version: str
    first_seen_us: int
    last_seen_us: int

    @property
    def item_id(self) -> str:
        """The queue's key."""
        return self.issue.item_id


@runtime_checkable
class QualityStore(Protocol):
    """The data-quality queue."""

    async def record_issues(
        self, issues: Sequence[QualityIssue], mapping_version: str, now_us: int
    ) -> None:
        """Open (or keep open, updated) an item per issue; dismissed items stay dismissed."""
        ...

    async def resolve_issues(
        self,
        statement_ids: Sequence[str],
        keep: Collection[str],
        now_us: int,
        *,
        reasons: Collection[str] | None = None,
    ) -> int:
        """Resolve the open items of these statements (of `reasons` only, when given) whose
        item id is not in `keep`; how many were resolved."""
        ...

    async def get_item(self, item_id: str) -> QualityItem | None:
        """One item."""
        ...

    async def list_items(
        self,
        state: str | None = OPEN,
        *,
        reason: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[QualityItem]:
        """Items by item id (so by reason, then statement id), after `after`; None: any state."""
        ...

    async def set_state(self, item_ids: Sequence[str], state: str, now_us: int) -> int:
        """Move these items (open or dismissed ones) to `state`; how many moved."""
        ...

    async def reason_counts(self, state: str = OPEN) -> dict[str, int]:
        """Items in `state` per reason."""
        ...

    async def forget_items(self, statement_ids: Sequence[str], member_id: str) -> int:
        """Delete every item of these statements or of this member (an erasure); how many."""
        ...
