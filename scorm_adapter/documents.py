"""CMI elements that are not about learner performance → the profile's xAPI documents.

ADL xAPI SCORM Profile §6 ("Providing support data") and the Appendix "xAPI SCORM Data
Objects" put these elements in documents, not statements:

- attempt state (`.../attempt-state`, about the attempt IRI and the learner): `location` ←
  lesson_location / location; `credit`, `mode` ← credit, lesson_mode / mode;
  `comments_from_lms`; `preferences` ← student_preference / learner_preference;
  `total_time`; `adl_data` ← adl.data.n (2004: where each data store lives).
- suspend data (`.../types/adl-suspend-data`, attempt IRI, learner): the cmi.suspend_data text.
- ADL data store (state id = adl.data.n.id, course IRI, learner): the adl.data.n.store text.
- agent profile (`.../agent-profile`, learner): `learner_id`, `learner_name` ← student_id,
  student_name / learner_id, learner_name; `preferences` (the learner's defaults).
- activity profile (`.../activity-profile`, SCO IRI): `launch_data`; `scaled_passing_score` ←
  mastery_score / 100 (1.2, whose scores are 0-100) or scaled_passing_score (2004);
  `completion_threshold`; `max_time_allowed` (in seconds); `time_limit_action`.

Who may set what. A SCO writes location, suspend data, preferences and ADL data stores; every
other element here is read-only to it (SCORM 1.2 RTE §3.4, 2004 RTE §4.2): the LMS provides
them. So `sco_documents` (browser commits) reads only the SCO-writable elements, and the rest
comes from the authenticated LMS that opens the attempt (`lms_documents`); a runtime echoing
`cmi.launch_data` in a commit cannot change what every learner of the SCO gets.

Values are checked against the profile's document schemas (`document-schemas/*.json`); one that
is valid SCORM but has no place there (a SCORM 1.2 `audio` of -1, a negative 1.2 `speed`) is
left out of the document and named in `left_out`, never clamped or guessed. Absent elements are
absent properties.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scorm_adapter.cmi import ScormVersion
from scorm_adapter.errors import ScormDataError
from scorm_adapter.values import (
    check_iso_duration,
    interval_parts,
    json_number,
    parse_decimal,
    scorm_time_to_timestamp,
    timespan_to_iso,
)

_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:-([a-z]{2,3})(?:-([a-z]{4}))?)?$", re.I)
_TIME_LIMIT_ACTIONS = ("exit,message", "continue,message", "exit,no message", "continue,no message")
_CREDIT = ("credit", "no-credit")
_MODE = ("browse", "normal", "review")

_NAMES: dict[ScormVersion, dict[str, str]] = {
    "1.2": {
        "location": "cmi.core.lesson_location",
        "credit": "cmi.core.credit",
        "mode": "cmi.core.lesson_mode",
        "total_time": "cmi.core.total_time",
        "suspend_data": "cmi.suspend_data",
        "learner_id": "cmi.core.student_id",
        "learner_name": "cmi.core.student_name",
        "launch_data": "cmi.launch_data",
        "passing": "cmi.student_data.mastery_score",
        "max_time_allowed": "cmi.student_data.max_time_allowed",
        "time_limit_action": "cmi.student_data.time_limit_action",
        "audio_level": "cmi.student_preference.audio",
        "language": "cmi.student_preference.language",
        "delivery_speed": "cmi.student_preference.speed",
        "audio_captioning": "cmi.student_preference.text",
    },
    "2004": {
        "location": "cmi.location",
        "credit": "cmi.credit",
        "mode": "cmi.mode",
        "total_time": "cmi.total_time",
        "suspend_data": "cmi.suspend_data",
        "learner_id": "cmi.learner_id",
        "learner_name": "cmi.learner_name",
        "launch_data": "cmi.launch_data",
        "passing": "cmi.scaled_passing_score",
        "completion_threshold": "cmi.completion_threshold",
        "max_time_allowed": "cmi.max_time_allowed",
        "time_limit_action": "cmi.time_limit_action",
        "audio_level": "cmi.learner_preference.audio_level",
        "language": "cmi.learner_preference.language",
        "delivery_speed": "cmi.learner_preference.delivery_speed",
        "audio_captioning": "cmi.learner_preference.audio_captioning",
    },
}
_ENTRY = {"1.2": "cmi.core.entry", "2004": "cmi.entry"}  # the session's entry (service.py)
_PREFERENCES = ("audio_level", "language", "delivery_speed", "audio_captioning")
_ADL_DATA = re.compile(r"^adl\.data\.(\d+)\.(id|store)$")
_COMMENT_FROM_LMS = re.compile(r"^cmi\.comments_from_lms\.(\d+)\.(comment|location|timestamp)$")


@dataclass(frozen=True)
class ScormDocuments:
    """The document content one set of CMI elements gives; empty parts mean nothing to write."""

    attempt_state: dict[str, Any] = field(default_factory=dict)
    suspend_data: str | None = None
    adl_data: dict[str, str] = field(default_factory=dict)  # adl.data.n.id → its store
    agent_profile: dict[str, Any] = field(default_factory=dict)
    activity_profile: dict[str, Any] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()


def sco_documents(elements: Mapping[str, str], version: ScormVersion) -> ScormDocuments:
    """What a SCO's own data (a browser commit) puts in documents: the SCO-writable elements."""
    names, notes = _NAMES[version], _Notes()
    state: dict[str, Any] = {}
    if names["location"] in elements:
        state["location"] = elements[names["location"]]
    preferences = _preferences(elements, version, notes)
    if preferences:
        state["preferences"] = preferences
    return ScormDocuments(
        attempt_state=state,
        suspend_data=elements.get(names["suspend_data"]),
        adl_data=_adl_data(elements, version),
        left_out=notes.items,
    )


