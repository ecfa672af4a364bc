"""The SCORM runtime endpoint's service: open an attempt, apply a commit.

    open_attempt(request, principal)   the LMS (HTTP Basic, statements/write) opens an attempt
                                       session: the attempt's state is created or resumed (only
                                       by the credential that created it: 403 otherwise), the
                                       activity state lists the attempt, the LMS's data goes to
                                       the profile's documents; a signed commit URL and the
                                       CMI values to start from come back (starting_data.py)
    commit(token, body)                a runtime commits CMI data: ordered (attempts.py),
                                       converted (mapping.py), stored through the statement
                                       service, documents written (docwriter.py)

Outcomes of a commit: applied (the ids of the new statements); duplicate or stale (nothing
written, still a success for the runtime); 400 (a CMI element that cannot be mapped, named);
401 / 403 (an expired or forged token, a revoked credential); 409 (a `seq` reused with other
data, a commit after the session finished, a superseded session).

Crash safety without transactions: the state change that applies a commit also records the
commit's statements as `pending` (with their timestamps); they are then stored and the pending
mark cleared. A crash in between leaves the mark, and the next request on the attempt stores
them first (the statement service accepts the same statement twice). So an applied commit's
statements are stored exactly once in effect, and never regenerated with another timestamp.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lrs.auth import STATEMENTS_WRITE, Principal, require
from lrs.errors import Conflict, Forbidden, LRSError, NotFound, ValidationError
from lrs.services.documents import DocumentService
from lrs.services.statements import StatementService
from lrs.store.base import CredentialStore
from lrs.xapi.validation import validate_statements
from lrs.xapi.versions import XAPI_VERSION
from scorm_adapter.attempts import (
    AttemptState,
    CommitOrder,
    applied,
    order_commit,
)
from scorm_adapter.context import SCORM_NAMESPACE, AttemptContext, canonical_json, learner_key
from scorm_adapter.documents import (
    check_lms_elements,
    iso_time,
    lms_documents,
    sco_documents,
    seconds,
)
from scorm_adapter.docwriter import DocumentWriter
from scorm_adapter.errors import ScormDataError
from scorm_adapter.limits import DEFAULT_FACTOR, check_value_lengths
from scorm_adapter.mapping import convert_attempt
from scorm_adapter.request_bodies import CommitBody, OpenRequest
from scorm_adapter.starting_data import starting_elements
from scorm_adapter.store.base import AttemptRecord, AttemptStore
from scorm_adapter.tokens import CommitClaims, TokenSigner
from scorm_adapter.vocabulary import verb

log = logging.getLogger(__name__)

_TRIES = 16
_TOTAL_TIME = {"1.2": "cmi.core.total_time", "2004": "cmi.total_time"}
_ENTRY = {"1.2": "cmi.core.entry", "2004": "cmi.entry"}
ENTRY_VALUES = ("ab-initio", "resume", "")
_FIELDS = {"course_iri": "course", "sco_iri": "sco", "version": "scormVersion"}
_PROBE_FIELDS = (("actor", "learner"), ("object", "sco"), ("context", "course"))


class AttemptOwnedElsewhere(Forbidden):
    """Another credential opened this attempt (its commit URL and authority stay as they are)."""

    code = "attempt_owned_elsewhere"


@dataclass(frozen=True)
class OpenedAttempt:
    """The answer to opening an attempt."""

    attempt_id: str
    attempt_iri: str
    session: str
    token: str
    expires: int
    resumed: bool
    left_out: tuple[str, ...] = ()
    starting: dict[str, str] = field(default_factory=dict)  # flat CMI to start from


@dataclass(frozen=True)
class CommitOutcome:
    """The answer to a commit: what happened, the new statements' ids, where the session is."""

    status: CommitOrder
    statement_ids: tuple[str, ...]
    seq: int | None
    finished: bool
    left_out: tuple[str, ...] = ()


