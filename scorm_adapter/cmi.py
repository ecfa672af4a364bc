"""SCORM commits → one flat `{"cmi.core.lesson_status": "passed", ...}` dict, and its SCORM version.

SCORM runtimes send their data model in three shapes; all become the same flat dict of CMI
element names (dotted, with array indices as numbers) to string values:

- nested CMI JSON: `{"cmi": {"core": {"lesson_status": "passed"}}}`, where interactions,
  objectives and comments are lists or `{"0": {...}, "1": {...}}` maps;
- flattened JSON: `{"cmi.core.lesson_status": "passed"}` (the two may be mixed);
- form parameters (a `Mapping[str, str]` or a multidict), with dotted names or jQuery-style
  brackets (`cmi[core][lesson_status]=passed`).

SCORM keywords (`_children`, `_count`, `_version`) are read-only metadata and are dropped; a
`cmi._version` of "3.4" (SCORM 1.2) or "1.0" (SCORM 2004) is used to tell the versions apart
when the caller does not say. Every remaining name must be an element of that version's data
model (SCORM 1.2 RTE §3.4, SCORM 2004 4th Edition RTE §4.2); anything else is a ScormDataError,
so a typo never silently loses data — except in a runtime's commit (`lenient=True`), where a
name in neither version's model is left out and named in `CmiData.left_out`, so it cannot cost
the learner the data beside it. An element of the other version still rejects the commit: the
runtime speaks the other SCORM, and its values (`wrong` / `incorrect`) cannot be read as this
one.

Collection placeholders: scorm-again's `params` format renders an empty collection as its
JavaScript string, `[object Object]` (an empty object) or the empty string (an empty array), under
the collection's own name (`cmi.objectives=[object Object]`). Such a value under a collection
name (`COLLECTIONS`) carries no data and is dropped, in every mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scorm_adapter.errors import ScormDataError

ScormVersion = Literal["1.2", "2004"]
VERSIONS: tuple[ScormVersion, ...] = ("1.2", "2004")

# The data model elements of each version; `n` stands for an array index.
_ELEMENTS_12 = """
cmi.core.student_id cmi.core.student_name cmi.core.lesson_location cmi.core.credit
cmi.core.lesson_status cmi.core.entry cmi.core.score.raw cmi.core.score.min cmi.core.score.max
cmi.core.total_time cmi.core.lesson_mode cmi.core.exit cmi.core.session_time
cmi.suspend_data cmi.launch_data cmi.comments cmi.comments_from_lms
cmi.objectives.n.id cmi.objectives.n.score.raw cmi.objectives.n.score.min
cmi.objectives.n.score.max cmi.objectives.n.status
cmi.student_data.mastery_score cmi.student_data.max_time_allowed
cmi.student_data.time_limit_action
cmi.student_preference.audio cmi.student_preference.language cmi.student_preference.speed
cmi.student_preference.text
cmi.interactions.n.id cmi.interactions.n.objectives.n.id cmi.interactions.n.time
cmi.interactions.n.type cmi.interactions.n.correct_responses.n.pattern
cmi.interactions.n.weighting cmi.interactions.n.student_response cmi.interactions.n.result
cmi.interactions.n.latency
"""

_ELEMENTS_2004 = """
cmi.comments_from_learner.n.comment cmi.comments_from_learner.n.location
cmi.comments_from_learner.n.timestamp
cmi.comments_from_lms.n.comment cmi.comments_from_lms.n.location
cmi.comments_from_lms.n.timestamp
cmi.completion_status cmi.completion_threshold cmi.credit cmi.entry cmi.exit
cmi.interactions.n.id cmi.interactions.n.type cmi.interactions.n.objectives.n.id
cmi.interactions.n.timestamp cmi.interactions.n.correct_responses.n.pattern
cmi.interactions.n.weighting cmi.interactions.n.learner_response cmi.interactions.n.result
cmi.interactions.n.latency cmi.interactions.n.description
cmi.launch_data cmi.learner_id cmi.learner_name
cmi.learner_preference.audio_level cmi.learner_preference.language
cmi.learner_preference.delivery_speed cmi.learner_preference.audio_captioning
cmi.location cmi.max_time_allowed cmi.mode
cmi.objectives.n.id cmi.objectives.n.score.scaled cmi.objectives.n.score.raw
cmi.objectives.n.score.min cmi.objectives.n.score.max cmi.objectives.n.success_status
cmi.objectives.n.completion_status cmi.objectives.n.progress_measure
cmi.objectives.n.description
cmi.progress_measure cmi.scaled_passing_score
cmi.score.scaled cmi.score.raw cmi.score.min cmi.score.max
cmi.session_time cmi.success_status cmi.suspend_data cmi.time_limit_action cmi.total_time
adl.nav.request adl.data.n.id adl.data.n.store
"""


def _pattern(names: str, extra: Iterable[str] = ()) -> re.Pattern[str]:
    parts = [re.escape(name).replace(r"\.n\.", r"\.\d+\.") for name in names.split()]
    parts.extend(extra)
    return re.compile("^(?:" + "|".join(parts) + ")$")


_MODEL: dict[ScormVersion, re.Pattern[str]] = {
    "1.2": _pattern(_ELEMENTS_12),
    # adl.nav.request_valid.continue / .previous / .choice.{target=ID} / .jump.{target=ID}
    "2004": _pattern(_ELEMENTS_2004, [r"adl\.nav\.request_valid\.[^\s]+"]),
}
# Collections (arrays of the data model), as a runtime may name them when they are empty.
_COLLECTIONS_12 = (
    r"cmi\.objectives",
    r"cmi\.interactions",
    r"cmi\.interactions\.\d+\.objectives",
    r"cmi\.interactions\.\d+\.correct_responses",
)
_COLLECTIONS: dict[ScormVersion, re.Pattern[str]] = {
    "1.2": re.compile("^(?:" + "|".join(_COLLECTIONS_12) + ")$"),
    "2004": re.compile(
        "^(?:"
        + "|".join(
            (
                *_COLLECTIONS_12,
                r"cmi\.comments_from_learner",
                r"cmi\.comments_from_lms",
                r"adl\.data",
            )
        )
        + ")$"
    ),
}
PLACEHOLDERS = ("[object Object]", "")  # String({}) and String([]) in JavaScript
_VERSION_KEYWORD = {"3.4": "1.2", "1.0": "2004"}
_BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")


@dataclass(frozen=True)
class CmiData:
    """A parsed commit: its SCORM version and its data elements (keywords removed)."""

    version: ScormVersion
    elements: dict[str, str]
    left_out: tuple[str, ...] = ()


def parse_json_commit(
    payload: Mapping[str, Any], version: str | None = None, *, lenient: bool = False
) -> CmiData:
    """Parse nested or flattened CMI JSON (or a mix of both) into flat elements."""
    return _finish(flatten_json(payload), version, lenient)


def parse_form_commit(
    params: Mapping[str, str], version: str | None = None, *, lenient: bool = False
) -> CmiData:
    """Parse form parameters (a mapping or a multidict) into flat elements."""
    return _finish(flatten_form(params), version, lenient)


def is_placeholder(name: str, value: str) -> bool:
    """True for a runtime's rendering of an empty collection (`cmi.objectives=[object Object]`)."""
    if value.strip() not in PLACEHOLDERS:
        return False
    return any(pattern.match(name) for pattern in _COLLECTIONS.values())


