"""An HRIS identity file read as rows: CSV (header first) or NDJSON (one object a line), told
apart by the first character that is not blank (`{`: NDJSON). Gzip and text handling are the
shared importer's (`lrs.importing.files`).

Fields (our names; `--columns our=theirs` maps them to the file's own headers):

| field             | value                                                                   |
| ----------------- | ----------------------------------------------------------------------- |
| employee_id       | the HRIS employee id, the member key (required)                         |
| email             | the primary email                                                       |
| secondary_emails  | further addresses, separated by `;` or `|` (NDJSON: a list)             |
| name, department, manager | text (manager: the manager's employee id)                       |
| employment_status | `active`, `on_leave` (or `on leave`), `terminated`                      |
| worker_type       | `employee`, `contractor`, `alumni`                                      |
| effective_at      | ISO 8601 date or date-time (UTC when no offset): when the row took effect |
| lms_accounts      | `HOMEPAGE NAME` items separated by `;` or `|` (NDJSON: a list of such   |
|                   | strings or of `{"homePage": …, "name": …}` objects)                     |

A field whose column is absent from the file keeps the member's stored value (a delta may
carry only some columns); a blank cell clears it (statuses and types: keep). Emails are
normalised as statements' addresses are (`normalize_email`). A row that breaks a rule is
rejected with its line and the reason; the others are imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lrs.importing.rows import CsvRows
from projections.mapping import Mapping as FieldMapping
from projections.store.base import EMPLOYMENT_STATUSES, WORKER_TYPES, Account
from projections.transforms import normalize_email, parse_iso8601

IMPORT_FIELDS = (
    "employee_id",
    "email",
    "secondary_emails",
    "name",
    "department",
    "manager",
    "employment_status",
    "worker_type",
    "effective_at",
    "lms_accounts",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RowError(ValueError):
    """A row value the import refuses."""


class IdentityFileError(ValueError):
    """A file the import cannot read at all (no employee id column)."""


@dataclass(frozen=True)
class IdentityRow:
    """One member as a row gives it: only the fields the file has (`values`)."""

    line: int
    member_id: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedRow:
    """A row refused: its line, the employee id if it had one, the reason."""

    line: int
    reason: str
    member_id: str | None = None

    @property
    def label(self) -> str:
        """How stderr names it."""
        return f"line {self.line}"

    def fields(self) -> dict[str, Any]:
        """The rejects report's columns before the reason."""
        return {"line": self.line, "employee_id": self.member_id or ""}


RowOutcome = IdentityRow | RejectedRow


def default_columns(mapping: FieldMapping) -> dict[str, str]:
    """Headers the marketplace mapping's `hris` rows name for the id and the emails."""
    columns: dict[str, str] = {}
    for row in mapping.rows_for("hris"):
        if row.target_field == "member_id":
            columns["employee_id"] = row.source_field
        elif row.target_field == "email":
            columns["secondary_emails" if row.cardinality == "many" else "email"] = row.source_field
    return columns


def read_rows(
    lines: Iterable[str], columns: Mapping[str, str], aliases: Mapping[str, str]
) -> Iterator[RowOutcome]:
    """Every row of the file, parsed or rejected (see the module docstring)."""
    it = iter(lines)
    head = list(_until_content(it))
    first = "".join(head).lstrip()[:1]
    body = _chain(head, it)
    reader = _ndjson_items if first == "{" else _csv_items
    for line, item in reader(body, columns):
        yield parse_row(line, item, aliases)


def parse_row(line: int, item: Mapping[str, Any], aliases: Mapping[str, str]) -> RowOutcome:
    """One row's fields (our names, only those present) → the row or its rejection."""
    try:
        if "_error" in item:
            raise RowError(item["_error"])
        member_id = _text(item.get("employee_id"))
        if not member_id:
            raise RowError("employee_id: missing")
    except RowError as exc:
        return RejectedRow(line, str(exc))
    try:
        values = {name: _PARSERS[name](v, aliases) for name, v in item.items() if name in _PARSERS}
    except RowError as exc:
        return RejectedRow(line, str(exc), member_id)
    return IdentityRow(line, member_id, values)


