"""The attempt a SCORM snapshot belongs to: who, which course and SCO, which attempt."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scorm_adapter.cmi import ScormVersion, normalize_version
from scorm_adapter.errors import ScormDataError
from scorm_adapter.values import check_timestamp

# Fixed namespace of every UUIDv5 this adapter mints (statement ids, derived attempt ids).
# Never change it: re-imports would stop producing the same statement ids.
SCORM_NAMESPACE = uuid.UUID("6ef3dd03-80a7-4ffd-ab21-88ec3e150f3f")

# An absolute IRI: a scheme, then no whitespace, controls or characters RFC 3987 excludes.
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]+$")
_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


@dataclass(frozen=True)
class AttemptContext:
    """Everything about a SCO attempt that the CMI data itself does not say.

    - `learner`: the xAPI Agent (exactly one IFI; the profile recommends an `account`).
    - `course_iri`, `sco_iri`: activity IRIs (profile §3.2 recommends `<courseIRI>/<sco path>`).
    - `attempt`: the attempt IRI, or the attempt number; a number becomes the IRI
      `<sco_iri>?attemptId=<uuid5(learner, course, SCO, registration, number)>`, unique per
      learner as profile §5 requires and stable across conversions.
    - `version`: "1.2" or "2004".
    - `registration`: the xAPI context registration (a UUID), if the LMS has one.
    - `timestamp`: when this data was reported (ISO 8601). Profile §3.2 wants every statement
      to carry one; without it the LRS stamps the statement with `stored`.
    - `session`: identifies one SCO session (launch to LMSFinish/Terminate). `resumed` and
      `suspended` happen once per session, so their ids include it; without it, every session
      of an attempt maps to the same resumed/suspended id.
    - `session_ended`: True when this snapshot was sent by LMSFinish()/Terminate(): the session
      then ends with `suspended` (cmi.exit = suspend) or `terminated` (any other exit value,
      including SCORM 1.2's "" per profile §6 Exit). False for a mid-session commit: no
      suspended/terminated. None (unknown): only an explicit exit value ends the session
      (suspend → suspended; normal, logout, time-out → terminated; "" → nothing).
    - `course_name`, `course_description`, `sco_name`, `sco_description`: language maps for the
      activity definitions (profile §3.2 asks for a name and description); left out when None.
    """

    learner: Mapping[str, Any]
    course_iri: str
    sco_iri: str
    attempt: str | int
    version: ScormVersion
    registration: str | None = None
    timestamp: str | None = None
    session: str | None = None
    session_ended: bool | None = None
    course_name: Mapping[str, str] | None = None
    course_description: Mapping[str, str] | None = None
    sco_name: Mapping[str, str] | None = None
    sco_description: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        learner_key(self.learner)
        _check_iri("course_iri", self.course_iri)
        _check_iri("sco_iri", self.sco_iri)
        object.__setattr__(self, "version", normalize_version(self.version))
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int | str):
            raise ScormDataError("attempt", "must be an attempt IRI or an attempt number")
        if isinstance(self.attempt, int) and self.attempt < 0:
            raise ScormDataError("attempt", f"attempt number {self.attempt} is negative")
        if isinstance(self.attempt, str):
            _check_iri("attempt", self.attempt)
        if self.registration is not None:
            object.__setattr__(self, "registration", _uuid("registration", self.registration))
        if self.timestamp is not None:
            check_timestamp("timestamp", self.timestamp)

    @property
    def attempt_iri(self) -> str:
        """The attempt activity's IRI (profile §5, Initializing an attempt)."""
        if isinstance(self.attempt, str):
            return self.attempt
        key = [learner_key(self.learner), self.course_iri, self.sco_iri, self.registration]
        attempt_id = uuid.uuid5(SCORM_NAMESPACE, canonical_json(["attempt", *key, self.attempt]))
        separator = "&" if "?" in self.sco_iri else "?"
        return f"{self.sco_iri}{separator}attemptId={attempt_id}"


def learner_key(agent: Mapping[str, Any]) -> list[str]:
    """The learner's Inverse Functional Identifier as a stable key: ["mbox", "mailto:..."].

    The format is frozen here (not borrowed from the LRS) because statement ids are built from
    it; the email domain is lower-cased, as xAPI treats it case-insensitively.
    """
    if not isinstance(agent, Mapping):
        raise ScormDataError("learner", "must be an xAPI Agent object")
    present = [name for name in _IFIS if agent.get(name) is not None]
    if len(present) != 1:
        raise ScormDataError(
            "learner", "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account"
        )
    name = present[0]
    value = agent[name]
    if name == "account":
        if not isinstance(value, Mapping) or not value.get("homePage") or not value.get("name"):
            raise ScormDataError("learner.account", "needs homePage and name")
        return ["account", str(value["homePage"]), str(value["name"])]
    if not isinstance(value, str) or not value:
        raise ScormDataError(f"learner.{name}", "must be a non-empty string")
    if name == "mbox":
        local, at, domain = value.partition("@")
        if not value.startswith("mailto:") or not at:
            raise ScormDataError("learner.mbox", f"not a mailto: IRI: {value!r}")
        return ["mbox", f"{local}@{domain.lower()}"]
    return [name, value.lower() if name == "mbox_sha1sum" else value]


def canonical_json(value: Any) -> str:
    """The one serialization natural keys are hashed in (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_iri(field: str, value: Any) -> None:
    if not isinstance(value, str) or _IRI.match(value) is None:
        raise ScormDataError(field, f"not an absolute IRI: {value!r}")


def _uuid(field: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ScormDataError(field, f"not a UUID: {value!r}") from None