class ScormService:
    """Opens attempt sessions and applies commits (module docstring)."""

    def __init__(
        self,
        statements: StatementService,
        documents: DocumentService,
        attempts: AttemptStore,
        credentials: CredentialStore,
        signer: TokenSigner,
        *,
        token_ttl_s: int,
        max_value_factor: int = DEFAULT_FACTOR,
        clock: Any = time.time,
    ) -> None:
        self._statements = statements
        self._writer = DocumentWriter(documents)
        self._attempts = attempts
        self._credentials = credentials
        self._signer = signer
        self._ttl = token_ttl_s
        self._clock = clock
        self._max_value_factor = max_value_factor

    async def open_attempt(self, request: OpenRequest, principal: Principal) -> OpenedAttempt:
        """Create the attempt or start a new session of it; its commit token."""
        require(principal, STATEMENTS_WRITE)
        session = str(uuid.uuid4())
        ctx = _context(request, session)
        _check_xapi(ctx)
        check_lms_elements(request.lms_data, request.version)
        check_value_lengths(request.lms_data, request.version, self._max_value_factor)
        lms_docs = lms_documents(request.lms_data, request.version)
        attempt_id = _attempt_id(ctx)
        state, resumed = await self._start_session(attempt_id, ctx, request, principal)
        await self._writer.add_attempt(state)
        await self._writer.write(state, lms_docs)
        expires = int(self._clock()) + self._ttl
        token = self._signer.sign(CommitClaims(attempt_id, session, expires))
        return OpenedAttempt(
            attempt_id=attempt_id,
            attempt_iri=ctx.attempt_iri,
            session=session,
            token=token,
            expires=expires,
            resumed=resumed,
            left_out=lms_docs.left_out,
            starting=starting_elements(state, request.lms_data, resumed),
        )

    def check_token(self, token: str) -> None:
        """Refuse a forged, malformed or expired commit URL before its body is read."""
        self._signer.verify(token, self._clock())

    async def commit(self, token: str, body: CommitBody) -> CommitOutcome:
        """Apply one commit of the session the token names (module docstring)."""
        claims = self._signer.verify(token, self._clock())
        for _try in range(_TRIES):
            record = await self._record(claims.attempt_id)
            state = AttemptState.from_json(record.state)
            if state.session != claims.session:
                raise Conflict("a newer session of this attempt has been opened; use its URL")
            await self._check_credential(state)
            if state.pending or state.pending_documents:
                await self._settle(record)
                continue
            outcome = await self._apply(record, state, body)
            if outcome is not None:
                return outcome
        raise Conflict("the attempt kept changing while this commit tried to apply; retry")

    async def _apply(
        self, record: AttemptRecord, state: AttemptState, body: CommitBody
    ) -> CommitOutcome | None:
        """Decide and apply; None when another request changed the attempt meanwhile."""
        commit = body.commit(state.version)
        check_value_lengths(commit.elements, state.version, self._max_value_factor)
        order = order_commit(state, commit)
        if order is not CommitOrder.APPLY:
            return CommitOutcome(order, (), state.seq, state.finished)
        merged = {**state.snapshot, **commit.elements, **state.entry_element()}
        ctx = state.context(timestamp=_now_iso(self._clock()), session_ended=commit.finish or None)
        converted = convert_attempt(ctx, merged, previous=state.snapshot or None)
        sent = set(state.sent)
        new = [s for s in converted if s["id"] not in sent]
        if new:
            validate_statements(new, XAPI_VERSION)  # a 400 naming the path, before any write
        docs = sco_documents(merged, state.version)  # ScormDataError before any write
        next_state = replace(
            applied(state, commit, merged),
            sent=(*state.sent, *(s["id"] for s in new)),
            pending=tuple(new),
            pending_documents=True,
        )
        updated = _next_record(record, next_state, self._clock())
        if not await self._attempts.replace_attempt(updated, expected_revision=record.revision):
            return None
        await self._settle(updated)
        ids = tuple(s["id"] for s in new)
        left_out = (*commit.left_out, *docs.left_out)
        return CommitOutcome(CommitOrder.APPLY, ids, next_state.seq, next_state.finished, left_out)

    async def _start_session(
        self, attempt_id: str, ctx: AttemptContext, request: OpenRequest, principal: Principal
    ) -> tuple[AttemptState, bool]:
        authority, key = principal.authority, principal.credential.key
        may_define = principal.has_any("define", "all")
        total, entry = _lms_total(request), _lms_entry(request)
        for _try in range(_TRIES):
            record = await self._attempts.get_attempt(attempt_id)
            if record is None:
                state = _new_state(ctx, request, authority, key, may_define, total)
                state = replace(state, entry="ab-initio" if entry is None else entry)
                fresh = AttemptRecord(attempt_id, 0, state.to_json(), _us(self._clock()))
                if await self._attempts.create_attempt(fresh):
                    return state, False
                continue
            current = AttemptState.from_json(record.state)
            _check_owner(current, key)
            if current.pending or current.pending_documents:
                await self._settle(record)
                continue
            if current.version != ctx.version:
                raise Conflict(f"this attempt is SCORM {current.version}, not {ctx.version}")
            state = current.new_session(ctx.session or "", authority, key)
            state = replace(
                state, may_define=may_define, entry="resume" if entry is None else entry
            )
            if total is not None:
                state = replace(state, total_seconds=str(total), total_known=True)
            updated = _next_record(record, state, self._clock())
            if await self._attempts.replace_attempt(updated, expected_revision=record.revision):
                return state, True
        raise Conflict("the attempt kept changing while it was being opened; retry")

    async def _settle(self, record: AttemptRecord) -> None:
        """Store the pending statements, write the documents, clear the pending mark."""
        state = AttemptState.from_json(record.state)
        if state.pending:
            await self._store(state)
        if state.pending_documents:
            docs = sco_documents(state.snapshot, state.version)
            extra = state.total_time_document()
            if extra:
                docs = replace(docs, attempt_state={**docs.attempt_state, **extra})
            await self._writer.write(state, docs)
        cleared = replace(state, pending=(), pending_documents=False)
        # Lost race: whoever changed the record settled this first (it settles before it acts).
        await self._attempts.replace_attempt(
            _next_record(record, cleared, self._clock()), expected_revision=record.revision
        )

    async def _store(self, state: AttemptState) -> None:
        try:
            await self._write(state, list(state.pending))
            return
        except LRSError as error:
            if error.status >= 500:
                raise
        # One of them cannot be stored (another writer holds its id with other content):
        # store the others, and say which one, rather than block the attempt forever.
        for statement in state.pending:
            try:
                await self._write(state, statement)
            except LRSError as error:
                if error.status >= 500:
                    raise
                log.error("SCORM statement %s not stored: %s", statement["id"], error.message)

    async def _write(self, state: AttemptState, body: Any) -> None:
        await self._statements.store_statements(
            body, authority=state.authority, version=XAPI_VERSION, may_define=state.may_define
        )

    async def _record(self, attempt_id: str) -> AttemptRecord:
        record = await self._attempts.get_attempt(attempt_id)
        if record is None:
            raise NotFound("no such attempt; open it again")
        return record

    async def _check_credential(self, state: AttemptState) -> None:
        credential = await self._credentials.get_credential(state.credential_key)
        if credential is None or credential.revoked:
            raise Forbidden("the credential that opened this attempt has been revoked")


