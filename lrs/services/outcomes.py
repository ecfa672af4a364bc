"""What a write of statements did, per statement, so callers need not read the store to know.

A write is all or nothing (`StatementService.store_statements`): when it returns, each
statement of the request was either stored by it or already stored with equivalent content
(1.0.3 Part 3 §2.1.1: the same statement again changes nothing). A statement stored with
different content fails the whole write with `StatementConflict`, which names its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class StatementOutcome(Enum):
    """What a successful write did with one statement."""

    STORED = "stored"
    PRESENT = "already present"


@dataclass(frozen=True)
class WriteResult:
    """Each statement's id in request order, and which of them were already stored."""

    ids: list[str]
    present: frozenset[str] = frozenset()

    def outcome(self, statement_id: str) -> StatementOutcome:
        """The outcome of one statement of the write (by its id, lower-cased)."""
        if statement_id in self.present:
            return StatementOutcome.PRESENT
        return StatementOutcome.STORED

    def outcomes(self) -> list[tuple[str, StatementOutcome]]:
        """(id, outcome) of every statement of the write, in request order."""
        return [(sid, self.outcome(sid)) for sid in self.ids]
