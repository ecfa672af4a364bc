"""A SCORM attempt snapshot → xAPI statements, per the ADL xAPI SCORM Profile (§3, §5, §6).

| SCORM data                                            | statement                              |
| ----------------------------------------------------- | -------------------------------------- |
| cmi.entry / cmi.core.entry = ab-initio                | initialized SCO                        |
| cmi.entry / cmi.core.entry = resume                   | resumed SCO                            |
| cmi.exit / cmi.core.exit = suspend, session ended     | suspended SCO, result = overall result |
| any other exit, session ended (see AttemptContext)    | terminated SCO, result = overall result|
| completion_status / lesson_status = completed         | completed SCO                          |
| success_status / lesson_status = passed, failed       | passed / failed SCO                    |
| cmi.score / cmi.core.score with a scaled score        | scored SCO, result.score               |
| cmi.progress_measure                                  | progressed SCO, result.score.scaled    |
| cmi.interactions.n with a learner/student response    | responded interaction, parent SCO      |
| cmi.comments / cmi.comments_from_learner.n            | commented SCO, result.response         |
| cmi.objectives.n (status, score, progress)            | completed/passed/failed/scored/        |
|                                                       | progressed objective, parent SCO       |

The overall result (§5 Terminating/Suspending) holds success, completion, score and the
session time as `duration`. Every statement has grouping [course, attempt] and category [the
profile activity]; statements about something inside the SCO also have parent [SCO].
`incomplete`, `not attempted`, `unknown` and `browsed` produce no status statement, and data
the SCO did not report is left out, never defaulted. A scored statement needs a scaled score
(the profile's score statement carries `score.scaled`), so a SCORM 2004 raw score without min
and max appears only in the overall result.

Statement ids are UUIDv5 (namespace SCORM_NAMESPACE) of the natural key: learner IFI, course,
SCO, attempt, registration, verb, object id, the CMI element and the value that triggered the
statement (plus the session for resumed/suspended, and the SCORM timestamp of an interaction
or comment), and the statement's result. Same data → same ids, so a re-sent or re-imported
snapshot is harmless; different content never reuses an id. The statement `timestamp` is not
part of the key, and the LRS compares timestamps when a statement id is sent again: re-sending
a snapshot with a new `timestamp` must go with `previous` (so unchanged data yields nothing).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from scorm_adapter.context import SCORM_NAMESPACE, AttemptContext, canonical_json, learner_key
from scorm_adapter.snapshot import Interaction, Objective, Snapshot, Text, read_snapshot
from scorm_adapter.values import json_number
from scorm_adapter.vocabulary import (
    ATTEMPT_TYPE,
    COURSE_TYPE,
    INTERACTION_TYPE,
    OBJECTIVE_TYPE,
    SCO_TYPE,
    profile_category,
    verb,
)

_ELEMENTS = {
    "1.2": {
        "entry": "cmi.core.entry",
        "exit": "cmi.core.exit",
        "completion": "cmi.core.lesson_status",
        "success": "cmi.core.lesson_status",
        "score": "cmi.core.score",
    },
    "2004": {
        "entry": "cmi.entry",
        "exit": "cmi.exit",
        "completion": "cmi.completion_status",
        "success": "cmi.success_status",
        "score": "cmi.score",
        "progress": "cmi.progress_measure",
    },
}
_ENDS_ATTEMPT = ("normal", "logout", "time-out")


def convert_attempt(
    ctx: AttemptContext,
    elements: Mapping[str, str],
    previous: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The statements for one SCORM snapshot; with `previous`, only for what changed.

    `elements` is the flat CMI dict (see scorm_adapter.cmi). `previous` is the snapshot last
    converted for the same session; statements it already produced are left out (no second
    `completed` for a status that was already completed). Raises ScormDataError naming the
    first bad element.
    """
    current = _Converter(ctx, read_snapshot(elements, ctx.version)).statements()
    if previous is None:
        return current
    # A previous snapshot of the same session was, by definition, not the session's end.
    before = replace(ctx, session_ended=False) if ctx.session_ended else ctx
    seen = {s["id"] for s in _Converter(before, read_snapshot(previous, ctx.version)).statements()}
    return [statement for statement in current if statement["id"] not in seen]


