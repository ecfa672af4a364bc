"""The storage seam of the HRIS event endpoint: sources, signatures seen, events received.

    HrisSource        a sender of HRIS events: its name and the salt its signing secret is
                      derived from (`projections.hris_sources`); never the secret itself
    HrisEventRecord   an event received: its digest (to tell a repeat from a reused id) and
                      the result it was answered with, keyed by (source, event id)

Two writes must be first-wins on every backend, without a transaction: noting a signature
(a replayed request is refused because its signature was noted already) and saving an event
(a repeat answers the saved result). SQLite's primary keys and MongoDB's `_id` give both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class HrisSource:
    """A sender of HRIS events; `revoked_at` set means its events are refused."""

    name: str
    salt: str
    created_at: str
    rotated_at: str | None = None
    revoked_at: str | None = None


@dataclass(frozen=True)
class HrisEventRecord:
    """An event as received, and the result it was answered with."""

    source: str
    event_id: str
    digest: str
    received_at: str
    result: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class HrisStore(Protocol):
    """HRIS sources, signatures seen within the replay window, and events received."""

    async def add_source(self, source: HrisSource) -> bool:
        """Store a new source; False (nothing written) when the name is taken."""
        ...

    async def put_source(self, source: HrisSource) -> None:
        """Replace a source (a rotated salt, a revocation)."""
        ...

    async def get_source(self, name: str) -> HrisSource | None:
        """One source."""
        ...

    async def list_sources(self) -> list[HrisSource]:
        """Every source, by name."""
        ...

    async def note_signature(self, key: str, expires_us: int, now_us: int) -> bool:
        """Remember a signature until `expires_us`; False when it was seen already (a replay).
        Signatures past their expiry may be forgotten."""
        ...

    async def get_events(self, source: str, event_ids: Sequence[str]) -> dict[str, HrisEventRecord]:
        """The events of `source` among `event_ids` received before, by event id."""
        ...

    async def save_event(self, record: HrisEventRecord) -> HrisEventRecord:
        """Save an event's result; when (source, event id) is saved already, that one wins
        and is returned."""
        ...

    async def forget_members(self, member_ids: Sequence[str]) -> int:
        """Erase the employee id from the saved results naming one of `member_ids` (it
        becomes null, and `erased` true); the events stay for idempotency. How many."""
        ...