def _until_content(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line
        if line.strip():
            return


def _chain(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from head
    yield from rest


def _csv_items(lines: Iterable[str], columns: Mapping[str, str]) -> Iterator[tuple[int, dict]]:
    rows = CsvRows(lines)
    header = [h.strip() for h in rows.header or []]
    position = {h: i for i, h in enumerate(header)}
    wanted = {
        f: position[columns.get(f, f)] for f in IMPORT_FIELDS if columns.get(f, f) in position
    }
    if "employee_id" not in wanted:
        raise IdentityFileError(
            f"the header has no {columns.get('employee_id', 'employee_id')!r} column"
        )
    for row in rows:
        cells = row.cells
        yield row.line, {f: cells[i] if i < len(cells) else "" for f, i in wanted.items()}


def _ndjson_items(lines: Iterable[str], columns: Mapping[str, str]) -> Iterator[tuple[int, dict]]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, {"employee_id": "", "_error": f"not valid JSON: {exc.msg}"}
            continue
        if not isinstance(item, dict):
            yield number, {"employee_id": "", "_error": "not a JSON object"}
            continue
        yield (
            number,
            {f: item[columns.get(f, f)] for f in IMPORT_FIELDS if columns.get(f, f) in item},
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise RowError(f"{value!r} is not text")
    return str(value).strip() or None


def _plain(name: str) -> Any:
    def parse(value: Any, _aliases: Mapping[str, str]) -> str | None:
        try:
            return _text(value)
        except RowError as exc:
            raise RowError(f"{name}: {exc}") from None

    return parse


def _items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    text = _text(value) or ""
    return [p.strip() for p in text.replace("|", ";").split(";") if p.strip()]


def _email(value: Any, aliases: Mapping[str, str], name: str = "email") -> str | None:
    text = _text(value)
    if text is None:
        return None
    email = normalize_email(text, aliases)
    if email is None:
        raise RowError(f"{name}: {text!r} is not an email address")
    return email


def _emails(value: Any, aliases: Mapping[str, str]) -> tuple[str, ...]:
    found = (_email(v, aliases, "secondary_emails") for v in _items(value))
    return tuple(dict.fromkeys(e for e in found if e))


def _choice(name: str, choices: tuple[str, ...]) -> Any:
    def parse(value: Any, _aliases: Mapping[str, str]) -> str | None:
        text = _text(value)
        if text is None:
            return None
        word = re.sub(r"[\s-]+", "_", text.lower())
        if word not in choices:
            raise RowError(f"{name}: {text!r} is not one of {', '.join(choices)}")
        return word

    return parse


def _when(value: Any, _aliases: Mapping[str, str]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    found = parse_iso8601(text + "T00:00:00Z" if _DATE.match(text) else text, None)
    if found is None:
        raise RowError(f"effective_at: {text!r} is not an ISO 8601 date or date-time")
    return found


def _accounts(value: Any, _aliases: Mapping[str, str]) -> tuple[Account, ...]:
    found: list[Account] = []
    for item in _items(value):
        if isinstance(item, dict):
            home, name = item.get("homePage"), item.get("name")
        else:
            home, _, name = str(item).strip().partition(" ")
        if not isinstance(home, str) or not isinstance(name, str) or "://" not in home:
            raise RowError(f"lms_accounts: {item!r} is not `HOMEPAGE NAME`")
        if not name.strip():
            raise RowError(f"lms_accounts: {item!r} has no account name")
        found.append((home.rstrip("/"), name.strip()))
    return tuple(dict.fromkeys(found))


_PARSERS: dict[str, Any] = {
    "email": _email,
    "secondary_emails": _emails,
    "name": _plain("name"),
    "department": _plain("department"),
    "manager": _plain("manager"),
    "employment_status": _choice("employment_status", EMPLOYMENT_STATUSES),
    "worker_type": _choice("worker_type", WORKER_TYPES),
    "effective_at": _when,
    "lms_accounts": _accounts,
}
