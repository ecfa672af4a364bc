"""The storage seam of the SCORM endpoint: per-attempt state, in domain words.

One record per SCO attempt opened through `POST /scorm/v1/attempts`: the attempt's context,
the last CMI snapshot applied, the commit sequence, whether the session finished, the ids of
the statements already sent (see `scorm_adapter.attempts.AttemptState`). The store keeps the
state as opaque JSON bytes (CMI element names are full of dots, which MongoDB field names do
not take) and versions it with a revision number: every change is a compare-and-set on the
revision, so two commits of the same attempt racing each other never both apply. That needs
single-row (SQLite) / single-document (MongoDB) atomicity only, no transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt's state as stored: its id, its revision, the state JSON, its last change."""

    attempt_id: str
    revision: int
    state: bytes
    updated_us: int


@runtime_checkable
class AttemptStore(Protocol):
    """Where the SCORM endpoint keeps per-attempt state."""

    async def create_attempt(self, record: AttemptRecord) -> bool:
        """Store a new attempt record; False (and nothing written) when the id exists."""
        ...

    async def get_attempt(self, attempt_id: str) -> AttemptRecord | None:
        """The record with this id, or None."""
        ...

    async def replace_attempt(self, record: AttemptRecord, *, expected_revision: int) -> bool:
        """Replace the record with `record.attempt_id`, atomically, only if its current
        revision is `expected_revision`; True when it was replaced."""
        ...
