"""The data-quality queue: what the projection could not map, kept for an operator to see.

A statement's contribution may be partly or wholly unusable: a score without a usable scale,
a certificate URL that is not one, an enrollment value the mapping does not know, an activity
outside the marketplace's scope that still carries a completion or a score, an actor that maps
to nobody while unknown learners are held, an address two members claim. Dropping such data
silently is what the queue prevents: each is an item (statement id, member when known, field,
reason, offending value; `projections.store.quality`), listed by `lrs quality` and
`GET /marketplace/v1/quality`, counted in `/metrics`.

The worker writes a batch's issues in one store call, none per statement, nor per slice of a
large batch (`QualityRecorder.hold`, then `write`); re-projecting a statement (`reconcile
--fix`, `lrs quality retry`, a new mapping) resolves its items that no longer apply, and an
actor matched later resolves its identity items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from projections.identity import ACCOUNT, EMAIL
from projections.store.base import Fact, IdentityStore
from projections.store.quality import DISMISSED, OPEN, QualityIssue, QualityItem, QualityStore
from projections.transforms import format_datetime

if TYPE_CHECKING:
    from projections.facts import Contribution

SCORE = "score_without_scale"
CERTIFICATE = "invalid_certificate_url"
ENROLLMENT = "unknown_enrollment_state"
INVALID = "invalid_value"
OUT_OF_SCOPE = "out_of_scope_with_result"
UNKNOWN_LEARNER = "unknown_learner"
CONFLICT = "identity_conflict"

REASONS: dict[str, str] = {
    SCORE: "a score whose scale cannot be told (raw above max, no max, max 0, ...): no score",
    CERTIFICATE: "a certificate reference that is not an http(s) URL: no certificate",
    ENROLLMENT: "an enrollment state the mapping does not know: no enrollment state",
    INVALID: "a value of the wrong type for its field: that field is left empty",
    OUT_OF_SCOPE: "an activity outside the mapping's scope carries a completion or score",
    UNKNOWN_LEARNER: "the actor maps to no member (unknown learners are held)",
    CONFLICT: "the actor's address or account is claimed by several members",
}
IDENTITY_REASONS = (UNKNOWN_LEARNER, CONFLICT)
_BY_FIELD = {"score": SCORE, "certificate_ref": CERTIFICATE, "enrollment_state": ENROLLMENT}


def mapping_issues(
    statement_id: str, activity_id: str | None, rejected: Iterable[tuple[str, Any]]
) -> list[QualityIssue]:
    """The issues of the values the mapping refused (`Mapping.extract`'s `rejected`)."""
    return [
        QualityIssue(statement_id, _BY_FIELD.get(field, INVALID), field, value, None, activity_id)
        for field, value in rejected
    ]


def out_of_scope_issue(
    statement_id: str, activity_id: str | None, result: Mapping[str, Any] | None
) -> list[QualityIssue]:
    """An out-of-scope statement's completion or score (`scope.result_summary`), if any."""
    if result is None:
        return []
    return [QualityIssue(statement_id, OUT_OF_SCOPE, "result", dict(result), None, activity_id)]


class QualityRecorder:
    """The worker's hook: a batch's issues, with their members, in one write."""

    def __init__(
        self,
        store: QualityStore,
        identities: IdentityStore,
        mapping_version: Callable[[], str],
        clock: Callable[[], int],
    ) -> None:
        self._store = store
        self._identities = identities
        self._version = mapping_version
        self._clock = clock

    async def note(
        self,
        settled: Sequence[str],
        issues: Sequence[QualityIssue],
        held: Sequence[Contribution | Fact],
        members: Mapping[str, str | None],
    ) -> None:
        """Record the batch's issues (with the member of their statement, `members`, and an
        item per held contribution), and resolve the other open items of the `settled`
        statements (projected again, or voided)."""
        notes = HeldNotes()
        await self.hold(notes, settled, issues, held, members)
        await self.write(notes)

    async def hold(
        self,
        notes: HeldNotes,
        settled: Sequence[str],
        issues: Sequence[QualityIssue],
        held: Sequence[Contribution | Fact],
        members: Mapping[str, str | None],
    ) -> None:
        """`note`, kept in `notes` to be written later (`write`) with the notes of other
        slices of a batch, in one write, as if each had been written in turn."""
        start = len(notes.found)
        notes.found += [_with_member(i, members.get(i.statement_id)) for i in issues]
        notes.found += await self._identity_issues(held)
        notes.settled.update(dict.fromkeys(settled, start))

    async def write(self, notes: HeldNotes) -> None:
        """Write what `hold` kept: one write of the items, one of the resolutions."""
        now = self._clock()
        if notes.found:
            await self._store.record_issues(notes.found, self._version(), now)
        if notes.settled:
            await self._store.resolve_issues(list(notes.settled), notes.kept(), now)

    async def note_moved(self, moved: Sequence[Fact], held: Sequence[Fact]) -> None:
        """Facts re-resolved: identity items of those now matched resolve, held ones open."""
        matched = [f.statement_id for f in moved if f.member_id is not None]
        now = self._clock()
        if matched:
            await self._store.resolve_issues(matched, (), now, reasons=IDENTITY_REASONS)
        found = await self._identity_issues(held)
        if found:
            await self._store.record_issues(found, self._version(), now)

    async def _identity_issues(self, held: Sequence[Contribution | Fact]) -> list[QualityIssue]:
        """An item per held contribution: a conflict when several members claim its key."""
        if not held:
            return []
        keys = sorted({c.actor_key for c in held if c.actor_key.startswith((EMAIL, ACCOUNT))})
        claims = await self._identities.claims_for(keys) if keys else {}
        issues = []
        for c in held:
            claimants = sorted({claim.member_id for claim in claims.get(c.actor_key, [])})
            reason = CONFLICT if len(claimants) > 1 else UNKNOWN_LEARNER
            value: Any = (
                {"actor": c.actor_key, "claimants": claimants} if claimants else c.actor_key
            )
            issues.append(QualityIssue(c.statement_id, reason, "actor", value, None, c.activity_id))
        return issues


@dataclass
class HeldNotes:
    """Quality notes of several slices held to be written at once (`QualityRecorder.hold`).

    Why: while a backlog drains, a slice's items went in a write of their own, and each write
    of a few thousand items (random keys: statement ids) dirtied most pages of the queue's
    indexes again; one write per batch dirties each once. Alternate drains of a 1,000,000
    backlog (docs/performance.md): the slices 49.4 s and 49.4 s against 55.9 s and 57.5 s.

    Written in one go, the notes end as if each slice's had been written in turn: an item of
    a settled statement (`settled`: where in `found` the last slice settling it began) stays
    open when found by that slice or a later one, and is resolved otherwise."""

    found: list[QualityIssue] = field(default_factory=list)
    settled: dict[str, int] = field(default_factory=dict)

    def kept(self) -> set[str]:
        """The items of settled statements that stay open (see the class doc)."""
        settled = self.settled
        return {
            issue.item_id
            for n, issue in enumerate(self.found)
            if (start := settled.get(issue.statement_id)) is not None and n >= start
        }


def _with_member(issue: QualityIssue, member: str | None) -> QualityIssue:
    return QualityIssue(
        issue.statement_id, issue.reason, issue.field, issue.value, member, issue.activity_id
    )


async def grouped(store: QualityStore, state: str = OPEN, examples: int = 3) -> list[dict]:
    """Per reason: its count, what it means, and a few example items (the product owner's
    view: what to fix in the LMS)."""
    counts = await store.reason_counts(state)
    groups = []
    for reason, count in counts.items():
        items = await store.list_items(state, reason=reason, limit=examples)
        groups.append(
            {
                "reason": reason,
                "description": REASONS.get(reason, ""),
                "count": count,
                "examples": [item_view(i) for i in items],
            }
        )
    return groups


def item_view(item: QualityItem) -> dict[str, Any]:
    """An item as the API and the CLI show it."""
    issue = item.issue
    return {
        "id": item.item_id,
        "statement_id": issue.statement_id,
        "member_id": issue.member_id,
        "activity_id": issue.activity_id,
        "field": issue.field,
        "reason": issue.reason,
        "value": issue.value,
        "state": item.state,
        "mapping_version": item.mapping_version,
        "first_seen_at": format_datetime(item.first_seen_us),
        "last_seen_at": format_datetime(item.last_seen_us),
    }


async def open_statement_ids(
    store: QualityStore,
    reason: str | None = None,
    page: int = 500,
    *,
    older_than: str | None = None,
) -> list[str]:
    """The statements with open items (of `reason`; recorded under another mapping version
    than `older_than`, when given), for `lrs quality retry` and `lrs reconcile --fix`."""
    ids: dict[str, None] = {}
    after = None
    while True:
        items = await store.list_items(OPEN, reason=reason, limit=page, after=after)
        if not items:
            return list(ids)
        ids.update(
            (i.issue.statement_id, None)
            for i in items
            if older_than is None or i.mapping_version != older_than
        )
        after = items[-1].item_id


async def statements_of_items(
    store: QualityStore, item_ids: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The statements of these items, each once, and the item ids that do not exist (an
    action on items names them all before it changes anything)."""
    items = [await store.get_item(i) for i in item_ids]
    missing = [i for i, item in zip(item_ids, items, strict=True) if item is None]
    found = [item.issue.statement_id for item in items if item is not None]
    return list(dict.fromkeys(found)), missing


async def dismiss(store: QualityStore, item_ids: Sequence[str], now_us: int) -> int:
    """Mark items as fine as they are; they stay dismissed when seen again."""
    return await store.set_state(item_ids, DISMISSED, now_us)


async def retry(
    store: QualityStore,
    reapply: Callable[[Sequence[str]], Awaitable[None]],
    statement_ids: Sequence[str],
    page: int = 500,
) -> int:
    """Project these statements again with the mapping and identity map as they are now (a
    page at a time); their items that now map are resolved. How many open items remain."""
    for start in range(0, len(statement_ids), page):
        await reapply(statement_ids[start : start + page])
    return sum((await store.reason_counts(OPEN)).values())
