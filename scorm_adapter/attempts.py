"""Per-attempt state of the runtime endpoint, and how a commit's order is decided.

A SCORM runtime commits the whole (or part of the) CMI data model again and again during a
session: on a timer, on LMSCommit/Commit, and a last time on LMSFinish/Terminate, usually as a
`navigator.sendBeacon` while the page unloads. Asynchronous commits can arrive out of order
and retried ones twice. The rules (docs/scorm.md):

1. **Sequence number.** A runtime that sends `seq` (a counter it increases with every commit of
   a session) gets exact ordering: a commit whose `seq` is not above the last applied one is
   *stale* and changes nothing (the same `seq` again with other data is a 409); a commit with
   a higher `seq` after the session finished is a 409.
2. **Otherwise, receipt order**, with two guards: once the session's final commit (`finish`)
   has been applied, every later commit of the session is stale (it was overtaken by the
   beacon); and a commit whose `cmi.core.session_time` / `cmi.session_time` is below the one
   already applied is stale (session time only grows within a session).
3. **Duplicates.** A commit identical to one already applied in the session (same elements,
   same `finish`) is a duplicate: nothing is written, whatever its `seq`.

Applied commits are merged into the attempt's snapshot (`{**snapshot, **commit}`: SCORM data
persists within an attempt, and a runtime may send only what changed), and the statements are
`convert_attempt(ctx, merged, previous=snapshot)` minus every statement id already sent for
the attempt — so a status that goes completed → incomplete → completed, or a replayed commit,
never regenerates an already-sent statement with a new timestamp (which the write path would
refuse as a conflict).

A new session of the same attempt (the LMS opens it again to resume) keeps the snapshot minus
the session-scoped elements (entry, exit, session time), the sent ids and the total time, and
starts a new sequence.

Entry comes from the attempt's lifecycle, not from the runtime's echo (cmi.entry is read-only to
the SCO, and a runtime the LMS loaded nothing into echoes ""): the first session of a new
attempt is `ab-initio`, a resumed one `resume`, unless the LMS gave `cmi.entry` when it opened
the session (its value wins). `entry_element` is merged over every applied commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

from lrs.errors import Conflict
from scorm_adapter.cmi import ScormVersion
from scorm_adapter.context import AttemptContext, canonical_json
from scorm_adapter.documents import duration_from_seconds, seconds
from scorm_adapter.errors import ScormDataError

MAX_DIGESTS = 64
_SESSION_ELEMENTS: dict[str, tuple[str, ...]] = {
    "1.2": ("cmi.core.entry", "cmi.core.exit", "cmi.core.session_time"),
    "2004": ("cmi.entry", "cmi.exit", "cmi.session_time"),
}
_SESSION_TIME = {"1.2": "cmi.core.session_time", "2004": "cmi.session_time"}


class CommitOrder(Enum):
    """What to do with a commit."""

    APPLY = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True)
class Commit:
    """One commit as received: its CMI elements, its sequence number, whether it is final."""

    elements: dict[str, str]
    seq: int | None = None
    finish: bool = False
    left_out: tuple[str, ...] = ()  # element names not in the data model, with why

    @property
    def digest(self) -> str:
        """A fingerprint of the commit's content (its elements and `finish`, not `seq`)."""
        text = canonical_json([sorted(self.elements.items()), self.finish])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class AttemptState:
    """Everything the endpoint keeps about one attempt (stored as JSON, see store/base.py).

    `pending` holds the statements of the last applied commit until they are confirmed stored
    (and `pending_documents` whether its documents still have to be written): a crash between
    the state change and the write is repaired by the next request on the attempt.
    """

    learner: dict[str, Any]
    course_iri: str
    sco_iri: str
    attempt_iri: str
    version: ScormVersion
    session: str
    authority: dict[str, Any]
    credential_key: str
    registration: str | None = None
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    snapshot: dict[str, str] = field(default_factory=dict)
    seq: int | None = None
    finished: bool = False
    digests: tuple[str, ...] = ()
    sent: tuple[str, ...] = ()
    may_define: bool = False
    total_seconds: str = "0"
    total_known: bool = False
    pending: tuple[dict[str, Any], ...] = ()
    pending_documents: bool = False
    # The session's cmi.entry, from the attempt's lifecycle or the LMS; None in older states.
    entry: str | None = None

    def to_json(self) -> bytes:
        """The state as JSON bytes."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> AttemptState:
        """The state from `to_json` bytes."""
        data = orjson.loads(raw)
        for name in ("digests", "sent", "pending"):
            data[name] = tuple(data[name])
        return cls(**data)

    def context(self, *, timestamp: str, session_ended: bool | None) -> AttemptContext:
        """The AttemptContext of this attempt's current session."""
        return AttemptContext(
            learner=self.learner,
            course_iri=self.course_iri,
            sco_iri=self.sco_iri,
            attempt=self.attempt_iri,
            version=self.version,
            registration=self.registration,
            timestamp=timestamp,
            session=self.session,
            session_ended=session_ended,
            course_name=self.names.get("course_name"),
            course_description=self.names.get("course_description"),
            sco_name=self.names.get("sco_name"),
            sco_description=self.names.get("sco_description"),
        )

    def new_session(
        self, session: str, authority: dict[str, Any], credential_key: str
    ) -> AttemptState:
        """This attempt in a new session: session-scoped elements and ordering reset."""
        dropped = _SESSION_ELEMENTS[self.version]
        return replace(
            self,
            session=session,
            authority=authority,
            credential_key=credential_key,
            snapshot={k: v for k, v in self.snapshot.items() if k not in dropped},
            seq=None,
            finished=False,
            digests=(),
        )

    def entry_element(self) -> dict[str, str]:
        """`{cmi.entry: value}` as the LRS knows it (entry is read-only to the SCO: RTE)."""
        if self.entry is None:
            return {}
        return {_SESSION_ELEMENTS[self.version][0]: self.entry}

    @property
    def total_time(self) -> Decimal:
        """Time spent in the attempt's finished sessions, in seconds (see `total_known`)."""
        return Decimal(self.total_seconds)

    def total_time_document(self) -> dict[str, str]:
        """`{"total_time": ISO 8601}` for the attempt state once it is known, else nothing.

        SCORM's total time is the LMS's sum of the session times (RTE: cmi.total_time is
        read-only to the SCO): the LMS's value when it opened the attempt, plus the
        session_time of each session finished here. Unknown until one of those is reported.
        """
        if not self.total_known:
            return {}
        return {"total_time": duration_from_seconds(self.total_time)}


