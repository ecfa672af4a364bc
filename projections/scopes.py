"""The marketplace's OAuth scopes, and the one place that decides which fields a token sees.

    read:enrollments   records' enrollment_state; the summary's activities_active / _dropped
    read:completions   records' learning_completed, completed_at, success, certificate_ref;
                       the summary's activities_completed / _passed, certificates,
                       completed_activity_ids
    read:scores        records' score; the summary's average_best_score
    read:badges        records' badge_awarded; the summary's badges
    read:profile       the member summary (its emails and employment status), and the
                       records' email and employment_status
    read:activity:aggregate   the union of the four record scopes and of the records' profile
                       fields: what it gave before the finer scopes existed (existing clients
                       see what they saw); it also still opens the bulk export
    write:badge        award badges
    admin              bulk and operator endpoints (export, reconcile, webhooks, quality,
                       status, audit, identities) and every scope above

Any of the record scopes (or the union) reads records (`GET /members/{id}/learning`,
`GET /aggregates`); each record then carries only the fields its token's scopes cover, the
identifying ones (`member_id`, `activity_id`, `last_activity_at`, `verbs`, `mapping_version`,
`version`, `updated_at`, `removed`) always. `FieldView` does the filtering for every read
path, records and summaries alike, so the rule lives here only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

UNION = "read:activity:aggregate"
PROFILE = "read:profile"
ADMIN = "admin"

# record scope → (record fields, summary fields) it opens
RECORD_SCOPES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "read:enrollments": (("enrollment_state",), ("activities_active", "activities_dropped")),
    "read:completions": (
        ("learning_completed", "completed_at", "success", "certificate_ref"),
        ("activities_completed", "activities_passed", "certificates", "completed_activity_ids"),
    ),
    "read:scores": (("score",), ("average_best_score",)),
    "read:badges": (("badge_awarded",), ("badges",)),
}
PROFILE_RECORD_FIELDS = ("email", "employment_status")

SCOPES = (UNION, PROFILE, *RECORD_SCOPES, "write:badge", ADMIN)
READ_RECORDS = (UNION, *RECORD_SCOPES)  # any one of them reads records
EXPORT = (ADMIN, UNION)


def effective_scopes(granted: Iterable[str]) -> frozenset[str]:
    """The scopes a token holds, with what `admin` and the union imply."""
    scopes = set(granted)
    if ADMIN in scopes:
        scopes.update(SCOPES)
    if UNION in scopes:
        scopes.update(RECORD_SCOPES)
    return frozenset(scopes)


@dataclass(frozen=True)
class FieldView:
    """The fields a token may see of records and summaries (see the module docstring)."""

    hidden_record_fields: frozenset[str]
    hidden_summary_fields: frozenset[str]

    @classmethod
    def of(cls, granted: Iterable[str]) -> FieldView:
        """The view of a token with these scopes."""
        scopes = effective_scopes(granted)
        record: set[str] = set()
        summary: set[str] = set()
        for scope, (record_fields, summary_fields) in RECORD_SCOPES.items():
            if scope not in scopes:
                record.update(record_fields)
                summary.update(summary_fields)
        if not scopes & {UNION, PROFILE}:
            record.update(PROFILE_RECORD_FIELDS)
        return cls(frozenset(record), frozenset(summary))

    @property
    def everything(self) -> bool:
        """Whether nothing is hidden."""
        return not self.hidden_record_fields and not self.hidden_summary_fields

    def record(self, item: dict[str, Any]) -> dict[str, Any]:
        """A record (or tombstone) without the hidden fields, nor their provenance."""
        if not self.hidden_record_fields:
            return item
        kept = {k: v for k, v in item.items() if k not in self.hidden_record_fields}
        provenance = item.get("provenance")
        if isinstance(provenance, dict):
            kept["provenance"] = {
                k: v
                for k, v in provenance.items()
                if k.split(".", 1)[0] not in self.hidden_record_fields
            }
        return kept

    def summary(self, summary: dict[str, Any]) -> dict[str, Any]:
        """A member summary without the hidden roll-ups."""
        return {k: v for k, v in summary.items() if k not in self.hidden_summary_fields}