def _check_owner(state: AttemptState, credential_key: str) -> None:
    """An attempt belongs to the credential that opened it: another one may not take it over."""
    if state.credential_key != credential_key:
        raise AttemptOwnedElsewhere(
            "this attempt was opened by another credential; only that credential can resume it"
        )


def _context(request: OpenRequest, session: str) -> AttemptContext:
    attempt = request.attempt
    if attempt is None:  # a new attempt: an IRI nobody used before
        separator = "&" if "?" in request.sco_iri else "?"
        attempt = f"{request.sco_iri}{separator}attemptId={uuid.uuid4()}"
    try:
        return AttemptContext(
            learner=request.learner,
            course_iri=request.course_iri,
            sco_iri=request.sco_iri,
            attempt=attempt,
            version=request.version,
            registration=request.registration,
            session=session,
            course_name=request.names.get("course_name"),
            course_description=request.names.get("course_description"),
            sco_name=request.names.get("sco_name"),
            sco_description=request.names.get("sco_description"),
        )
    except ScormDataError as exc:  # named as the open request names it
        raise ScormDataError(_FIELDS.get(exc.element, exc.element), exc.problem) from None


def _check_xapi(ctx: AttemptContext) -> None:
    """A 400 naming the field when the learner or the IRIs would make invalid statements."""
    probe = {
        "actor": dict(ctx.learner),
        "verb": verb("initialized"),
        "object": {"id": ctx.sco_iri},
        "context": {"contextActivities": {"grouping": [{"id": ctx.course_iri}]}},
    }
    try:
        validate_statements(probe, XAPI_VERSION)
    except ValidationError as exc:
        for prefix, field in _PROBE_FIELDS:
            if exc.path.startswith(prefix):
                raise ScormDataError(field + exc.path[len(prefix) :], exc.message) from None
        raise


def _attempt_id(ctx: AttemptContext) -> str:
    """The attempt's id in the endpoint's store: stable, so opening it again resumes it."""
    key: list[Any] = ["endpoint-attempt", learner_key(ctx.learner), ctx.course_iri]
    key += [ctx.sco_iri, ctx.registration, ctx.attempt_iri]
    return str(uuid.uuid5(SCORM_NAMESPACE, canonical_json(key)))


def _lms_total(request: OpenRequest) -> Decimal | None:
    name = _TOTAL_TIME[request.version]
    value = request.lms_data.get(name)
    if not value or not value.strip():
        return None
    iso_time(name, value, request.version)
    return seconds(name, value, request.version)


def _lms_entry(request: OpenRequest) -> str | None:
    """The LMS's explicit cmi.entry for this session, if it gave one (it wins over ours)."""
    name = _ENTRY[request.version]
    if name not in request.lms_data:
        return None
    value = request.lms_data[name].strip()
    if value not in ENTRY_VALUES:
        shown = ", ".join(repr(item) for item in ENTRY_VALUES)
        raise ScormDataError(name, f"expected one of {shown}, got {value!r}")
    return value


def _new_state(
    ctx: AttemptContext,
    request: OpenRequest,
    authority: dict[str, Any],
    credential_key: str,
    may_define: bool,
    total: Decimal | None,
) -> AttemptState:
    return AttemptState(
        learner=dict(ctx.learner),
        course_iri=ctx.course_iri,
        sco_iri=ctx.sco_iri,
        attempt_iri=ctx.attempt_iri,
        version=ctx.version,
        session=ctx.session or "",
        authority=authority,
        credential_key=credential_key,
        registration=ctx.registration,
        names=dict(request.names),
        may_define=may_define,
        total_seconds=str(total or 0),
        total_known=total is not None,
    )


def _next_record(record: AttemptRecord, state: AttemptState, now: float) -> AttemptRecord:
    return AttemptRecord(record.attempt_id, record.revision + 1, state.to_json(), _us(now))


def _us(now: float) -> int:
    return int(now * 1_000_000)


def _now_iso(now: float) -> str:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
