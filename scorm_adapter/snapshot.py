"""Flat CMI elements → one version-neutral, validated snapshot of a SCO attempt.

Everything the statements are made from is read here, so every bad value is reported with the
element that holds it, before any statement is built. Absent or "unknown" data stays None: the
snapshot never holds a default the SCO did not report.

Status vocabularies (profile §6, Completion Status and Success Status):

- SCORM 2004: cmi.completion_status completed → True, incomplete → False, "not attempted" and
  "unknown" → None; cmi.success_status passed → True, failed → False, unknown → None.
- SCORM 1.2 mixes both in cmi.core.lesson_status: completed/incomplete set completion,
  passed/failed set success, and each leaves the other unknown; "browsed" and "not attempted"
  claim neither.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from scorm_adapter.cmi import ScormVersion, check_elements
from scorm_adapter.errors import ScormDataError
from scorm_adapter.interactions import convert_response, interaction_result, interaction_type
from scorm_adapter.scores import Score, read_score
from scorm_adapter.values import (
    DEFAULT_LANGUAGE,
    check_iso_duration,
    parse_bounded,
    scorm_time_to_timestamp,
    split_language,
    timespan_to_iso,
)

_LESSON_STATUS = {
    "passed": (None, True),
    "failed": (None, False),
    "completed": (True, None),
    "incomplete": (False, None),
    "browsed": (None, None),
    "not attempted": (None, None),
}
_COMPLETION_STATUS = {
    "completed": True,
    "incomplete": False,
    "not attempted": None,
    "unknown": None,
}
_SUCCESS_STATUS = {"passed": True, "failed": False, "unknown": None}
_ENTRY = ("ab-initio", "resume", "")
_EXIT = {
    "1.2": ("time-out", "suspend", "logout", ""),
    "2004": ("time-out", "suspend", "logout", "normal", ""),
}
_INDEXED = re.compile(r"^(\d+)\.(.+)$")


@dataclass(frozen=True)
class Text:
    """A localized string: its language (from `{lang=..}` or the SCORM default) and text."""

    language: str
    text: str


@dataclass(frozen=True)
class Comment:
    """One learner comment: cmi.comments (1.2) or cmi.comments_from_learner.n (2004)."""

    element: str
    text: str
    language: str | None = None
    location: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class Objective:
    """cmi.objectives.n: the SCO's status, score and progress on one objective."""

    element: str
    id: str
    completion: bool | None
    success: bool | None
    score: Score | None
    progress: Decimal | None
    description: Text | None


@dataclass(frozen=True)
class Interaction:
    """cmi.interactions.n, with type and responses already in xAPI form."""

    element: str
    id: str
    kind: str | None
    correct_patterns: tuple[str, ...]
    response: str | None
    success: bool | None
    raw: Decimal | None
    latency: str | None
    timestamp: str | None
    description: Text | None
    objective_ids: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    """The SCO's run-time data at one commit, version-neutral and validated."""

    version: ScormVersion
    entry: str | None
    exit: str | None
    completion: bool | None
    success: bool | None
    score: Score | None
    progress: Decimal | None
    session_time: str | None
    comments: tuple[Comment, ...]
    objectives: tuple[Objective, ...]
    interactions: tuple[Interaction, ...]


def read_snapshot(elements: Mapping[str, str], version: ScormVersion) -> Snapshot:
    """Validate the elements of `version` and read what the statements are made from."""
    check_elements(elements, version)
    if version == "1.2":
        return _read_12(elements)
    return _read_2004(elements)


def _read_12(el: Mapping[str, str]) -> Snapshot:
    completion, success = _status(el, "cmi.core.lesson_status", _LESSON_STATUS)
    session = el.get("cmi.core.session_time")
    comment = el.get("cmi.comments")
    return Snapshot(
        version="1.2",
        entry=_enum(el, "cmi.core.entry", _ENTRY),
        exit=_enum(el, "cmi.core.exit", _EXIT["1.2"]),
        completion=completion,
        success=success,
        score=read_score(el, "cmi.core.score", "1.2"),
        progress=None,
        session_time=timespan_to_iso("cmi.core.session_time", session) if session else None,
        comments=(Comment("cmi.comments", comment),) if comment else (),
        objectives=tuple(_objective("1.2", n, f) for n, f in _groups(el, "cmi.objectives")),
        interactions=tuple(_interaction("1.2", n, f) for n, f in _groups(el, "cmi.interactions")),
    )


def _read_2004(el: Mapping[str, str]) -> Snapshot:
    completion = _lookup(el, "cmi.completion_status", _COMPLETION_STATUS)
    success = _lookup(el, "cmi.success_status", _SUCCESS_STATUS)
    progress = el.get("cmi.progress_measure")
    session = el.get("cmi.session_time")
    return Snapshot(
        version="2004",
        entry=_enum(el, "cmi.entry", _ENTRY),
        exit=_enum(el, "cmi.exit", _EXIT["2004"]),
        completion=completion,
        success=success,
        score=read_score(el, "cmi.score", "2004"),
        progress=_unit("cmi.progress_measure", progress),
        session_time=check_iso_duration("cmi.session_time", session) if session else None,
        comments=_comments(el),
        objectives=tuple(_objective("2004", n, f) for n, f in _groups(el, "cmi.objectives")),
        interactions=tuple(_interaction("2004", n, f) for n, f in _groups(el, "cmi.interactions")),
    )