def flatten_json(payload: Mapping[str, Any]) -> dict[str, str]:
    """Flatten nested/flattened CMI JSON to dotted names; keywords are kept, None dropped."""
    if not isinstance(payload, Mapping):
        raise ScormDataError("cmi", "a commit must be a JSON object")
    flat: dict[str, str] = {}
    for key, value in payload.items():
        _flatten_into(flat, str(key), value)
    return flat


def flatten_form(params: Mapping[str, str]) -> dict[str, str]:
    """Flat elements from form parameters; a name sent twice must carry the same value."""
    flat: dict[str, str] = {}
    for key, value in params.items():  # a multidict yields repeated keys here
        _put(flat, _unbracket(str(key)), str(value))
    return flat


def detect_version(elements: Mapping[str, str], hint: str | None = None) -> ScormVersion:
    """Tell SCORM 1.2 from 2004 by `cmi._version` (`hint`) or by which elements are present."""
    if hint is not None and hint.strip() in _VERSION_KEYWORD:
        return _VERSION_KEYWORD[hint.strip()]  # type: ignore[return-value]
    only_12 = [name for name in elements if _in_model(name, "1.2") and not _in_model(name, "2004")]
    only_04 = [name for name in elements if _in_model(name, "2004") and not _in_model(name, "1.2")]
    if only_12 and only_04:
        raise ScormDataError(
            only_04[0], f"a SCORM 2004 element mixed with SCORM 1.2 elements ({only_12[0]})"
        )
    if only_12:
        return "1.2"
    if only_04:
        return "2004"
    unknown = [
        name for name in elements if not _in_model(name, "1.2") and not _in_model(name, "2004")
    ]
    if unknown:
        raise ScormDataError(unknown[0], "not a SCORM 1.2 or SCORM 2004 data model element")
    raise ScormDataError("cmi", "cannot tell SCORM 1.2 from SCORM 2004; give the version")


