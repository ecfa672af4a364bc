"""The field mapping: `spec/marketplace-mapping.csv` loaded, checked, and applied to statements.

The CSV is the versioned template the marketplace and the LRS agree on. Comment lines (`#`)
may precede the header; one of them must be `# version: <v>`, recorded in every aggregate so a
new mapping shows up in `lrs reconcile` as drift until `--fix` re-projects. Columns:

    source_system, source_field, target_field, data_type, transform, required, notes,
    cardinality, retention_policy

- `source_system`: `xapi` (read from a statement), `hris` (a column of the identity CSV that
  `lrs identities load` reads) or `scope` (which statements the marketplace sees: the other
  columns mean something else there, see `projections.scope`).
- `source_field`: a path into the statement: dot-separated keys; `name[KEY]` reads the key
  KEY of an object (extension IRIs contain dots); on an array `name[prop=value]` takes the
  first element whose `prop` equals value, `name[0]` the first element.
- `target_field`: one of `TARGET_FIELDS`, each with its data type.
- `transform`: empty, or transform names from `projections.transforms`, `|`-separated.
- `required`: `yes` means a statement without a value for that target contributes nothing.
- `cardinality`: `one` (rows for the same target are tried in file order, the first value
  wins) or `many` (every value is kept: the source is a list, or for `hris` a `;`-separated
  cell).
- `retention_policy`: `until_voided` (dropped when the statement is voided),
  `member_lifetime` (kept while the member exists), `none` (not stored), or a period and a
  legal basis, `P5Y; contract` (`projections.retention_policy`): the field's value is kept
  that long after the learning happened, then `lrs retention --apply` removes it (for the
  targets a statement cannot contribute without, the whole contribution). A period is for
  `xapi` rows of learning fields only (identity fields live as long as the member), and the
  rows filling one target must agree on it.

Anything else refuses to load, with a MappingError naming the file row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projections.extractor import CompiledRow, Extractor, Reader, key_reader
from projections.retention_policy import NAMED_POLICIES, TimedPolicy, parse_policy
from projections.scope import Scope, ScopeRule, parse_scope_row
from projections.transforms import (
    ENROLLMENT_STATES,
    SUCCESS_VALUES,
    TRANSFORMS,
    MappingError,
    Transform,
    TransformContext,
    is_http_url,
)

COLUMNS = (
    "source_system",
    "source_field",
    "target_field",
    "data_type",
    "transform",
    "required",
    "notes",
    "cardinality",
    "retention_policy",
)
SOURCE_SYSTEMS = ("xapi", "hris")  # and "scope" (projections.scope)
CARDINALITIES = ("one", "many")
RETENTION_POLICIES = NAMED_POLICIES  # or "<ISO 8601 period>; <legal basis>" (see above)
DATA_TYPES = ("string", "email", "boolean", "datetime", "enum", "score", "object", "url")


@dataclass(frozen=True)
class FieldSpec:
    """A marketplace field a row may fill: its type, and its values when an enum."""

    data_type: str
    values: tuple[str, ...] = ()


TARGET_FIELDS: dict[str, FieldSpec] = {
    "member_id": FieldSpec("string"),
    "email": FieldSpec("email"),
    "activity_id": FieldSpec("string"),
    "verb_id": FieldSpec("string"),
    "learning_completed": FieldSpec("boolean"),
    "completed_at": FieldSpec("datetime"),
    "success": FieldSpec("enum", SUCCESS_VALUES),
    "score": FieldSpec("score"),
    "enrollment_state": FieldSpec("enum", ENROLLMENT_STATES),
    "badge_awarded.badge_id": FieldSpec("string"),
    "badge_awarded.metadata": FieldSpec("object"),
    "badge_awarded.issued_at": FieldSpec("datetime"),
    "certificate_ref": FieldSpec("url"),
    "last_activity_at": FieldSpec("datetime"),
}
# What the projection cannot work without: a statement needs these to contribute.
IDENTITY_TARGETS = ("member_id", "email")
NEEDED = {"xapi": ("activity_id", "verb_id", "last_activity_at"), "hris": ("member_id", "email")}

Step = tuple[str, str]  # ("key", name) | ("match", "prop=value") | ("index", "0")


def parse_path(text: str) -> tuple[Step, ...]:
    """`result.extensions[http://x/y.z].id` → steps; ValueError when malformed."""
    steps: list[Step] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j] not in ".[":
            if text[j] == "]":
                raise ValueError(f"unopened ] at {j} in {text!r}")
            j += 1
        if j > i:
            steps.append(("key", text[i:j]))
        elif not steps or text[j] != "[":
            raise ValueError(f"empty segment at {i} in {text!r}")
        i = j
        while i < n and text[i] == "[":
            close = text.find("]", i)
            if close < 0 or close == i + 1:
                raise ValueError(f"unclosed or empty [] in {text!r}")
            inner = text[i + 1 : close]
            kind = "index" if inner.isdigit() else "match" if "=" in inner else "key"
            steps.append((kind, inner))
            i = close + 1
        if i < n:
            if text[i] != ".":
                raise ValueError(f"expected . at {i} in {text!r}")
            i += 1
            if i == n:
                raise ValueError(f"trailing . in {text!r}")
    if not steps:
        raise ValueError("empty path")
    return tuple(steps)


def read_path(steps: tuple[Step, ...], value: Any) -> Any:
    """Follow the steps through JSON; None as soon as one does not apply."""
    for kind, arg in steps:
        if isinstance(value, list) and kind == "index":
            value = value[int(arg)] if int(arg) < len(value) else None
        elif isinstance(value, list) and kind == "match":
            prop, _, wanted = arg.partition("=")
            value = next((v for v in value if isinstance(v, dict) and v.get(prop) == wanted), None)
        elif isinstance(value, dict) and kind in ("key", "match"):
            value = value.get(arg)
        else:
            return None
        if value is None:
            return None
    return value


def type_check(spec: FieldSpec) -> Callable[[Any], bool]:
    """Whether a value is of the field's type (and one of its values, for an enum)."""
    kind = spec.data_type
    if kind == "enum":
        allowed = frozenset(spec.values)
        return lambda v: isinstance(v, str) and (not allowed or v in allowed)
    return _CHECKS[kind]


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str) and v != "",
    "email": lambda v: isinstance(v, str) and "@" in v,
    "boolean": lambda v: isinstance(v, bool),
    "datetime": lambda v: isinstance(v, str) and v.endswith("Z"),
    "score": lambda v: isinstance(v, dict) and "value" in v,
    "object": lambda v: isinstance(v, dict),
    "url": is_http_url,
}


