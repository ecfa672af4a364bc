"""The CMI values a runtime starts a session from, in the nested shape runtimes load.

The open-attempt answer carries them as `startingData`, `{"cmi": {"core": {...}}}` for SCORM 1.2
or `{"cmi": {...}}` for 2004: the shape scorm-again's `loadFromJSON` takes (it walks nested
objects and arrays and sets each leaf as `cmi.<path>` before `LMSInitialize` / `Initialize`),
so an LMS hands it to the player as is. What it holds:

- every LMS-provided value of this open request (`lmsData`: credit, mode, launch data, mastery
  score / scaled passing score, limits, comments from the LMS, preferences...);
- the session's entry (`ab-initio` / `resume` from the attempt's lifecycle, or the LMS's);
- the learner's id and name, when `lmsData` does not give them: the id from the actor's IFI
  (account name, mbox address without `mailto:`, openid, mbox_sha1sum), the name from its
  `name` (omitted when the actor has none);
- for a resumed attempt, what the SCO left: location, suspend data, and its status and score
  (so the player does not start from `not attempted` and report `incomplete` over a pass), and
  the total time of its finished sessions; `lmsData` wins over each.

Values are strings, as the data model holds them. Nothing is invented: an element nobody gave
is absent (the runtime's own default applies).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lrs.params import is_ascii_digits
from scorm_adapter.attempts import AttemptState
from scorm_adapter.cmi import ScormVersion
from scorm_adapter.documents import duration_from_seconds

_LEARNER = {
    "1.2": ("cmi.core.student_id", "cmi.core.student_name"),
    "2004": ("cmi.learner_id", "cmi.learner_name"),
}
_RESUMED: dict[ScormVersion, tuple[str, ...]] = {
    "1.2": (
        "cmi.core.lesson_location",
        "cmi.suspend_data",
        "cmi.core.lesson_status",
        "cmi.core.score.raw",
        "cmi.core.score.min",
        "cmi.core.score.max",
    ),
    "2004": (
        "cmi.location",
        "cmi.suspend_data",
        "cmi.completion_status",
        "cmi.success_status",
        "cmi.progress_measure",
        "cmi.score.scaled",
        "cmi.score.raw",
        "cmi.score.min",
        "cmi.score.max",
    ),
}
_TOTAL_TIME = {"1.2": "cmi.core.total_time", "2004": "cmi.total_time"}
_IFIS = ("account", "mbox", "openid", "mbox_sha1sum")


def starting_elements(
    state: AttemptState, lms_data: Mapping[str, str], resumed: bool
) -> dict[str, str]:
    """The flat CMI elements the session starts from (module docstring)."""
    version = state.version
    found: dict[str, str] = {}
    if resumed:
        found.update({k: state.snapshot[k] for k in _RESUMED[version] if k in state.snapshot})
        if state.total_known:
            found[_TOTAL_TIME[version]] = _time_span(state.total_time, version)
    id_name, name_name = _LEARNER[version]
    learner_id = _learner_id(state.learner)
    if learner_id is not None:
        found[id_name] = learner_id
    if isinstance(state.learner.get("name"), str):
        found[name_name] = state.learner["name"]
    found.update(lms_data)
    found.update(state.entry_element())
    return found


def nest(elements: Mapping[str, str]) -> dict[str, Any]:
    """`{"cmi.core.entry": "x"}` → `{"cmi": {"core": {"entry": "x"}}}`, indices as lists."""
    tree: dict[str, Any] = {}
    for name, value in sorted(elements.items()):
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _lists(tree)


def _lists(node: Any) -> Any:
    """Objects whose keys are 0..n-1 become arrays (the data model's collections)."""
    if not isinstance(node, dict):
        return node
    children = {key: _lists(value) for key, value in node.items()}
    if children and all(map(is_ascii_digits, children)):  # "²".isdigit(); int() refuses it
        indices = sorted(int(key) for key in children)
        if indices == list(range(len(indices))):
            return [children[str(index)] for index in indices]
    return children


def _learner_id(actor: Mapping[str, Any]) -> str | None:
    for ifi in _IFIS:
        value = actor.get(ifi)
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            return str(value["name"])
        if isinstance(value, str):
            return value.removeprefix("mailto:")
    return None


def _time_span(total: Decimal, version: ScormVersion) -> str:
    """Seconds as SCORM 1.2 `HHHH:MM:SS.SS` or a 2004 ISO 8601 duration."""
    if version == "2004":
        return duration_from_seconds(total)
    total = total.quantize(Decimal("0.01"))
    whole_minutes, secs = divmod(total, 60)
    hours, minutes = divmod(int(whole_minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{secs:05.2f}"
