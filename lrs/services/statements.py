"""The statement service: the ONE write path for statements, and their reads.

Every statement, whether from the xAPI API, the SCORM adapter, the LTI adapter or an import,
passes through `store_statements`: validated, given `id`, `stored`, `authority`, `version` and
`timestamp` where the LRS assigns them, checked for conflicts and voiding rules, indexed, stored.

Outcomes of a write, reported per statement in a `WriteResult` (`lrs.services.outcomes`):
stored; already stored with equivalent content (accepted, not stored twice). A statement already
stored with different content fails the write (StatementConflict naming its id, nothing
stored), as does an invalid one (ValidationError, nothing stored).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson

from lrs.errors import BadRequest, NotFound, StatementConflict
from lrs.model.attachments import Attachment
from lrs.model.statements import (
    DefinitionUpdate,
    StatementFilter,
    StatementIndex,
    StatementRecord,
    StoredStatement,
)
from lrs.services.outcomes import WriteResult
from lrs.services.statement_prep import (
    PreparedBatch,
    PreparedStatement,
    prepare_batch,
    prepare_json,
    validated,
    with_context_activity_arrays,
)
from lrs.store.base import ActivityStore, AttachmentStore, StatementStore
from lrs.xapi.activities import (
    activity_ids,
    definitions_in,
    merger,
    names_of,
    with_canonical,
)
from lrs.xapi.agents import ifi_key
from lrs.xapi.attachments import Part, match_parts, referenced_hashes, require_file_urls
from lrs.xapi.comparison import statements_equivalent
from lrs.xapi.formats import LanguagePicker, canonical_format, ids_format
from lrs.xapi.query import SingleStatementRequest, StatementQuery
from lrs.xapi.signatures import check_signatures
from lrs.xapi.timestamps import StoredClock, format_us
from lrs.xapi.voiding import check_voidable, check_voiding_authority

log = logging.getLogger(__name__)
_MAX_INSERT_ATTEMPTS = 5

__all__ = ["StatementService", "with_context_activity_arrays"]


@dataclass(frozen=True)
class StatementView:
    """One statement as a client gets it: JSON bytes, and its stored time for Last-Modified."""

    raw: bytes
    stored_us: int


@dataclass(frozen=True)
class StatementResult:
    """A page of statements as JSON bytes, and the query for the next page if there is one."""

    statements: list[bytes]
    more: StatementQuery | None


class StatementService:
    """Stores and reads statements; see the module docstring for the outcomes."""

    def __init__(
        self,
        store: StatementStore,
        attachments: AttachmentStore,
        activities: ActivityStore,
        *,
        clock: StoredClock | None = None,
        page_size: int = 100,
        max_page_size: int = 1000,
        max_batch: int = 5000,
        max_attachment_bytes: int = 10 * 1024 * 1024,
        pool: Executor | None = None,
        pool_min_bytes: int = 64 * 1024,
    ) -> None:
        self._pool = pool
        self._pool_min_bytes = pool_min_bytes
        self._store = store
        self._attachments = attachments
        self._activities = activities
        self._max_batch = max_batch
        self._max_attachment_bytes = max_attachment_bytes
        self._clock = clock or StoredClock()
        self._page_size = page_size
        self._max_page_size = max_page_size
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every committed write that stored statements."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling `listener` (a no-op when it was not added)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def store_statements(
        self,
        body: Any,
        *,
        authority: dict[str, Any],
        version: str,
        parts: Sequence[Part] | None = None,
        keep_authority: bool = False,
        keep_stored: bool = False,
        may_define: bool = True,
        may_void_others: bool = False,
    ) -> WriteResult:
        """Validate and store one statement or a batch, all or nothing; what it did to each.

        `parts` are the attachment parts of a multipart/mixed request; without them every
        attachment must have a fileUrl. `may_define` says whether the caller may change
        canonical activity definitions (see `lrs.xapi.activities`). `keep_authority` and
        `keep_stored` (imports from another LRS) keep a statement's own `authority` and
        `stored` instead of assigning them; a statement without one still gets the LRS's.
        `may_void_others`: whether the caller may void statements another authority stored
        (without it, and without `keep_authority`, only its own: `check_voiding_authority`).
        """
        statements = validated(body, version, keep_stored=keep_stored, max_batch=self._max_batch)
        received = self._received_attachments(statements, parts)
        batch = prepare_batch(
            statements,
            authority,
            version,
            keep_authority=keep_authority,
            keep_stored=keep_stored,
        )
        void_as = _void_as(authority, may_void_others or keep_authority)
        return await self._store_prepared(batch, received, may_define, void_as)

    async def store_statements_json(
        self,
        body: bytes,
        *,
        authority: dict[str, Any],
        version: str,
        may_define: bool = True,
        may_void_others: bool = False,
    ) -> WriteResult:
        """`store_statements` for an application/json body not parsed yet (POST).

        The same checks and outcomes; a large body is parsed, validated, indexed and
        serialised in the process pool, if the service has one, so the event loop and the
        store's writer keep a core.
        """
        batch = None
        if self._pool is not None and len(body) >= self._pool_min_bytes:
            loop = asyncio.get_running_loop()
            try:
                batch = await loop.run_in_executor(
                    self._pool, prepare_json, body, authority, version, self._max_batch
                )
            except BrokenProcessPool:
                # A worker died (killed, out of memory): this request is prepared here
                # instead, and later ones too, rather than failing with a 500.
                log.error("the statement process pool is broken; preparing in-process")
                self._pool = None
        if batch is None:
            batch = prepare_json(body, authority, version, self._max_batch)
        void_as = _void_as(authority, may_void_others)
        return await self._store_prepared(batch, {}, may_define, void_as)

    async def _store_prepared(
        self,
        batch: PreparedBatch,
        received: dict[str, Attachment],
        may_define: bool,
        void_as: str | None,
    ) -> WriteResult:
        """`void_as`: the caller's authority key when it may void only its own statements."""
        prepared = batch.statements
        known = await self._related_stored(prepared)
        check_voidable({s.id: s.voids for s in prepared}, {t: s.voids for t, s in known.items()})
        if void_as is not None:
            targets = {s.voids for s in prepared if s.voids} - {s.id for s in prepared}
            owners = {t: _authority_key(known[t]) for t in targets if t in known}
            check_voiding_authority(targets, owners, void_as)
        ids = [s.id for s in prepared]
        pending = dict(zip(ids, prepared, strict=True))
        present: set[str] = set()
        if received:
            # Content-addressed, so storing it before the statements leaves nothing visible
            # half-written if the statements are then refused.
            await self._attachments.put_attachments(list(received.values()))
        for _attempt in range(_MAX_INSERT_ATTEMPTS):
            if not pending:
                return WriteResult(ids, frozenset(present))
            records = self._records(pending, known)
            if len(pending) == len(prepared):
                update = DefinitionUpdate(batch.definitions, merger(may_define))
            else:  # only what is stored now defines activities
                still = [orjson.loads(p.pending_raw) for p in pending.values()]
                update = DefinitionUpdate.of(definitions_in(still), merger(may_define))
            outcome = await self._store.insert_statements(
                records, update if update.encoded else None
            )
            if outcome.stored:
                for listener in self._listeners:
                    listener()
                return WriteResult(ids, frozenset(present))
            for sid, existing in outcome.existing.items():
                statement = orjson.loads(pending[sid].pending_raw)
                if not statements_equivalent(orjson.loads(existing.raw), statement):
                    raise StatementConflict(statement["id"])
                del pending[sid]  # 1.0.3 Part 3 §2.1.1: same statement again changes nothing
                present.add(sid)
        raise BadRequest("the statements could not be stored; retry the request")

    async def put_statement(
        self,
        statement_id: str,
        body: Any,
        *,
        authority: dict[str, Any],
        version: str,
        parts: Sequence[Part] | None = None,
        may_define: bool = True,
        may_void_others: bool = False,
    ) -> WriteResult:
        """PUT /statements: the body's id, if any, must match the statementId parameter."""
        if not isinstance(body, dict):
            raise BadRequest("PUT takes a single statement object")
        if "id" in body and str(body["id"]).lower() != statement_id.lower():
            raise BadRequest("the statement id does not match the statementId parameter")
        return await self.store_statements(
            {**body, "id": body.get("id", statement_id)},
            authority=authority,
            version=version,
            parts=parts,
            may_define=may_define,
            may_void_others=may_void_others,
        )

    def _received_attachments(
        self, statements: Sequence[dict[str, Any]], parts: Sequence[Part] | None
    ) -> dict[str, Attachment]:
        if parts is None:
            require_file_urls(statements)
            received: dict[str, Attachment] = {}
        else:
            received = match_parts(statements, parts, max_bytes=self._max_attachment_bytes)
        for statement in statements:
            check_signatures(statement, received)
        return received

    def attachment_hashes(self, raws: Sequence[bytes]) -> list[str]:
        """The hashes of the attachments the statements reference, each once, in order."""
        return list(dict.fromkeys(h for raw in raws for h in referenced_hashes(orjson.loads(raw))))

    async def attachment(self, sha2: str) -> Attachment | None:
        """One stored attachment's content (a streamed response reads them one at a time)."""
        return (await self._attachments.get_attachments([sha2])).get(sha2)

    async def attachments_for(self, raws: Sequence[bytes]) -> list[Attachment]:
        """The stored attachment content the statements reference (each hash once)."""
        hashes = self.attachment_hashes(raws)
        if not hashes:
            return []
        found = await self._attachments.get_attachments(hashes)
        return [found[h] for h in hashes if h in found]

    def _records(
        self, pending: dict[str, PreparedStatement], known: dict[str, StoredStatement]
    ) -> list[StatementRecord]:
        # No await between minting `stored` and handing the records to the store: the SQLite
        # writer then commits rows in the order of their stored times.
        stored_us = self._clock.now_us()
        stored = orjson.dumps(format_us(stored_us))
        with_stored = b',"stored":' + stored + b"}"
        with_both = b',"stored":' + stored + b',"timestamp":' + stored + b"}"
        in_batch: dict[str, StatementIndex] = {}
        records = []
        for sid, statement in pending.items():
            if statement.stored_us is None:
                # {**statement, "stored": stored}, then setdefault("timestamp", stored)
                tail = with_both if statement.timestamp_missing else with_stored
                raw = statement.raw[:-1] + tail
                own_us = stored_us
            else:
                raw, own_us = statement.raw, statement.stored_us
            index = statement.index
            target = statement.ref
            if target is not None:
                target_index = in_batch.get(target) or (
                    known[target].index if target in known else None
                )
                if target_index is not None:
                    index = index.merged(target_index)
            in_batch[sid] = index
            records.append(
                StatementRecord(
                    id=sid,
                    raw=raw,
                    stored_us=own_us,
                    index=index,
                    voids=statement.voids,
                    ref=target,
                )
            )
        return records

    async def _related_stored(
        self, statements: Sequence[PreparedStatement]
    ) -> dict[str, StoredStatement]:
        targets = {s.ref for s in statements if s.ref is not None}
        return await self._store.get_statements(sorted(targets)) if targets else {}

    async def get_statement(
        self,
        request: SingleStatementRequest,
        *,
        authority_filter: str | None = None,
        pick_language: LanguagePicker | None = None,
    ) -> StatementView:
        """GET by statementId (not voided) or voidedStatementId (voided only)."""
        found = (await self._store.get_statements([request.statement_id])).get(request.statement_id)
        # 1.0.3 Part 3 §2.1.4: a voided statement is returned only by voidedStatementId.
        # Another credential's statement, for one that reads only its own, is answered as
        # missing: a 403 would tell it the id exists.
        hidden = found is not None and authority_filter not in (None, *found.index.authorities)
        if found is None or found.voided != request.voided or hidden:
            raise NotFound(f"no statement {request.statement_id}")
        [raw] = await self._formatted([found.raw], request.format, pick_language)
        return StatementView(raw=raw, stored_us=found.stored_us)

    async def query_statements(
        self,
        query: StatementQuery,
        *,
        authority_filter: str | None = None,
        pick_language: LanguagePicker | None = None,
    ) -> StatementResult:
        """One page of statements matching the query, newest first unless ascending."""
        limit = query.limit or self._page_size
        page = await self._store.query_statements(
            StatementFilter(
                agent=query.agent,
                related_agents=query.related_agents,
                verb=query.verb,
                activity=query.activity,
                related_activities=query.related_activities,
                registration=query.registration,
                authority=authority_filter,
                since_us=query.since_us,
                until_us=query.until_us,
                ascending=query.ascending,
                limit=min(limit, self._max_page_size),
                after=query.after,
            )
        )
        raws = await self._formatted(page.statements, query.format, pick_language)
        more = query.next_page(page.next_position) if page.next_position else None
        return StatementResult(statements=raws, more=more)

    async def _formatted(
        self, raws: list[bytes], fmt: str, pick_language: LanguagePicker | None
    ) -> list[bytes]:
        """The statements in the requested format (1.0.3 Part 3 §2.1.3 `format`)."""
        if fmt == "ids":
            return [orjson.dumps(ids_format(orjson.loads(raw))) for raw in raws]
        if fmt != "canonical":
            return raws
        statements = [orjson.loads(raw) for raw in raws]
        ids = [i for statement in statements for i in activity_ids(statement)]
        canonical = await self._activities.get_activities(ids)
        out = []
        for statement in statements:
            with_canonical(statement, canonical)
            if pick_language is not None:
                statement = canonical_format(statement, pick_language)
            out.append(orjson.dumps(statement))
        return out

    async def agent_names(self, agent: dict[str, Any], *, sample: int = 100) -> list[str]:
        """Names used with this agent's IFI in its most recent statements (for /agents)."""
        key = ifi_key(agent)
        if key is None:
            return []
        page = await self._store.query_statements(StatementFilter(agent=key, limit=sample))
        names = [n for raw in page.statements for n in names_of(orjson.loads(raw), key)]
        return list(dict.fromkeys(names))

    def now_us(self) -> int:
        """The LRS's current stored-clock time (for Consistent-Through)."""
        return self._clock.now_us()


def _void_as(authority: dict[str, Any], may_void_others: bool) -> str | None:
    """The authority key voiding is limited to, or None when the caller may void anything."""
    return None if may_void_others else (ifi_key(authority) or "")


def _authority_key(stored: StoredStatement) -> str | None:
    """The IFI key of a stored statement's own authority (its index also holds its targets')."""
    return ifi_key(orjson.loads(stored.raw).get("authority"))
