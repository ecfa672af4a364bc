"""The pure, CPU-bound part of storing statements: parse, validate, assign, index, serialise.

Nothing here awaits, reads a store or keeps state, so the statement service may run it in a
process pool for large batches (`prepare_json`) and in-process otherwise, with the same
outcomes: the same LRSErrors (they pickle with their details) and the same records. What
depends on the store (StatementRef targets, voiding rules, conflicts) and the `stored` time
stay in the service: `stored` is minted there and spliced into `PreparedStatement.raw`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from lrs.errors import BadRequest, PayloadTooLarge
from lrs.gc_tuning import tune_for_serving
from lrs.model.statements import StatementIndex, definition_json
from lrs.xapi.activities import definitions_in
from lrs.xapi.agents import ifi_key
from lrs.xapi.attachments import require_file_urls
from lrs.xapi.depth import check_depth
from lrs.xapi.indexing import index_statement, statement_ref_target
from lrs.xapi.signatures import check_signatures
from lrs.xapi.timestamps import timestamp_us
from lrs.xapi.validation import compile_validators, validate_statements
from lrs.xapi.versions import V2
from lrs.xapi.voiding import voided_target


class PreparedStatement(NamedTuple):
    """One statement with the properties the LRS assigns, except `stored` (see `raw`).

    `raw` is the statement's JSON. When `stored_us` is None the LRS's stored time is still to
    be added: `raw` then lacks `stored` (and `timestamp`, when `timestamp_missing`), and the
    service appends them, as `{**statement, "stored": s}` then `setdefault("timestamp", s)`
    would. Otherwise (an import keeping its own `stored`) `raw` is final.
    `pending_raw` is the statement before `stored`/`timestamp` defaults (for conflict checks).

    A NamedTuple rather than a dataclass: pool workers send a hundred of these back for every
    batch, and the server process unpickles a tuple for about half what a dataclass costs.
    """

    id: str  # lower-cased
    raw: bytes
    stored_us: int | None
    timestamp_missing: bool
    index: StatementIndex  # type: ignore[assignment]  # shadows tuple.index, never called
    voids: str | None
    ref: str | None
    pending_raw: bytes


@dataclass(frozen=True)
class PreparedBatch:
    statements: list[PreparedStatement]
    # activity id -> the definition the batch carries, as `definition_json`
    definitions: dict[str, bytes]


def parse_json(body: bytes) -> Any:
    """The JSON of a request body, or the 400 the statements resource answers."""
    if not body:
        raise BadRequest("the request has no statement")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    check_depth(parsed, "the statement body")
    return parsed


def validated(body: Any, version: str, *, keep_stored: bool, max_batch: int) -> list[dict]:
    """Schema and rules, then the checks that need no store, in the service's order."""
    statements = validate_statements(body, version)
    if keep_stored:
        check_stored(statements)
    if len(statements) > max_batch:
        raise PayloadTooLarge(f"a batch holds at most {max_batch} statements")
    return statements


def check_stored(statements: Sequence[dict[str, Any]]) -> None:
    """A kept `stored` must be a timestamp (the schema checks its form; this, that it parses)."""
    for index, statement in enumerate(statements):
        if "stored" in statement:
            timestamp_us(statement["stored"], path=f"[{index}].stored")


def prepare_batch(
    statements: Sequence[dict[str, Any]],
    authority: dict[str, Any],
    version: str,
    *,
    keep_authority: bool,
    keep_stored: bool,
) -> PreparedBatch:
    """Assign id, authority and version; index and serialise each statement."""
    prepared = [prepare(s, authority, version, keep_authority) for s in statements]
    out = []
    for statement in prepared:
        pending_raw = orjson.dumps(statement)
        own = keep_stored and "stored" in statement
        if own:
            final = dict(statement)
            final.setdefault("timestamp", final["stored"])
            raw, stored_us, timestamp_missing = (
                orjson.dumps(final),
                timestamp_us(final["stored"]),
                False,
            )
        else:
            timestamp_missing = "timestamp" not in statement
            if "stored" in statement:  # a client's own stored is replaced by the LRS's
                without = dict(statement)
                del without["stored"]
                raw = orjson.dumps(without)
            else:
                raw = pending_raw
            stored_us = None
        out.append(
            PreparedStatement(
                id=statement["id"].lower(),
                raw=raw,
                stored_us=stored_us,
                timestamp_missing=timestamp_missing,
                index=index_statement(statement, ifi_key(statement.get("authority"))),
                voids=voided_target(statement),
                ref=statement_ref_target(statement),
                pending_raw=pending_raw,
            )
        )
    definitions = {i: definition_json(d) for i, d in definitions_in(prepared).items()}
    return PreparedBatch(statements=out, definitions=definitions)


def prepare_json(
    body: bytes, authority: dict[str, Any], version: str, max_batch: int
) -> PreparedBatch:
    """A whole application/json POST body (no attachment parts), as the pool runs it."""
    statements = validated(parse_json(body), version, keep_stored=False, max_batch=max_batch)
    require_file_urls(statements)
    for statement in statements:
        check_signatures(statement, {})
    return prepare_batch(statements, authority, version, keep_authority=False, keep_stored=False)


# How much lower a pool worker's CPU priority is than the server's (POSIX nice increment; the
# lowest priority there is).
WORKER_NICENESS = 19


def start_worker() -> None:
    """Pool worker initializer: the serving GC thresholds (`lrs.gc_tuning`), and a lower CPU
    priority than the server process (`yield_to_the_writer`)."""
    tune_for_serving()
    yield_to_the_writer()


def yield_to_the_writer() -> None:
    """Run at a lower CPU priority than the server process.

    Why: on a small machine the workers, the event loop and the SQLite writer thread share the
    cores, and the writer is the one stage every statement passes through one at a time, while
    the workers have slack (several prepare batches side by side). At equal priority the
    scheduler shares cores evenly and the writer waits; measured at batch 100 / concurrency 8
    on 2 cores, nice 10 raised ingest by about 6%, and nice 19 about 3% more than nice 10
    (three runs each). The idle scheduling class measured the same as nice 19 but would starve
    the workers outright beside any other busy process on the machine.
    """
    if hasattr(os, "nice"):  # POSIX only
        os.nice(WORKER_NICENESS)


def warm_up() -> None:
    """Compile both schemas in a pool worker before the first request needs them."""
    compile_validators()


def prepare(
    statement: dict[str, Any], authority: dict[str, Any], version: str, keep_authority: bool
) -> dict[str, Any]:
    """A copy with the properties the LRS assigns (1.0.3 Part 2 §2.4)."""
    prepared = with_context_activity_arrays(statement)
    if "id" not in prepared:  # not setdefault: a uuid4 costs microseconds, most ids are given
        prepared["id"] = str(uuid.uuid4())
    if not (keep_authority and "authority" in prepared):
        prepared["authority"] = authority
    # 1.0.3 Part 2 §2.4.10: the LRS sets version when the statement has none.
    prepared.setdefault("version", "2.0.0" if version == V2 else "1.0.0")
    return prepared


def with_context_activity_arrays(statement: dict[str, Any]) -> dict[str, Any]:
    """A copy whose context activities are arrays (1.0.3 Part 2 §2.4.6.2: the LRS MUST return
    a single context activity as an array), in the statement and its SubStatement."""
    copy = dict(statement)
    context = copy.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        groups = context["contextActivities"]
        copy["context"] = {
            **context,
            "contextActivities": {
                name: acts if isinstance(acts, list) else [acts] for name, acts in groups.items()
            },
        }
    obj = copy.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        copy["object"] = with_context_activity_arrays(obj)
    return copy