def check_elements(elements: Mapping[str, str], version: ScormVersion) -> None:
    """Raise ScormDataError for the first name that is not an element of `version`'s model."""
    for name in elements:
        if not _in_model(name, version):
            raise ScormDataError(name, f"not a SCORM {version} data model element")


def normalize_version(text: str) -> ScormVersion:
    """ "1.2", "SCORM 1.2", "2004", "SCORM 2004 4th Edition", "scorm_2004" → "1.2" / "2004"."""
    # collapse before stripping: "_SCORM 1.2" kept its "_" and then its "scorm"
    value = re.sub(r"[\s_]+", " ", text.lower()).strip().removeprefix("scorm").strip()
    if value in ("1.2", "12"):
        return "1.2"
    if value.startswith("2004"):
        return "2004"
    raise ScormDataError("version", f"unknown SCORM version {text!r} (expected 1.2 or 2004)")


def is_keyword(name: str) -> bool:
    """True for SCORM keywords such as `cmi.core._children`, `cmi.interactions._count`."""
    return any(part.startswith("_") for part in name.split("."))


def _finish(flat: dict[str, str], version: str | None, lenient: bool) -> CmiData:
    hint = flat.get("cmi._version")
    elements = {
        name: value
        for name, value in flat.items()
        if not is_keyword(name) and not is_placeholder(name, value)
    }
    resolved = normalize_version(version) if version is not None else detect_version(elements, hint)
    if not lenient:
        check_elements(elements, resolved)
        return CmiData(resolved, elements)
    unknown = [name for name in elements if not _in_model(name, resolved)]
    other: ScormVersion = "2004" if resolved == "1.2" else "1.2"
    for name in unknown:  # a runtime of the other version: the rest cannot be read as this one
        if _in_model(name, other):
            raise ScormDataError(name, f"not a SCORM {resolved} data model element")
    kept = {name: value for name, value in elements.items() if name not in unknown}
    notes = tuple(f"{name}: not a SCORM {resolved} data model element" for name in unknown)
    return CmiData(resolved, kept, notes)


def _in_model(name: str, version: ScormVersion) -> bool:
    return _MODEL[version].match(name) is not None


def _flatten_into(flat: dict[str, str], prefix: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten_into(flat, f"{prefix}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten_into(flat, f"{prefix}.{index}", item)
    elif value is not None:
        _put(flat, prefix, _scalar(prefix, value))


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise ScormDataError(name, f"not a string or number: {type(value).__name__}")


def _put(flat: dict[str, str], name: str, value: str) -> None:
    if name in flat and flat[name] != value:
        raise ScormDataError(name, "given twice with different values")
    flat[name] = value


def _unbracket(name: str) -> str:
    match = _BRACKETS.match(name)
    if match is None:
        return name
    parts = match.group(2)[1:-1].split("][")
    if any(not part for part in parts):
        raise ScormDataError(name, "empty [] in a parameter name; indices must be explicit")
    return ".".join([match.group(1), *parts])