def lms_documents(elements: Mapping[str, str], version: ScormVersion) -> ScormDocuments:
    """What the LMS's data for an attempt (given when it opens the attempt) puts in documents.

    The attempt state gets credit, mode, comments from the LMS, total time and location; the
    agent profile the learner's id, name and default preferences; the activity profile the
    SCO's launch data, passing score, completion threshold and time limits.
    """
    names, notes = _NAMES[version], _Notes()
    state: dict[str, Any] = {}
    if names["location"] in elements:
        state["location"] = elements[names["location"]]
    _enum_into(state, "credit", elements.get(names["credit"]), _CREDIT, names["credit"], notes)
    _enum_into(state, "mode", elements.get(names["mode"]), _MODE, names["mode"], notes)
    comments = _comments_from_lms(elements, version)
    if comments:
        state["comments_from_lms"] = comments
    total = elements.get(names["total_time"])
    if total is not None and total.strip():
        state["total_time"] = iso_time(names["total_time"], total, version)
    agent: dict[str, Any] = {}
    for name in ("learner_id", "learner_name"):
        if names[name] in elements:
            agent[name] = elements[names[name]]
    preferences = _preferences(elements, version, notes)
    if preferences:
        agent["preferences"] = preferences
    return ScormDocuments(
        attempt_state=state,
        suspend_data=elements.get(names["suspend_data"]),
        adl_data=_adl_data(elements, version),
        agent_profile=agent,
        activity_profile=_activity_profile(elements, version, notes),
        left_out=notes.items,
    )


def check_lms_elements(elements: Mapping[str, str], version: ScormVersion) -> None:
    """ScormDataError for the first element of the LMS's data that has no document home.

    The LMS's data (`lmsData` of the open call) is what the LMS gives the SCO: identity,
    launch data, credit, mode, limits, comments, preferences, a resumed attempt's location,
    suspend data and total time, and the session's entry (kept in the attempt's state). Learner
    results (status, score, interactions...) are the SCO's to report in its commits; given here
    they would be silently dropped, so they are refused.
    """
    known = set(_NAMES[version].values())
    for name in elements:
        if name in known or name in ("cmi.comments_from_lms", _ENTRY[version]):
            continue
        if _COMMENT_FROM_LMS.match(name) or (version == "2004" and _ADL_DATA.match(name)):
            continue
        raise ScormDataError(
            name, "not LMS-provided data with a document home; the SCO reports it in a commit"
        )


def iso_time(element: str, value: str, version: ScormVersion) -> str:
    """A SCORM time span (1.2 HHHH:MM:SS.SS, 2004 ISO 8601) as an ISO 8601 duration."""
    if version == "1.2":
        return timespan_to_iso(element, value)
    return check_iso_duration(element, value)


def seconds(element: str, value: str, version: ScormVersion) -> Decimal | None:
    """A SCORM time span in seconds; None for a duration in years or months (no fixed length)."""
    parts = interval_parts(iso_time(element, value, version))
    if parts is None:
        return None
    hours, minutes, secs = parts
    return Decimal(hours * 3600 + minutes * 60) + Decimal(secs)


def duration_from_seconds(total: Decimal) -> str:
    """Seconds as `PT{h}H{m}M{s}S`, to 0.01 s (the attempt state's total_time precision)."""
    total = total.quantize(Decimal("0.01"))
    whole_minutes, secs = divmod(total, 60)
    hours, minutes = divmod(int(whole_minutes), 60)
    parts = [f"{hours}H" if hours else "", f"{minutes}M" if minutes else ""]
    if secs:
        parts.append(f"{secs.normalize():f}S")
    return "PT" + ("".join(parts) or "0S")


class _Notes:
    """Elements left out of a document, each with why."""

    def __init__(self) -> None:
        self.items: tuple[str, ...] = ()

    def add(self, element: str, reason: str) -> None:
        self.items = (*self.items, f"{element}: {reason}")


