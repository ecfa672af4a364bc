"""The storage the LTI adapter needs, in its own words: one Protocol per service. Each has one
class per backend, `lti.store.sqlite*` (on the LRS's SQLiteDatabase) and `lti.store.mongo*` (on
its MongoDatabase); `open_lti_stores(backend)` opens those of the backend's engine. Nothing else
in `lti` imports a driver.

Statements are not here: scores become statements through the LRS's statement service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class PlatformKey:
    """The platform's signing key pair: the private half only ever stored encrypted."""

    kid: str
    private_key_enc: str = field(repr=False)
    created_at: str


@dataclass(frozen=True)
class Tool:
    """An LTI 1.3 tool registered for grade passback.

    `id` is the platform's own short lower-case name for the tool, used in URLs (so a URL whose
    case a tool library changed still works); `client_id` is the OAuth client id.
    """

    id: str
    client_id: str
    name: str
    scopes: tuple[str, ...]
    deployment_ids: tuple[str, ...] = ()
    jwks_url: str | None = None
    public_key: str | None = None  # PEM or JWK JSON; public, not a secret
    user_home_page: str | None = None
    passing_threshold: float | None = None
    created_at: str = ""
    disabled_at: str | None = None  # disabled (`lrs lti disable-tool`, the console): refused


@dataclass(frozen=True)
class Consumer:
    """An LTI 1.1 consumer key and its secret (encrypted; see `lti.vault`)."""

    key: str
    name: str
    secret_enc: str = field(repr=False)
    user_home_page: str | None = None
    passing_threshold: float | None = None
    created_at: str = ""
    disabled_at: str | None = None  # disabled (`lrs lti disable-consumer`, the console): refused


@dataclass(frozen=True)
class LineItem:
    """An AGS line item: `properties` are its JSON fields as the tool sees them, but `id`."""

    id: str
    tool_id: str
    properties: Mapping[str, Any]

    @property
    def label(self) -> str:
        """The line item's label."""
        return str(self.properties["label"])

    @property
    def score_maximum(self) -> float:
        """The line item's scoreMaximum."""
        return float(self.properties["scoreMaximum"])


@dataclass(frozen=True)
class LineItemFilter:
    """GET lineitems filters (AGS 2.0 §3.2.4) and a page."""

    tool_id: str
    resource_link_id: str | None = None
    resource_id: str | None = None
    tag: str | None = None
    limit: int = 100
    after: str | None = None  # the store's own position string from the previous page


@dataclass(frozen=True)
class Page:
    """One page of results and, when there are more, where the next starts."""

    items: list[Any]
    next_position: str | None


@dataclass(frozen=True)
class ScoreRecord:
    """The last score accepted for one user on one line item.

    `pending` is true from acceptance until its statements are stored, so a retry of the same
    score (same timestamp and `fingerprint`) after a failure is let through once more.
    """

    line_item_id: str
    user_id: str
    timestamp_us: int
    score: Mapping[str, Any]
    fingerprint: str
    statement_ids: tuple[str, ...] = ()
    pending: bool = True


@dataclass(frozen=True)
class OutcomeRecord:
    """The LTI 1.1 result of one learner on one resource link of one consumer.

    `received_us` is when the current score was accepted (the statements' timestamp);
    `statement_ids` lists every statement stored for this result, so deleteResult voids all.
    """

    consumer_key: str
    resource_link_id: str
    user_id: str
    score: float
    message_id: str
    received_us: int
    statement_ids: tuple[str, ...] = ()


@runtime_checkable
class PlatformKeyStore(Protocol):
    """The platform's signing key."""

    async def get_platform_key(self) -> PlatformKey | None:
        """The platform key, or None before the first one is made."""
        ...

    async def add_platform_key(self, key: PlatformKey) -> PlatformKey:
        """Keep `key` unless a platform key exists already; return the one kept."""
        ...


@runtime_checkable
class RegistrationStore(Protocol):
    """Registered LTI 1.3 tools and LTI 1.1 consumers."""

    async def add_tool(self, tool: Tool) -> None:
        """Register a tool; Conflict when its id or client id is taken."""
        ...

    async def get_tool(self, tool_id: str) -> Tool | None:
        """The tool with this platform id."""
        ...

    async def find_tool(self, client_id: str) -> Tool | None:
        """The tool with this OAuth client id."""
        ...

    async def list_tools(self) -> list[Tool]:
        """Every tool, oldest first."""
        ...

    async def add_consumer(self, consumer: Consumer) -> None:
        """Register a consumer key; Conflict when taken."""
        ...

    async def get_consumer(self, key: str) -> Consumer | None:
        """The consumer with this key."""
        ...

    async def list_consumers(self) -> list[Consumer]:
        """Every consumer, oldest first."""
        ...

    async def disable_tool(self, tool_id: str, at: str) -> bool:
        """Mark the tool disabled at `at` (kept when it already is); False when unknown.
        A disabled tool stays listed (its line items and scores stay), but gets no token and
        its tokens stop working."""
        ...

    async def disable_consumer(self, key: str, at: str) -> bool:
        """Mark the consumer disabled at `at` (kept when it already is); False when unknown.
        Its signed requests are refused from then on."""
        ...


@runtime_checkable
class ReplayStore(Protocol):
    """Values that may be used once: client assertion `jti`s, OAuth 1.0a nonces."""

    async def use_once(self, key: str, expires_at: int) -> bool:
        """Record `key` until `expires_at` (Unix seconds); False when it was already recorded
        and has not expired. Atomic across processes."""
        ...


@runtime_checkable
class GradebookStore(Protocol):
    """AGS line items and the last score of each user on each."""

    async def add_line_item(self, item: LineItem) -> None:
        """Store a new line item."""
        ...

    async def get_line_item(self, item_id: str) -> LineItem | None:
        """The line item with this id, whatever tool owns it."""
        ...

    async def replace_line_item(self, item: LineItem) -> bool:
        """Replace a line item's properties; False when it does not exist."""
        ...

    async def delete_line_item(self, item_id: str) -> bool:
        """Delete a line item and its scores; False when it did not exist."""
        ...

    async def list_line_items(self, query: LineItemFilter) -> Page:
        """A tool's line items matching every given filter, oldest first, one page."""
        ...

    async def begin_score(self, record: ScoreRecord) -> bool:
        """Make `record` the user's last score when it is newer than the stored one (or is the
        pending stored one again: same timestamp and fingerprint); False otherwise. Atomic."""
        ...

    async def finish_score(self, line_item_id: str, user_id: str, timestamp_us: int) -> None:
        """Clear `pending` on that score, if it is still the last one."""
        ...

    async def get_score(self, line_item_id: str, user_id: str) -> ScoreRecord | None:
        """The user's last score on the line item."""
        ...

    async def list_scores(
        self, line_item_id: str, *, user_id: str | None, limit: int, after: str | None
    ) -> Page:
        """Last scores on a line item by user id order, one page (of ScoreRecord)."""
        ...


@runtime_checkable
class OutcomeStore(Protocol):
    """LTI 1.1 results."""

    async def get_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str
    ) -> OutcomeRecord | None:
        """The current result, if any."""
        ...

    async def put_outcome(self, record: OutcomeRecord) -> OutcomeRecord:
        """Make `record` the current result, adding its statement ids to those already kept;
        return the stored record (with every statement id)."""
        ...

    async def delete_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str, received_us: int
    ) -> bool:
        """Delete the result if its `received_us` is still that; False otherwise."""
        ...


def ordered_unique(ids: Sequence[str]) -> tuple[str, ...]:
    """The ids without repeats, first occurrence first."""
    return tuple(dict.fromkeys(ids))