def objective_iri(sco_iri: str, objective_id: str) -> str:
    """`<SCO IRI>/objective/<objective id>` (profile §6 Objectives, local objective)."""
    return f"{sco_iri.rstrip('/')}/objective/{quote(objective_id, safe='')}"


def interaction_iri(sco_iri: str, interaction_id: str) -> str:
    """`<SCO IRI>/interaction/<interaction id>` (profile §6 Interactions, NOTE)."""
    return f"{sco_iri.rstrip('/')}/interaction/{quote(interaction_id, safe='')}"


class _Converter:
    """Builds the statements of one snapshot; one method per group of data elements."""

    def __init__(self, ctx: AttemptContext, snapshot: Snapshot) -> None:
        self.ctx = ctx
        self.snap = snapshot
        self.names = _ELEMENTS[ctx.version]
        self.key: list[Any] = [learner_key(ctx.learner), ctx.course_iri, ctx.sco_iri]
        self.key += [ctx.attempt_iri, ctx.registration]
        self.sco = _activity(ctx.sco_iri, SCO_TYPE, ctx.sco_name, ctx.sco_description)
        self.course = _activity(
            ctx.course_iri, COURSE_TYPE, ctx.course_name, ctx.course_description
        )
        self.attempt = _activity(ctx.attempt_iri, ATTEMPT_TYPE, None, None)

    def statements(self) -> list[dict[str, Any]]:
        """Entry, interactions, objectives, SCO status, comments, then the session's end."""
        return [
            *self._entry(),
            *(s for item in self.snap.interactions for s in self._interaction(item)),
            *(s for item in self.snap.objectives for s in self._objective(item)),
            *self._status(),
            *self._comments(),
            *self._exit(),
        ]

    def _entry(self) -> list[dict[str, Any]]:
        # Profile §6 Entry: ab-initio → initialized (once per attempt); resume → resumed (once
        # per session).
        entry, element = self.snap.entry, self.names["entry"]
        if entry == "ab-initio":
            return [self._make("initialized", self.sco, element, ["ab-initio"])]
        if entry == "resume":
            return [self._make("resumed", self.sco, element, ["resume", self.ctx.session])]
        return []

    def _exit(self) -> list[dict[str, Any]]:
        # Profile §6 Exit and §5 Suspending/Terminating an attempt.
        exit_value, ended = self.snap.exit, self.ctx.session_ended
        if ended is False or (ended is None and exit_value not in ("suspend", *_ENDS_ATTEMPT)):
            return []
        result = self._overall_result()
        element = self.names["exit"]
        if exit_value == "suspend":
            key = ["suspend", self.ctx.session]
            return [self._make("suspended", self.sco, element, key, result=result)]
        return [self._make("terminated", self.sco, element, [exit_value], result=result)]

    def _overall_result(self) -> dict[str, Any] | None:
        snap, result = self.snap, dict[str, Any]()
        if snap.success is not None:
            result["success"] = snap.success
        if snap.completion is not None:
            result["completion"] = snap.completion
        if snap.score is not None:
            result["score"] = snap.score.as_json()
        if snap.session_time is not None:
            result["duration"] = snap.session_time  # profile §6 Session Time
        return result or None

    def _status(self) -> list[dict[str, Any]]:
        snap, names, out = self.snap, self.names, []
        if snap.completion is True:
            out.append(self._make("completed", self.sco, names["completion"], ["completed"]))
        if snap.success is not None:
            name = "passed" if snap.success else "failed"
            out.append(self._make(name, self.sco, names["success"], [name]))
        if snap.score is not None and snap.score.scaled is not None:
            result = {"score": snap.score.as_json()}
            out.append(self._make("scored", self.sco, names["score"], [], result=result))
        if snap.progress is not None:
            result = {"score": {"scaled": json_number(snap.progress)}}
            out.append(self._make("progressed", self.sco, names["progress"], [], result=result))
        return out

    def _objective(self, item: Objective) -> list[dict[str, Any]]:
        # Profile §6 Objectives: the objective is the object, the SCO its parent.
        obj = _activity(objective_iri(self.ctx.sco_iri, item.id), OBJECTIVE_TYPE, None, None)
        if item.description is not None:
            obj["definition"]["description"] = _language_map(item.description)
        v12 = self.ctx.version == "1.2"
        out = []
        if item.completion is True:
            element = "cmi.objectives.n." + ("status" if v12 else "completion_status")
            out.append(self._make("completed", obj, element, ["completed"], parent=True))
        if item.success is not None:
            name = "passed" if item.success else "failed"
            element = "cmi.objectives.n." + ("status" if v12 else "success_status")
            out.append(self._make(name, obj, element, [name], parent=True))
        if item.score is not None and item.score.scaled is not None:
            result = {"score": item.score.as_json()}
            out.append(self._make("scored", obj, "cmi.objectives.n.score", [], result, True))
        if item.progress is not None:
            result = {"score": {"scaled": json_number(item.progress)}}
            element = "cmi.objectives.n.progress_measure"
            out.append(self._make("progressed", obj, element, [], result, True))
        return out

    def _interaction(self, item: Interaction) -> list[dict[str, Any]]:
        # Profile §6 Interactions: responded, result.response, an interaction definition.
        if item.response is None:
            return []
        definition: dict[str, Any] = {"type": INTERACTION_TYPE}
        if item.description is not None:
            definition["description"] = _language_map(item.description)
        if item.kind is not None:
            definition["interactionType"] = item.kind
            if item.correct_patterns:
                definition["correctResponsesPattern"] = list(item.correct_patterns)
        obj = {"id": interaction_iri(self.ctx.sco_iri, item.id), "definition": definition}
        result: dict[str, Any] = {"response": item.response}
        if item.success is not None:
            result["success"] = item.success
        if item.raw is not None:
            result["score"] = {"raw": json_number(item.raw)}
        if item.latency is not None:
            result["duration"] = item.latency
        other = [
            _activity(objective_iri(self.ctx.sco_iri, oid), OBJECTIVE_TYPE, None, None)
            for oid in item.objective_ids
        ]
        key = [item.timestamp, [activity["id"] for activity in other]]
        return [
            self._make("responded", obj, item.element, key, result, True, other, item.timestamp)
        ]

    def _comments(self) -> list[dict[str, Any]]:
        # Profile §6 Comments From Learner: commented SCO, the comment as result.response, its
        # timestamp as the statement's.
        out = []
        for comment in self.snap.comments:
            key = [comment.location, comment.timestamp, comment.language]
            result = {"response": comment.text}
            out.append(
                self._make(
                    "commented",
                    self.sco,
                    comment.element,
                    key,
                    result,
                    timestamp=comment.timestamp,
                    language=comment.language,
                )
            )
        return out

    def _make(
        self,
        verb_name: str,
        obj: dict[str, Any],
        element: str,
        value: list[Any],
        result: dict[str, Any] | None = None,
        parent: bool = False,
        other: list[dict[str, Any]] | None = None,
        timestamp: str | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        natural_key = ["statement", *self.key, verb_name, obj["id"], element, value, result]
        statement: dict[str, Any] = {
            "id": str(uuid.uuid5(SCORM_NAMESPACE, canonical_json(natural_key))),
            "actor": copy.deepcopy(dict(self.ctx.learner)),
            "verb": verb(verb_name),
            "object": copy.deepcopy(obj),
        }
        if result is not None:
            statement["result"] = result
        statement["context"] = self._context(parent, other, language)
        stamp = timestamp or self.ctx.timestamp
        if stamp is not None:
            statement["timestamp"] = stamp
        return statement

    def _context(
        self, parent: bool, other: list[dict[str, Any]] | None, language: str | None
    ) -> dict[str, Any]:
        activities: dict[str, Any] = {}
        if parent:
            activities["parent"] = [copy.deepcopy(self.sco)]
        activities["grouping"] = [copy.deepcopy(self.course), copy.deepcopy(self.attempt)]
        activities["category"] = [profile_category()]
        if other:
            activities["other"] = other
        context: dict[str, Any] = {}
        if self.ctx.registration is not None:
            context["registration"] = self.ctx.registration
        context["contextActivities"] = activities
        if language is not None:
            context["language"] = language
        return context


def _activity(
    iri: str,
    activity_type: str,
    name: Mapping[str, str] | None,
    description: Mapping[str, str] | None,
) -> dict[str, Any]:
    definition: dict[str, Any] = {}
    if name:
        definition["name"] = dict(name)
    if description:
        definition["description"] = dict(description)
    definition["type"] = activity_type
    return {"id": iri, "definition": definition}


def _language_map(text: Text) -> dict[str, str]:
    return {text.language: text.text}