def order_commit(state: AttemptState, commit: Commit) -> CommitOrder:
    """Apply, duplicate or stale, by the rules of the module docstring; 409 when impossible."""
    if commit.digest in state.digests:
        return CommitOrder.DUPLICATE
    if commit.seq is not None and state.seq is not None:
        if commit.seq == state.seq:
            raise Conflict(f"commit seq {commit.seq} was already applied with other data")
        if commit.seq < state.seq:
            return CommitOrder.STALE
    if state.finished:
        if commit.seq is not None and state.seq is not None:
            raise Conflict(
                "this attempt session has finished; open the attempt again to continue it"
            )
        return CommitOrder.STALE
    if commit.seq is None and _older_session_time(state, commit):
        return CommitOrder.STALE
    return CommitOrder.APPLY


def applied(state: AttemptState, commit: Commit, merged: Mapping[str, str]) -> AttemptState:
    """The state after `commit` is applied, with `merged` as the new snapshot."""
    total, known = state.total_time, state.total_known
    if commit.finish:
        name = _SESSION_TIME[state.version]
        session_time = merged.get(name)
        elapsed = seconds(name, session_time, state.version) if session_time else None
        if elapsed is not None:
            total, known = total + elapsed, True
    return replace(
        state,
        snapshot=dict(merged),
        seq=commit.seq if commit.seq is not None else state.seq,
        finished=commit.finish,
        digests=(*state.digests, commit.digest)[-MAX_DIGESTS:],
        total_seconds=str(total),
        total_known=known,
    )


def _older_session_time(state: AttemptState, commit: Commit) -> bool:
    name = _SESSION_TIME[state.version]
    new, old = commit.elements.get(name), state.snapshot.get(name)
    if not (new and new.strip() and old and old.strip()):
        return False
    try:
        new_s, old_s = (seconds(name, v, state.version) for v in (new, old))
    except ScormDataError:
        return False  # reported when the commit is converted
    return new_s is not None and old_s is not None and new_s < old_s
