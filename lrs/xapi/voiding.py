"""Voiding (xAPI 1.0.3 Part 2 §2.3.2, Part 3 §2.1.4): the whole rule, as plain functions.

A voiding statement is one whose verb is `VOIDED_VERB`; its Object is a StatementRef naming the
statement it voids, its target. A stored statement is voided if and only if it is not itself a
voiding statement and a stored voiding statement targets it, whichever of the two arrived first.

Who applies which part:

- validation: `check_voiding_object` (the Object of a voiding statement is a StatementRef);
- the statement service, before writing: `voided_target` (what each statement voids, kept on its
  record), `check_voidable` (a batch voiding a voiding statement it can see is refused) and,
  for a caller without the right to void others' statements, `check_voiding_authority`;
- the statement stores, inside the write that stores a batch: `voided_ids`, which statements
  become voided. That decision needs what is stored at that instant (a voiding statement that
  arrived before its target, a target a concurrent request just stored), so the stores read
  those facts in their own write (SQLite's writer transaction, MongoDB's roll forward) and call
  `voided_ids` there: deciding it in the service would need one more read per batch on the
  ingest path, and that read would race with concurrent writes. The stores only keep and read
  the `voided` flag; reads return a voided statement only by voidedStatementId.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from lrs.errors import BadRequest, Forbidden, ValidationError
from lrs.xapi.indexing import statement_ref_target

VOIDED_VERB: Final = "http://adlnet.gov/expapi/verbs/voided"


def is_voiding(statement: Mapping[str, Any]) -> bool:
    """Whether the statement voids another (its verb is the reserved `voided`)."""
    verb = statement.get("verb")
    return isinstance(verb, dict) and verb.get("id") == VOIDED_VERB


def voided_target(statement: dict[str, Any]) -> str | None:
    """The id a voiding statement voids (lower-cased), or None for any other statement."""
    return statement_ref_target(statement) if is_voiding(statement) else None


def check_voiding_object(statement: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.3.2: a voiding statement's Object MUST be a StatementRef."""
    if is_voiding(statement) and statement["object"].get("objectType") != "StatementRef":
        where = f"{path}.object" if path else "object"
        raise ValidationError(f"{where} of a voiding statement must be a StatementRef", path=where)


def check_voidable(batch: Mapping[str, str | None], stored: Mapping[str, str | None]) -> None:
    """Part 2 §2.3.2: a voiding statement cannot itself be voided; BadRequest otherwise.

    `batch` and `stored` map statement ids (the incoming ones; stored ones, at least the
    batch's targets) to the id each voids, None for statements that void nothing.
    """
    for target in batch.values():
        if target is None:
            continue
        if batch.get(target) is not None or stored.get(target) is not None:
            raise BadRequest(f"statement {target} is a voiding statement and cannot be voided")


def check_voiding_authority(
    targets: Iterable[str], owners: Mapping[str, str | None], own: str | None
) -> None:
    """1.0.3 Part 3 §2.1.4 (SHOULD refuse voiding from a source not authorised): 403 unless
    every target is already stored under the caller's own authority.

    `targets` are the ids the caller's statements void (those in its own batch left out);
    `owners` maps each stored one to its authority's IFI key; `own` is the caller's. A target
    not stored yet is refused too: its future owner is unknown, and adapters' ids are
    predictable (UUIDv5), so allowing it would let anyone void them in advance.
    """
    for target in sorted(targets):
        if target not in owners:
            raise Forbidden(
                f"statement {target} is not stored: this credential may void only statements "
                "it stored (voiding others' needs the statements/void or all scope)",
                statement_id=target,
            )
        if own is None or owners[target] != own:
            raise Forbidden(
                f"statement {target} was stored by another credential: voiding it needs the "
                "statements/void or all scope",
                statement_id=target,
            )


def voided_ids(targeted: Iterable[str], voids_of: Mapping[str, str | None]) -> list[str]:
    """Which of the `targeted` statements are voided: those stored that void nothing.

    `targeted` are ids some voiding statement targets; `voids_of` maps each stored statement
    among them (absent: not stored) to the id it voids itself. Sorted, each once.
    """
    return sorted({t for t in targeted if t in voids_of and voids_of[t] is None})