@dataclass(frozen=True)
class MappingRow:
    """One checked row of the mapping CSV."""

    line: int
    source_system: str
    source_field: str
    path: tuple[Step, ...]
    target_field: str
    data_type: str
    transforms: tuple[Transform, ...]
    required: bool
    notes: str
    cardinality: str
    retention_policy: str
    retention: TimedPolicy | None = None  # when the policy is a period and a legal basis

    def compile(self) -> CompiledRow:
        """The row as the extractor runs it: reader, transforms and type check bound once."""
        many = self.cardinality == "many"
        head: str | None
        rest: Reader | None
        if self.source_system == "hris":
            head, rest = None, _cell_reader(self.source_field, many)
            read_key: tuple[Any, ...] = ("hris", self.source_field, many)
        else:  # a path always starts with a key (see parse_path)
            head, rest, read_key = self.path[0][1], _path_reader(self.path[1:]), self.path
        return CompiledRow(
            self.target_field,
            required=self.required,
            many=many,
            read_key=read_key,
            head=head,
            rest=rest,
            transforms=[t.func for t in self.transforms],
            check=type_check(TARGET_FIELDS[self.target_field]),
            rejects=rejecting(self.transforms),
        )


def _always(_raw: Any, _ctx: TransformContext) -> bool:
    return True


