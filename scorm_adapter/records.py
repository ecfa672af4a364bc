"""Legacy SCORM completion-record exports (CSV, NDJSON) → statements, one row at a time.

For the `lrs import-scorm FILE` command. Each row becomes either a ConvertedRecord (the row's
statements) or a RejectedRecord (its line number and why); the file is read as a stream, so
memory does not grow with its size.

Fields (our names; `RecordOptions.columns` maps them to the export's headers):

| field             | meaning                                                              |
| ----------------- | -------------------------------------------------------------------- |
| learner_id        | LMS/HRIS learner id → actor `account` {homePage: options.home_page}  |
| email             | learner email → actor `mbox` (used when there is no learner id)      |
| course_id, sco_id | ids or absolute IRIs; ids become `<course_iri_base><course>/<sco>`   |
| scorm_version     | 1.2 or 2004; else options.default_version; else told by the columns  |
| lesson_status     | SCORM 1.2 cmi.core.lesson_status                                     |
| completion_status, success_status | SCORM 2004 cmi.completion_status / success_status    |
| score_raw, score_min, score_max, score_scaled | the SCO score (scaled: SCORM 2004 only)  |
| session_time      | HH:MM:SS(.SS) or ISO 8601 duration, either version                   |
| completion_date   | ISO 8601 date or date-time; the statements' timestamp                |
| attempt           | attempt number or attempt IRI (optional)                             |

A record is the final state of an attempt in the old system, so it is converted as a session
that ended: status statements (completed/passed/failed/scored) and a `terminated` statement
whose result carries success, completion, score and duration (profile §7, SCO Status). Without
an attempt column the attempt IRI is derived from the row's natural key (learner, course, SCO,
completion date), so re-importing the file yields the same attempt and statement ids.

Rejected: no learner id (or no home page configured for it) and no email; no course or SCO id;
an unknown version, a status from the other version, a bad number, time span or date; a row
with nothing to report. File-level problems (a required column missing from the CSV header)
raise ScormDataError before any row is read.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal
from urllib.parse import quote

from lrs.importing.rows import CsvRows
from lrs.params import is_ascii_digits
from scorm_adapter.cmi import ScormVersion, normalize_version
from scorm_adapter.context import SCORM_NAMESPACE, AttemptContext, canonical_json, learner_key
from scorm_adapter.errors import ScormDataError
from scorm_adapter.mapping import convert_attempt
from scorm_adapter.values import interval_parts, timespan_to_iso

RECORD_FIELDS = (
    "learner_id",
    "email",
    "course_id",
    "sco_id",
    "scorm_version",
    "lesson_status",
    "completion_status",
    "success_status",
    "score_raw",
    "score_min",
    "score_max",
    "score_scaled",
    "session_time",
    "completion_date",
    "attempt",
)
_ELEMENTS: dict[ScormVersion, dict[str, str]] = {
    "1.2": {
        "lesson_status": "cmi.core.lesson_status",
        "score_raw": "cmi.core.score.raw",
        "score_min": "cmi.core.score.min",
        "score_max": "cmi.core.score.max",
        "session_time": "cmi.core.session_time",
    },
    "2004": {
        "completion_status": "cmi.completion_status",
        "success_status": "cmi.success_status",
        "score_raw": "cmi.score.raw",
        "score_min": "cmi.score.min",
        "score_max": "cmi.score.max",
        "score_scaled": "cmi.score.scaled",
        "session_time": "cmi.session_time",
    },
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# Ids that are already IRIs: "scheme://...", "urn:..." or "tag:..."; an LMS id such as
# "CS:101" is an id, not an IRI with scheme "CS".
_IRI = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://|urn:|tag:)[^\s\x00-\x1f\x7f<>\"{}|\\^`]+$", re.I
)
_STATUSES = ("lesson_status", "completion_status", "success_status")


@dataclass(frozen=True)
class RecordOptions:
    """How to read one export: where ids live, whose accounts learner ids are, its columns."""

    course_iri_base: str
    home_page: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    default_version: str | None = None
    default_timezone: tzinfo = UTC

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(RECORD_FIELDS))
        if unknown:
            raise ScormDataError("columns", f"unknown fields {unknown}; known: {RECORD_FIELDS}")
        if not _IRI.match(self.course_iri_base):
            raise ScormDataError(
                "course_iri_base", f"not an absolute IRI: {self.course_iri_base!r}"
            )
        if self.home_page is not None and not _IRI.match(self.home_page):
            raise ScormDataError("home_page", f"not an absolute IRI: {self.home_page!r}")
        if self.default_version is not None:
            object.__setattr__(self, "default_version", normalize_version(self.default_version))

    def header(self, name: str) -> str:
        """The export's header for one of RECORD_FIELDS."""
        return self.columns.get(name, name)


