"""Which statements the marketplace sees: the mapping's `scope` rows, compiled once.

The talent marketplace wants the learning a person did (courses, modules, assessments,
badges, certificates), not every click an LMS reports: Open edX sends forum posts, page
navigation and "viewed" events as statements too, and each would otherwise become a learning
record. A `scope` row of the mapping CSV names what is in or out:

    source_system  `scope`
    source_field   what is matched: `object.definition.type` (the activity type),
                   `object.id` (the activity IRI) or `verb.id`
    target_field   `include` or `exclude`
    data_type      `pattern`
    transform      the pattern: an IRI, `*` matching any run of characters, or `(none)`
                   matching a statement that has no value there (an activity without a type)

A statement is in scope when no `exclude` row matches it and, if the mapping has `include`
rows, at least one of them does. A mapping without scope rows keeps every statement in
scope. Out-of-scope statements stay in the LRS; they make no fact, record or event, and
those carrying a completion or a score are counted in the data-quality queue
(`out_of_scope_with_result`) so an operator can widen the scope on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCOPE_FIELDS = ("object.definition.type", "object.id", "verb.id")
SCOPE_ACTIONS = ("include", "exclude")
NONE_PATTERN = "(none)"


@dataclass(frozen=True)
class ScopeRule:
    """One `scope` row: include or exclude what matches the pattern at the field."""

    line: int
    source_field: str
    include: bool
    pattern: str


def parse_scope_row(line: int, cells: Mapping[str, str]) -> ScopeRule:
    """A checked scope row; ValueError says what is wrong (the mapping names the row)."""
    source = cells["source_field"].strip()
    if source not in SCOPE_FIELDS:
        raise ValueError(f"scope source_field must be one of {', '.join(SCOPE_FIELDS)}")
    action = cells["target_field"].strip()
    if action not in SCOPE_ACTIONS:
        raise ValueError("scope target_field must be include or exclude")
    if cells["data_type"].strip() != "pattern":
        raise ValueError("scope data_type must be pattern")
    pattern = cells["transform"].strip()
    if not pattern or re.search(r"\s", pattern):
        raise ValueError("scope transform must be a pattern (an IRI, * as wildcard, or (none))")
    return ScopeRule(line, source, action == "include", pattern)


def _regex(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One regex matching any of the wildcard patterns (`*`: any characters); None if none."""
    if not patterns:
        return None
    parts = (".*".join(re.escape(p) for p in pattern.split("*")) for pattern in patterns)
    return re.compile("|".join(f"(?:{p})" for p in parts) + r"\Z")


def _verb_id(statement: Mapping[str, Any]) -> Any:
    verb = statement.get("verb")
    return verb.get("id") if isinstance(verb, dict) else None


def _object_id(statement: Mapping[str, Any]) -> Any:
    obj = statement.get("object")
    return obj.get("id") if isinstance(obj, dict) else None


def _activity_type(statement: Mapping[str, Any]) -> Any:
    obj = statement.get("object")
    definition = obj.get("definition") if isinstance(obj, dict) else None
    return definition.get("type") if isinstance(definition, dict) else None


_READERS = {"verb.id": _verb_id, "object.id": _object_id, "object.definition.type": _activity_type}


class _Side:
    """The rules of one action (include or exclude), by field: exact IRIs in a set (most
    patterns: a hash lookup per statement), wildcard ones in one regex, and (none)."""

    def __init__(self, rules: Sequence[ScopeRule]) -> None:
        self.empty = not rules
        self.checks = []
        for source in SCOPE_FIELDS:
            patterns = [r.pattern for r in rules if r.source_field == source]
            if not patterns:
                continue
            exact = frozenset(p for p in patterns if "*" not in p and p != NONE_PATTERN)
            regex = _regex([p for p in patterns if "*" in p])
            self.checks.append((_READERS[source], exact, regex, NONE_PATTERN in patterns))

    def matches(self, statement: Mapping[str, Any]) -> bool:
        """Whether any rule of this side matches the statement."""
        for read, exact, regex, none in self.checks:
            value = read(statement)
            if not isinstance(value, str):
                if none:
                    return True
            elif value in exact or (regex is not None and regex.match(value)):
                return True
        return False


class Scope:
    """The scope rows compiled: `in_scope(statement)` (see the module docstring)."""

    def __init__(self, rules: Sequence[ScopeRule]) -> None:
        self.rules = tuple(rules)
        self._include = _Side([r for r in rules if r.include])
        self._exclude = _Side([r for r in rules if not r.include])

    def in_scope(self, statement: Mapping[str, Any]) -> bool:
        """Whether the statement's activity is one the marketplace sees."""
        if self._exclude.checks and self._exclude.matches(statement):
            return False
        return self._include.empty or self._include.matches(statement)


def result_summary(statement: Mapping[str, Any]) -> dict[str, Any] | None:
    """The completion and score a statement carries (None when neither): what the quality
    queue keeps of an out-of-scope statement."""
    result = statement.get("result")
    if not isinstance(result, dict):
        return None
    kept = {k: result[k] for k in ("completion", "success", "score") if k in result}
    return kept if kept.get("completion") is True or "score" in kept else None