def rejecting(transforms: Sequence[Transform]) -> Callable[[Any, TransformContext], bool] | None:
    """Which raw values a row refuses as unusable when it gives nothing for them: all (no
    transform, or one that `rejects`), those a transform's `unusable` names, or none."""
    if not transforms or any(t.rejects for t in transforms):
        return _always
    tests = [t.unusable for t in transforms if t.unusable is not None]
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda raw, ctx: any(test(raw, ctx) for test in tests)


def _path_reader(steps: tuple[Step, ...]) -> Reader | None:
    """A reader of the steps (dict keys only: without read_path's checks); None if none."""
    if all(kind == "key" for kind, _arg in steps):
        return key_reader(tuple(arg for _kind, arg in steps))
    return lambda value: read_path(steps, value)


def _cell_reader(column: str, many: bool) -> Reader:
    """An identity CSV cell: stripped, None when empty; `many` cells split on `;` or `|`."""

    def read(row: Any) -> Any:
        cell = (row.get(column) or "").strip()
        if many:
            return [p.strip() for p in cell.replace("|", ";").split(";") if p.strip()]
        return cell or None

    return read


@dataclass(frozen=True)
class Mapping:
    """The loaded mapping: its version and its rows in file order."""

    version: str
    rows: tuple[MappingRow, ...]
    scope_rules: tuple[ScopeRule, ...] = ()
    scope: Scope = field(init=False, repr=False, compare=False, hash=False)
    _by_system: dict[str, tuple[MappingRow, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _extractors: dict[str, Extractor] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", Scope(self.scope_rules))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its compiled rows: they hold closures, which do not pickle, and a
        mapping that has mapped a statement here must still go to a mapping child
        (`projections.mapping_process`), which compiles its own on first use."""
        state = dict(self.__dict__)
        state["_extractors"] = {}
        return state

    def rows_for(self, system: str) -> tuple[MappingRow, ...]:
        """The rows of one source system (worked out once: extract runs per statement)."""
        found = self._by_system.get(system)
        if found is None:
            found = self._by_system[system] = tuple(
                r for r in self.rows if r.source_system == system
            )
        return found

    def extractor(self, system: str) -> Extractor:
        """The compiled rows of one source system (compiled once, on first use)."""
        found = self._extractors.get(system)
        if found is None:
            found = self._extractors[system] = Extractor(
                [r.compile() for r in self.rows_for(system)]
            )
        return found

    def extract(
        self,
        statement: MappingABC[str, Any],
        ctx: TransformContext,
        rejected: list[tuple[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Target field → value for one statement (list values for `many` rows).

        Empty when a required target has no value: the statement contributes nothing.
        `rejected` collects the (target, raw value) pairs a value was refused for.
        """
        return self.extractor("xapi")(statement, ctx, rejected)

    def extract_hris(self, row: MappingABC[str, str], ctx: TransformContext) -> dict[str, Any]:
        """Target field → value for one identity CSV row (`many` cells split on `;` or `|`)."""
        return self.extractor("hris")(row, ctx)


def _check_row(line: int, cells: dict[str, str], name: str) -> MappingRow:
    where = f"{name} row {line}"
    system = cells["source_system"].strip()
    if system not in SOURCE_SYSTEMS:
        raise MappingError(f"{where}: unknown source_system {system!r}")
    target = cells["target_field"].strip()
    if target not in TARGET_FIELDS:
        raise MappingError(f"{where}: unknown target field {target!r}")
    data_type = cells["data_type"].strip()
    if data_type not in DATA_TYPES:
        raise MappingError(f"{where}: bad type {data_type!r}; known: {', '.join(DATA_TYPES)}")
    if data_type != TARGET_FIELDS[target].data_type:
        raise MappingError(
            f"{where}: bad type {data_type!r} for {target} "
            f"(which is {TARGET_FIELDS[target].data_type})"
        )
    names = [t.strip() for t in cells["transform"].split("|") if t.strip()]
    unknown = [t for t in names if t not in TRANSFORMS]
    if unknown:
        raise MappingError(f"{where}: unknown transform {unknown[0]!r}")
    transforms = tuple(TRANSFORMS[t] for t in names)
    produced = next((t.output for t in reversed(transforms) if t.output), None)
    if produced is not None and produced != data_type:
        raise MappingError(f"{where}: bad type: the transforms yield {produced}, not {data_type}")
    try:
        path = parse_path(cells["source_field"].strip())
    except ValueError as exc:
        raise MappingError(f"{where}: bad source_field: {exc}") from None
    required = cells["required"].strip().lower()
    if required not in ("yes", "no"):
        raise MappingError(f"{where}: required must be yes or no")
    cardinality = cells["cardinality"].strip()
    if cardinality not in CARDINALITIES:
        raise MappingError(f"{where}: cardinality must be one of {', '.join(CARDINALITIES)}")
    retention = cells["retention_policy"].strip()
    try:
        policy = parse_policy(retention)
    except ValueError as exc:
        raise MappingError(f"{where}: retention_policy {exc}") from None
    return MappingRow(
        line=line,
        source_system=system,
        source_field=cells["source_field"].strip(),
        path=path,
        target_field=target,
        data_type=data_type,
        transforms=transforms,
        required=required == "yes",
        notes=cells["notes"],
        cardinality=cardinality,
        retention_policy=retention,
        retention=policy if isinstance(policy, TimedPolicy) else None,
    )


def parse_mapping(text: str, name: str = "mapping") -> Mapping:
    """Check a mapping CSV's text; MappingError names the first bad row."""
    lines = text.splitlines(keepends=True)
    comments = 0
    version = None
    while comments < len(lines) and lines[comments].lstrip().startswith("#"):
        key, sep, value = lines[comments].lstrip("# \t").partition(":")
        if sep and key.strip().lower() == "version" and value.strip():
            version = value.strip()
        comments += 1
    if version is None:
        raise MappingError(f"{name}: no '# version: ...' line before the header")
    reader = csv.DictReader(io.StringIO("".join(lines[comments:])))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise MappingError(f"{name} header: missing column(s) {', '.join(missing)}")
    rows, scope = [], []
    for cells in reader:
        line = reader.line_num + comments
        if not any((v or "").strip() for v in cells.values()):
            continue
        checked = {c: cells.get(c) or "" for c in COLUMNS}
        if checked["source_system"].strip() == "scope":
            try:
                scope.append(parse_scope_row(line, checked))
            except ValueError as exc:
                raise MappingError(f"{name} row {line}: {exc}") from None
        else:
            rows.append(_check_row(line, checked, name))
    mapping = Mapping(version=version, rows=tuple(rows), scope_rules=tuple(scope))
    for system, needed in NEEDED.items():
        targets = {r.target_field for r in mapping.rows_for(system)}
        for target in needed:
            if target not in targets:
                raise MappingError(f"{name}: no {system} row fills {target}")
    _check_periods(mapping, name)
    return mapping


def _check_periods(mapping: Mapping, name: str) -> None:
    """A period only on xapi learning fields, the same on every row filling one target."""
    by_target: dict[str, set[str | None]] = {}
    for row in mapping.rows:
        if row.retention is not None and (
            row.source_system != "xapi" or row.target_field in IDENTITY_TARGETS
        ):
            raise MappingError(
                f"{name} row {row.line}: a retention period is for xapi learning fields; "
                f"{row.source_system} {row.target_field} lives as long as the member"
            )
        if row.source_system == "xapi":
            policy = row.retention.text if row.retention else None
            by_target.setdefault(row.target_field, set()).add(policy)
    for target, policies in by_target.items():
        if len(policies) > 1 and any(policies):
            raise MappingError(
                f"{name}: the rows filling {target} disagree on its retention period"
            )


def load_mapping(path: Path) -> Mapping:
    """Read and check the mapping CSV file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read the mapping {path}: {exc}") from exc
    return parse_mapping(text, path.name)