@dataclass(frozen=True)
class ConvertedRecord:
    """A row that converted: its line in the file and its statements."""

    row: int
    statements: list[dict[str, Any]]


@dataclass(frozen=True)
class RejectedRecord:
    """A row that did not: its line in the file and the reason, naming the column."""

    row: int
    reason: str


RecordOutcome = ConvertedRecord | RejectedRecord


def read_records(
    lines: Iterable[str], file_format: Literal["csv", "ndjson"], options: RecordOptions
) -> Iterator[RecordOutcome]:
    """Stream a CSV or NDJSON export (an open text file or any iterable of lines)."""
    if file_format == "csv":
        return read_csv_records(lines, options)
    if file_format == "ndjson":
        return read_ndjson_records(lines, options)
    raise ValueError(f"unknown record format {file_format!r}; expected csv or ndjson")


def read_csv_records(lines: Iterable[str], options: RecordOptions) -> Iterator[RecordOutcome]:
    """Stream a CSV export whose first row is the header; `row` is the record's first line."""
    rows = CsvRows(lines)
    if rows.header is None:
        return
    positions = _header_positions(rows.header, options)
    width = len(rows.header)
    for row in rows:
        cells = row.cells
        if len(cells) > width:
            reason = f"{len(cells)} cells but the header has {width} columns"
            yield RejectedRecord(row.line, reason)
            continue
        fields = {name: cells[i] for name, i in positions.items() if i < len(cells)}
        yield convert_record(fields, row.line, options)


