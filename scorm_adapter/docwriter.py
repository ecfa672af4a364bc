"""Writes the profile's documents for an attempt through the document service's public methods.

Which document, about what (profile Appendix, "xAPI SCORM Data Objects"; `documents.py` says
which CMI elements fill them):

| document          | kind             | activityId  | agent   | reg.   | id                     |
| ----------------- | ---------------- | ----------- | ------- | ------ | ---------------------- |
| activity state    | state            | SCO IRI     | learner | —      | `.../activity-state`   |
| attempt state     | state            | attempt IRI | learner | —      | `.../attempt-state`    |
| suspend data      | state            | attempt IRI | learner | if any | `.../adl-suspend-data` |
| ADL data store    | state            | course IRI  | learner | if any | adl.data.n.id          |
| agent profile     | agent profile    | —           | learner | —      | `.../agent-profile`    |
| activity profile  | activity profile | SCO IRI     | —       | —      | `.../activity-profile` |

JSON documents are merged (POST: their top-level properties replace or join the stored ones,
nothing else is touched); the activity state's `attempts` array gets the attempt IRI appended;
suspend data and ADL data stores are replaced (PUT with If-Match, or If-None-Match: * when
absent, retried when another writer got there first). A write that would change nothing is not
made. Deleting nothing: no document is ever deleted, no property removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from lrs.errors import NotFound, PreconditionFailed
from lrs.model.documents import ACTIVITY_PROFILE, AGENT_PROFILE, STATE, Document, DocumentKey
from lrs.services.documents import DocumentService
from lrs.xapi.agents import ifi_key
from lrs.xapi.documents import Preconditions
from scorm_adapter.attempts import AttemptState
from scorm_adapter.documents import ScormDocuments
from scorm_adapter.vocabulary import (
    ACTIVITY_PROFILE_ID,
    ACTIVITY_STATE_ID,
    AGENT_PROFILE_ID,
    ATTEMPT_STATE_ID,
    SUSPEND_DATA_STATE_ID,
)

log = logging.getLogger(__name__)

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
VERSION = "2.0.0"  # the document rules applied: every PUT carries a precondition
_ATTEMPTS = 8


class DocumentWriter:
    """The documents of one attempt, written through DocumentService (module docstring)."""

    def __init__(self, service: DocumentService) -> None:
        self._service = service

    async def write(self, state: AttemptState, docs: ScormDocuments) -> None:
        """Write every part of `docs` that is not empty, for the attempt `state` describes."""
        agent = _agent(state)
        attempt_state = dict(docs.attempt_state)
        if docs.adl_data:
            attempt_state["adl_data"] = [_adl_params(state, data_id) for data_id in docs.adl_data]
        if attempt_state:
            key = _state_key(state.attempt_iri, agent, "", ATTEMPT_STATE_ID)
            await self._merge(key, attempt_state)
        registration = state.registration or ""
        if docs.suspend_data is not None:
            key = _state_key(state.attempt_iri, agent, registration, SUSPEND_DATA_STATE_ID)
            await self._replace(key, docs.suspend_data.encode("utf-8"))
        for data_id, store in docs.adl_data.items():
            key = _state_key(state.course_iri, agent, registration, data_id)
            await self._replace(key, store.encode("utf-8"))
        if docs.agent_profile:
            key = DocumentKey(AGENT_PROFILE, "", agent, "", AGENT_PROFILE_ID)
            await self._merge(key, docs.agent_profile)
        if docs.activity_profile:
            key = DocumentKey(ACTIVITY_PROFILE, state.sco_iri, "", "", ACTIVITY_PROFILE_ID)
            await self._merge(key, docs.activity_profile)

    async def add_attempt(self, state: AttemptState) -> None:
        """Append the attempt IRI to the SCO's activity state `attempts` (if not there yet)."""
        key = _state_key(state.sco_iri, _agent(state), "", ACTIVITY_STATE_ID)

        def build(current: Any) -> Any:
            if current is None:
                return {"attempts": [state.attempt_iri]}
            attempts = current.get("attempts") if isinstance(current, dict) else None
            if not isinstance(attempts, list):
                log.warning("activity state of %s is not a SCORM activity state; left as is", key)
                return None
            if state.attempt_iri in attempts:
                return None
            return {**current, "attempts": [*attempts, state.attempt_iri]}

        await self._update_json(key, build)

    async def _merge(self, key: DocumentKey, properties: dict[str, Any]) -> None:
        """POST-merge top-level properties into a JSON document, unless it holds them already."""
        current = await self._current(key)
        stored = None if current is None else _json_object(current)
        if current is not None and stored is None:
            log.warning("%s is not a JSON object; left as is", key)
            return
        if stored is not None and all(stored.get(k) == v for k, v in properties.items()):
            return
        await self._service.post_document(
            key, orjson.dumps(properties), JSON, pre=Preconditions(), version=VERSION
        )

    async def _replace(self, key: DocumentKey, content: bytes) -> None:
        """PUT `content` (text) unless the document holds it already."""
        await self._conditional(key, lambda current: None if current == content else content, TEXT)

    async def _update_json(self, key: DocumentKey, build: Callable[[Any], Any]) -> None:
        def content(current: bytes | None) -> bytes | None:
            value = None if current is None else _loads(current)
            if current is not None and value is None:
                log.warning("%s does not hold JSON; left as is", key)
                return None
            new = build(value)
            return None if new is None else orjson.dumps(new)

        await self._conditional(key, content, JSON)

    async def _conditional(
        self, key: DocumentKey, content: Callable[[bytes | None], bytes | None], ctype: str
    ) -> None:
        for _attempt in range(_ATTEMPTS):
            current = await self._current(key)
            new = content(None if current is None else current.content)
            if new is None:
                return
            pre = (
                Preconditions(if_none_match=("*",))
                if current is None
                else Preconditions(if_match=(current.etag,))
            )
            try:
                await self._service.put_document(key, new, ctype, pre=pre, version=VERSION)
                return
            except PreconditionFailed:
                continue  # another writer changed it between our read and our write
        log.warning("gave up writing %s: it kept changing", key)

    async def _current(self, key: DocumentKey) -> Document | None:
        try:
            return await self._service.get_document(key)
        except NotFound:
            return None


def _agent(state: AttemptState) -> str:
    key = ifi_key(state.learner)
    assert key is not None  # AttemptContext checked the learner's IFI
    return key


def _state_key(activity_id: str, agent: str, registration: str, doc_id: str) -> DocumentKey:
    return DocumentKey(STATE, activity_id, agent, registration, doc_id)


def _adl_params(state: AttemptState, data_id: str) -> dict[str, Any]:
    """An ADL Data State Parameters Object (profile Appendix): where one data store lives."""
    params: dict[str, Any] = {
        "activityId": state.course_iri,
        "agent": state.learner,
        "stateId": data_id,
    }
    if state.registration is not None:
        params["registration"] = state.registration
    return params


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _json_object(document: Document) -> dict[str, Any] | None:
    value = _loads(document.content) if "json" in document.content_type else None
    return value if isinstance(value, dict) else None