def _groups(el: Mapping[str, str], prefix: str) -> list[tuple[int, dict[str, str]]]:
    """The records of an array element, by index: [(n, {"id": ..., "score.raw": ...})]."""
    groups: dict[int, dict[str, str]] = {}
    for name, value in el.items():
        if not name.startswith(prefix + "."):
            continue
        match = _INDEXED.match(name[len(prefix) + 1 :])
        if match is None:
            raise ScormDataError(name, "the array index is not a number")
        groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return sorted(groups.items())


def _objective(version: ScormVersion, n: int, f: dict[str, str]) -> Objective:
    element = f"cmi.objectives.{n}"
    objective_id = _required_id(element, f)
    scores = {f"{element}.{key}": value for key, value in f.items() if key.startswith("score.")}
    if version == "1.2":
        completion, success = _status(f, "status", _LESSON_STATUS, element)
        progress, description = None, None
    else:
        completion = _lookup(f, "completion_status", _COMPLETION_STATUS, element)
        success = _lookup(f, "success_status", _SUCCESS_STATUS, element)
        progress = _unit(f"{element}.progress_measure", f.get("progress_measure"))
        description = _text(f.get("description"))
    return Objective(
        element=element,
        id=objective_id,
        completion=completion,
        success=success,
        score=read_score(scores, f"{element}.score", version),
        progress=progress,
        description=description,
    )


def _interaction(version: ScormVersion, n: int, f: dict[str, str]) -> Interaction:
    element = f"cmi.interactions.{n}"
    kind = interaction_type(f"{element}.type", f["type"], version) if "type" in f else None
    patterns = [
        convert_response(f"{element}.{key}", value, kind, version)
        for key, value in _indexed_values(f, "correct_responses", "pattern")
    ]
    response_key = "student_response" if version == "1.2" else "learner_response"
    response = f.get(response_key)
    success, raw = (None, None)
    if f.get("result", "").strip():
        success, raw = interaction_result(f"{element}.result", f["result"], version)
    return Interaction(
        element=element,
        id=_required_id(element, f),
        kind=kind,
        correct_patterns=tuple(patterns),
        response=None
        if response is None
        else convert_response(f"{element}.{response_key}", response, kind, version),
        success=success,
        raw=raw,
        latency=_latency(f"{element}.latency", f.get("latency"), version),
        timestamp=_time(f"{element}.timestamp", f.get("timestamp")),
        description=_text(f.get("description")),
        objective_ids=tuple(value for _, value in _indexed_values(f, "objectives", "id")),
    )


def _comments(el: Mapping[str, str]) -> tuple[Comment, ...]:
    comments = (_comment(n, f) for n, f in _groups(el, "cmi.comments_from_learner"))
    return tuple(comment for comment in comments if comment.text)


def _comment(n: int, f: dict[str, str]) -> Comment:
    element = f"cmi.comments_from_learner.{n}"
    language, text = split_language(f.get("comment", ""))
    return Comment(
        element=element,
        text=text,
        language=language,
        location=f.get("location") or None,
        timestamp=_time(f"{element}.timestamp", f.get("timestamp")),
    )


def _indexed_values(f: dict[str, str], array: str, leaf: str) -> list[tuple[str, str]]:
    found = []
    for key, value in f.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == array and parts[2] == leaf:
            found.append((int(parts[1]), key, value))
    return [(key, value) for _, key, value in sorted(found)]


def _required_id(element: str, f: dict[str, str]) -> str:
    value = f.get("id", "").strip()
    if not value:
        raise ScormDataError(f"{element}.id", "missing; the record cannot be identified")
    return value


def _status(
    f: Mapping[str, str],
    key: str,
    table: dict[str, tuple[bool | None, bool | None]],
    prefix: str = "",
) -> tuple[bool | None, bool | None]:
    name = f"{prefix}.{key}" if prefix else key
    value = f.get(key)
    if value is None or not value.strip():
        return None, None
    if value.strip() not in table:
        raise ScormDataError(name, f"expected one of {', '.join(table)}, got {value!r}")
    return table[value.strip()]


def _lookup(
    f: Mapping[str, str], key: str, table: dict[str, bool | None], prefix: str = ""
) -> bool | None:
    name = f"{prefix}.{key}" if prefix else key
    value = f.get(key)
    if value is None or not value.strip():
        return None
    if value.strip() not in table:
        raise ScormDataError(name, f"expected one of {', '.join(table)}, got {value!r}")
    return table[value.strip()]


def _enum(el: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = el.get(name)
    if value is None:
        return None
    if value.strip() not in allowed:
        shown = ", ".join(repr(item) for item in allowed)
        raise ScormDataError(name, f"expected one of {shown}, got {value!r}")
    return value.strip()


def _unit(name: str, value: str | None) -> Decimal | None:
    if value is None or not value.strip():
        return None
    return parse_bounded(name, value, Decimal(0), Decimal(1))


def _latency(name: str, value: str | None, version: ScormVersion) -> str | None:
    if value is None or not value.strip():
        return None
    return timespan_to_iso(name, value) if version == "1.2" else check_iso_duration(name, value)


def _time(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return scorm_time_to_timestamp(name, value)


def _text(value: str | None) -> Text | None:
    if value is None or not value.strip():
        return None
    language, text = split_language(value)
    return Text(language or DEFAULT_LANGUAGE, text)