def read_ndjson_records(lines: Iterable[str], options: RecordOptions) -> Iterator[RecordOutcome]:
    """Stream an NDJSON export: one JSON object per line, keyed by the export's headers."""
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RejectedRecord(row, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(item, dict):
            yield RejectedRecord(row, "not a JSON object")
            continue
        try:
            fields = {
                name: _cell(options.header(name), item.get(options.header(name)))
                for name in RECORD_FIELDS
            }
        except ScormDataError as exc:
            yield RejectedRecord(row, str(exc))
            continue
        yield convert_record(fields, row, options)


def convert_record(
    fields: Mapping[str, str | None], row: int, options: RecordOptions
) -> RecordOutcome:
    """One row (keyed by RECORD_FIELDS, blank = absent) → its statements or its rejection."""
    values = {name: value.strip() for name, value in fields.items() if value and value.strip()}
    try:
        return ConvertedRecord(row, _statements(values, options))
    except ScormDataError as exc:
        return RejectedRecord(row, _reason(exc, options))


def _statements(values: dict[str, str], options: RecordOptions) -> list[dict[str, Any]]:
    learner = _learner(values, options)
    course_iri = _course_iri(values, options)
    sco_iri = _sco_iri(values, course_iri)
    version = _version(values, options)
    elements = _elements(values, version)
    if not elements:
        raise ScormDataError("row", "nothing to import: no status, score or session time")
    timestamp = _timestamp(values.get("completion_date"), options.default_timezone)
    ctx = AttemptContext(
        learner=learner,
        course_iri=course_iri,
        sco_iri=sco_iri,
        attempt=_attempt(values.get("attempt"), learner, course_iri, sco_iri, timestamp),
        version=version,
        timestamp=timestamp,
        session_ended=True,
    )
    return convert_attempt(ctx, elements)


def _learner(values: dict[str, str], options: RecordOptions) -> dict[str, Any]:
    # DESIGN.md, Identity: an account on the HRIS home page is the primary key; email second.
    learner_id, email = values.get("learner_id"), values.get("email")
    if learner_id is not None and options.home_page is not None:
        return {"account": {"homePage": options.home_page, "name": learner_id}}
    if email is not None:
        address = email.removeprefix("mailto:")
        if not _EMAIL.match(address):
            raise ScormDataError("email", f"not an email address: {email!r}")
        local, _, domain = address.rpartition("@")
        return {"mbox": f"mailto:{local}@{domain.lower()}"}
    if learner_id is not None:
        raise ScormDataError("learner_id", "no home page configured for learner accounts")
    raise ScormDataError("learner_id", "no learner id and no email: the learner is unknown")


def _course_iri(values: dict[str, str], options: RecordOptions) -> str:
    course_id = values.get("course_id")
    if course_id is None:
        raise ScormDataError("course_id", "missing")
    if _IRI.match(course_id):
        return course_id
    base = options.course_iri_base
    return base + ("" if base.endswith("/") else "/") + quote(course_id, safe="")


def _sco_iri(values: dict[str, str], course_iri: str) -> str:
    # Profile §3.2: SCO IRIs should be <courseIRI>/<sco path>.
    sco_id = values.get("sco_id")
    if sco_id is None:
        raise ScormDataError("sco_id", "missing")
    if _IRI.match(sco_id):
        return sco_id
    return f"{course_iri.rstrip('/')}/{quote(sco_id, safe='')}"


def _version(values: dict[str, str], options: RecordOptions) -> ScormVersion:
    if "scorm_version" in values:
        try:
            return normalize_version(values["scorm_version"])
        except ScormDataError as exc:
            raise ScormDataError("scorm_version", exc.problem) from None
    if options.default_version is not None:
        return normalize_version(options.default_version)
    has_12 = "lesson_status" in values
    has_2004 = (
        "completion_status" in values or "success_status" in values or "score_scaled" in values
    )
    if has_12 != has_2004:
        return "1.2" if has_12 else "2004"
    raise ScormDataError("scorm_version", "missing, and the status columns do not tell")


def _elements(values: dict[str, str], version: ScormVersion) -> dict[str, str]:
    table = _ELEMENTS[version]
    for name in (*_STATUSES, "score_scaled"):
        if name in values and name not in table:
            raise ScormDataError(name, f"not part of a SCORM {version} record")
    elements = {}
    for name, element in table.items():
        if name in values:
            value = values[name]
            if name in _STATUSES:
                value = value.lower()
            elif name == "session_time":
                value = _session_time(value, version)
            elements[element] = value
    return elements


def _session_time(value: str, version: ScormVersion) -> str:
    """Either notation in, the record's version's notation out ("0:45:00" is read as "00:45:00")."""
    if re.match(r"^\d:\d\d:\d\d", value):
        value = "0" + value
    if not value.upper().startswith("P"):
        return timespan_to_iso("session_time", value) if version == "2004" else value
    if version == "2004":
        return value
    parts = interval_parts(value.upper())
    if parts is None:
        raise ScormDataError(
            "session_time", f"not a duration in hours, minutes, seconds: {value!r}"
        )
    hours, minutes, seconds = parts
    total = (Decimal(hours * 3600 + minutes * 60) + Decimal(seconds)).quantize(
        Decimal("0.01"), ROUND_HALF_EVEN
    )
    whole_minutes, secs = divmod(total, 60)
    hrs, mins = divmod(int(whole_minutes), 60)
    if hrs > 9999:
        raise ScormDataError("session_time", f"longer than SCORM 1.2's 9999 hours: {value!r}")
    return f"{hrs:02d}:{mins:02d}:{secs:05.2f}"


def _timestamp(value: str | None, zone: tzinfo) -> str | None:
    if value is None:
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text) if "T" in text or " " in text else None
        if moment is None:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise ScormDataError("completion_date", f"not an ISO 8601 date: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _attempt(
    value: str | None, learner: dict[str, Any], course_iri: str, sco_iri: str, timestamp: str | None
) -> str | int:
    if value is not None:
        if is_ascii_digits(value):  # str.isdigit() takes "²", which int() refuses
            return int(value)
        if _IRI.match(value):
            return value
        raise ScormDataError("attempt", f"not an attempt number or IRI: {value!r}")
    key = ["record-attempt", learner_key(learner), course_iri, sco_iri, timestamp]
    separator = "&" if "?" in sco_iri else "?"
    return f"{sco_iri}{separator}attemptId={uuid.uuid5(SCORM_NAMESPACE, canonical_json(key))}"


def _header_positions(header: list[str], options: RecordOptions) -> dict[str, int]:
    names = [cell.strip().lstrip("\ufeff") for cell in header]
    positions = {}
    for name in RECORD_FIELDS:
        wanted = options.header(name)
        if names.count(wanted) > 1:
            raise ScormDataError("header", f"column {wanted!r} appears more than once")
        if wanted in names:
            positions[name] = names.index(wanted)
    for required in ("course_id", "sco_id"):
        if required not in positions:
            raise ScormDataError("header", f"no {options.header(required)!r} column ({required})")
    if "learner_id" not in positions and "email" not in positions:
        learner_columns = f"{options.header('learner_id')!r} or {options.header('email')!r}"
        raise ScormDataError("header", f"no {learner_columns} column to identify learners")
    return positions


def _cell(header: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    raise ScormDataError(header, f"not a string or number: {json.dumps(value)}")


def _reason(exc: ScormDataError, options: RecordOptions) -> str:
    """The error with the export's column name in place of our field or the CMI element."""
    name = exc.element
    for version_table in _ELEMENTS.values():
        for field_name, element in version_table.items():
            if element == name:
                name = field_name
    if name in RECORD_FIELDS:
        return f"{options.header(name)}: {exc.problem}"
    return str(exc)