def _enum_into(
    target: dict[str, Any],
    name: str,
    value: str | None,
    allowed: tuple[str, ...],
    element: str,
    notes: _Notes,
) -> None:
    if value is None or not value.strip():
        return
    if value.strip() in allowed:
        target[name] = value.strip()
    else:
        notes.add(element, f"{value!r} is not one of {', '.join(allowed)}")


def _preferences(
    elements: Mapping[str, str], version: ScormVersion, notes: _Notes
) -> dict[str, Any]:
    """The Preferences Object: audio_level ≥ 0, language (RFC 5646), delivery_speed ≥ 0,
    audio_captioning -1 / 0 / 1 (profile Appendix, Preferences Object)."""
    names, out = _NAMES[version], dict[str, Any]()
    for name in _PREFERENCES:
        element = names[name]
        value = elements.get(element)
        if value is None or not value.strip():
            continue
        if name == "language":
            tag = _language(value)
            if tag is None:
                notes.add(element, f"{value!r} is not a language code the profile takes")
            else:
                out[name] = tag
            continue
        number = _number(element, value, notes)
        if number is None:
            continue
        if name == "audio_captioning" and number not in (-1, 0, 1):
            notes.add(element, f"{value!r} is not -1, 0 or 1")
        elif name != "audio_captioning" and number < 0:
            notes.add(element, f"{value!r} is negative; the profile's {name} is 0 or more")
        else:
            out[name] = json_number(number)
    return out


def _language(value: str) -> str | None:
    match = _LANGUAGE.match(value.strip())
    if match is None:
        return None
    primary, region, script = match.groups()
    parts = [primary.lower(), region.upper() if region else None, script]
    return "-".join(part for part in parts if part)


def _number(element: str, value: str, notes: _Notes) -> Decimal | None:
    try:
        return parse_decimal(element, value)
    except ScormDataError as exc:
        notes.add(element, exc.problem)
        return None


def _comments_from_lms(elements: Mapping[str, str], version: ScormVersion) -> list[dict[str, str]]:
    if version == "1.2":
        text = elements.get("cmi.comments_from_lms")
        return [{"comment": text}] if text else []
    comments: dict[int, dict[str, str]] = {}
    for name, value in elements.items():
        match = _COMMENT_FROM_LMS.match(name)
        if match is None or not value.strip():
            continue
        n, part = int(match.group(1)), match.group(2)
        if part == "timestamp":
            stamp = scorm_time_to_timestamp(name, value)
            if stamp is None:
                continue  # no time zone: not an instant, left out (see values.py)
            value = stamp
        comments.setdefault(n, {})[part] = value
    return [comments[n] for n in sorted(comments)]


def _adl_data(elements: Mapping[str, str], version: ScormVersion) -> dict[str, str]:
    if version != "2004":
        return {}
    groups: dict[int, dict[str, str]] = {}
    for name, value in elements.items():
        match = _ADL_DATA.match(name)
        if match is not None:
            groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    out = {}
    for n in sorted(groups):
        data_id, store = groups[n].get("id", "").strip(), groups[n].get("store")
        if store is not None:
            if not data_id:
                raise ScormDataError(f"adl.data.{n}.id", "missing; the data store is unnamed")
            out[data_id] = store
    return out


def _activity_profile(
    elements: Mapping[str, str], version: ScormVersion, notes: _Notes
) -> dict[str, Any]:
    names, out = _NAMES[version], dict[str, Any]()
    if names["launch_data"] in elements:
        out["launch_data"] = elements[names["launch_data"]]
    passing = elements.get(names["passing"])
    if passing is not None and passing.strip():
        value = parse_decimal(names["passing"], passing)
        # SCORM 1.2 mastery_score is 0-100; the profile's scaled_passing_score is -1..1.
        scaled = value / 100 if version == "1.2" else value
        if -1 <= scaled <= 1 and (version == "2004" or value >= 0):
            out["scaled_passing_score"] = json_number(scaled)
        else:
            notes.add(names["passing"], f"{passing!r} is outside the SCORM range")
    threshold = elements.get(names.get("completion_threshold", ""))
    if threshold is not None and threshold.strip():
        value = parse_decimal(names["completion_threshold"], threshold)
        if 0 <= value <= 1:
            out["completion_threshold"] = json_number(value)
        else:
            notes.add(names["completion_threshold"], f"{threshold!r} is outside [0, 1]")
    limit = elements.get(names["max_time_allowed"])
    if limit is not None and limit.strip():
        secs = seconds(names["max_time_allowed"], limit, version)
        if secs is None:
            notes.add(names["max_time_allowed"], "years or months have no length in seconds")
        else:
            out["max_time_allowed"] = json_number(secs)
    action = elements.get(names["time_limit_action"])
    _enum_into(
        out, "time_limit_action", action, _TIME_LIMIT_ACTIONS, names["time_limit_action"], notes
    )
    return out
