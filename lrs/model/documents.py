"""The values of the xAPI document resources (1.0.3 Part 3 §2.2, §2.3, §2.6, §2.7).

State, Activity Profile and Agent Profile documents are named by a `DocumentKey` (its kind, the
activity and/or agent it is about, the state's registration, and its id); the xAPI rules build
keys and scopes from requests, the document service and the stores pass `Document`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Document kinds, one per resource.
STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"
KINDS = (STATE, ACTIVITY_PROFILE, AGENT_PROFILE)


@dataclass(frozen=True)
class DocumentKey:
    """The name of one document.

    `agent` is an IFI key (`lrs.xapi.agents.ifi_key`); fields a kind does not use are "" (an
    Activity Profile has no agent, an Agent Profile no activity, a profile no registration, and
    a state stored without a registration has registration "").
    """

    kind: str
    activity_id: str
    agent: str
    registration: str
    doc_id: str


@dataclass(frozen=True)
class DocumentScope:
    """The documents of one kind about one activity and/or agent, for listing and deleting.

    `registration` None means every registration, as the State resource's multiple-document
    GET and DELETE do when the request names none (1.0.3 Part 3 §2.3).
    """

    kind: str
    activity_id: str = ""
    agent: str = ""
    registration: str | None = None


@dataclass(frozen=True)
class Document:
    """A stored document: its bytes exactly as received, and what the LRS says about them.

    `etag` is the unquoted tag (SHA-1 hex of `content`); `updated_us` is the last change, in
    microseconds since the epoch, strictly increasing across changes of one document.
    """

    key: DocumentKey
    content: bytes
    content_type: str
    etag: str
    updated_us: int


@dataclass(frozen=True)
class DocumentIds:
    """The answer to a multiple-document GET: ids (sorted) and the newest change among them."""

    ids: Sequence[str]
    last_updated_us: int | None
