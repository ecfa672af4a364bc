"""The document resources' rules as pure functions (1.0.3 Part 3 §2.2, §2.3, §2.6, §2.7, §3.1).

- `parse_document_params`: query parameters → which documents a request is about, or a 400
  naming the parameter at fault;
- `merge_documents`: the JSON merge of POST (top-level properties only);
- `content_etag`, `parse_preconditions`, `check_preconditions`: ETags and the concurrency
  decision, as a function of the xAPI version, the request's headers and the current ETag.

Version differences (xAPI 2.0 vs 1.0.3, see `shared/reference/xapi-2.0-differences.md` §2.4):
a PUT with neither If-Match nor If-None-Match on an existing document is a 409 for every
document resource in 2.0, for the profile resources only in 1.0.3 (the State resource allows
it there); such a PUT on an absent profile document is a 400 in 1.0.3 and allowed in 2.0.
If-Match and If-None-Match are honoured on PUT, POST and DELETE in both versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lrs.errors import BadRequest, Conflict, PreconditionFailed, ValidationError
from lrs.model.documents import ACTIVITY_PROFILE, AGENT_PROFILE, STATE, DocumentKey, DocumentScope
from lrs.xapi.agents import ifi_key
from lrs.xapi.depth import check_depth
from lrs.xapi.timestamps import timestamp_us
from lrs.xapi.validation import IRI_RE, MAILTO_RE, SHA1_RE, UUID_RE
from lrs.xapi.versions import is_v2

JSON_TYPE = "application/json"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
WRITE_METHODS = ("PUT", "POST", "DELETE")


@dataclass(frozen=True)
class _Params:
    """The query parameters one resource takes."""

    scope: tuple[str, ...]  # required on every request
    optional: tuple[str, ...]  # allowed on every request
    id_name: str  # the document id
    multi_delete: bool  # DELETE without the id deletes every document in scope


_RESOURCES = {
    STATE: _Params(("activityId", "agent"), ("registration",), "stateId", multi_delete=True),
    ACTIVITY_PROFILE: _Params(("activityId",), (), "profileId", multi_delete=False),
    AGENT_PROFILE: _Params(("agent",), (), "profileId", multi_delete=False),
}


def id_parameter(kind: str) -> str:
    """The name of the document id parameter of a resource (stateId or profileId)."""
    return _RESOURCES[kind].id_name


@dataclass(frozen=True)
class DocumentRequest:
    """What a document request is about: one document (`doc_id` set) or a scope of them."""

    scope: DocumentScope
    doc_id: str | None = None
    since_us: int | None = None

    @property
    def key(self) -> DocumentKey:
        """The single document named (only when `doc_id` is set)."""
        assert self.doc_id is not None
        return DocumentKey(
            kind=self.scope.kind,
            activity_id=self.scope.activity_id,
            agent=self.scope.agent,
            registration=self.scope.registration or "",
            doc_id=self.doc_id,
        )


def _bad(name: str, message: str) -> BadRequest:
    return BadRequest(message, parameter=name)


def _single_values(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in items:
        if name in values:
            raise _bad(name, f"the {name} parameter is given more than once")
        values[name] = value
    return values


def parse_document_params(
    kind: str, method: str, items: Iterable[tuple[str, str]]
) -> DocumentRequest:
    """The documents a request to resource `kind` is about, or a 400 naming the parameter."""
    spec = _RESOURCES[kind]
    params = _single_values(items)
    doc_id = params.get(spec.id_name)
    multi_get = method in ("GET", "HEAD") and doc_id is None
    allowed = {*spec.scope, *spec.optional, spec.id_name} | ({"since"} if multi_get else set())
    unknown = sorted(set(params) - allowed)
    if unknown:
        # 1.0.3 Part 3 §3.2: reject parameters not recognised in this context (case included).
        where = "here" if "since" not in unknown else "here (since needs a GET without an id)"
        raise _bad(
            unknown[0],
            f"unknown parameter(s) {', '.join(unknown)} {where}; "
            f"this resource takes {', '.join(sorted(allowed | {'since'}))} (case-sensitive)",
        )
    for name in spec.scope:
        if not params.get(name):
            raise _bad(name, f"the {name} parameter is required")
    if doc_id is None and not (multi_get or (method == "DELETE" and spec.multi_delete)):
        raise _bad(spec.id_name, f"the {spec.id_name} parameter is required for {method}")
    if doc_id == "":
        raise _bad(spec.id_name, f"the {spec.id_name} parameter must not be empty")
    scope = DocumentScope(
        kind=kind,
        activity_id=parse_activity_id(params["activityId"]) if "activityId" in spec.scope else "",
        agent=parse_agent(params["agent"]) if "agent" in spec.scope else "",
        registration=_registration(params["registration"]) if "registration" in params else None,
    )
    since = _since(params["since"]) if "since" in params else None
    return DocumentRequest(scope=scope, doc_id=doc_id, since_us=since)


def parse_activity_id(value: str) -> str:
    """The `activityId` parameter, which must be an IRI (1.0.3 Part 3 §2.3, §2.5, §2.7)."""
    if not IRI_RE.fullmatch(value):
        raise _bad("activityId", f"activityId must be an IRI, got {value!r}")
    return value


def _registration(value: str) -> str:
    if not UUID_RE.fullmatch(value):
        raise _bad("registration", f"registration must be a UUID, got {value!r}")
    return value.lower()


def _since(value: str) -> int:
    try:
        return timestamp_us(value, path="since")
    except ValidationError as exc:
        raise _bad("since", f"since must be an ISO 8601 timestamp, got {value!r}") from exc


def parse_agent(raw: str) -> str:
    """The IFI key of the `agent` parameter: a JSON Agent with exactly one valid IFI."""
    try:
        agent = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _bad("agent", "agent must be a JSON Agent object; it is not JSON") from exc
    if not isinstance(agent, dict):
        raise _bad("agent", "agent must be a JSON Agent object")
    # Part 3 §2.6: the agent parameter is an Agent, not a Group.
    if agent.get("objectType", "Agent") != "Agent":
        raise _bad("agent", "agent must be an Agent (objectType Agent), not a Group")
    ifis = [name for name in ("mbox", "mbox_sha1sum", "openid", "account") if name in agent]
    if len(ifis) != 1:
        raise _bad("agent", "agent must have exactly one of mbox, mbox_sha1sum, openid, account")
    _check_ifi(ifis[0], agent[ifis[0]])
    return _ifi_key(ifis[0], agent[ifis[0]])


def _check_ifi(name: str, value: Any) -> None:
    ok = {
        "mbox": lambda v: isinstance(v, str) and MAILTO_RE.fullmatch(v) is not None,
        "mbox_sha1sum": lambda v: isinstance(v, str) and SHA1_RE.fullmatch(v) is not None,
        "openid": lambda v: isinstance(v, str) and IRI_RE.fullmatch(v) is not None,
        "account": lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("homePage"), str)
            and IRI_RE.fullmatch(v["homePage"]) is not None
            and isinstance(v.get("name"), str)
        ),
    }[name](value)
    if not ok:
        raise _bad("agent", f"agent.{name} is not a valid {name}")


def _ifi_key(name: str, value: Any) -> str:
    key = ifi_key({name: value})
    assert key is not None
    return key


# --------------------------------------------------------------------------------------------
# Content: JSON checks, the POST merge, ETags
# --------------------------------------------------------------------------------------------


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, without parameters, lower-cased."""
    return content_type.split(";")[0].strip().lower()


def is_json(content_type: str) -> bool:
    """True for application/json (parameters such as charset allowed)."""
    return media_type(content_type) == JSON_TYPE


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(content: bytes, what: str) -> Any:
    try:
        loaded = json.loads(content, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadRequest(f"{what} is sent as application/json but is not valid JSON") from exc
    check_depth(loaded, what)
    return loaded


def check_json_content(content: bytes) -> None:
    """A 400 unless `content` parses as JSON (1.0.3 Part 3 §3.2: content matches its type)."""
    _load(content, "the document")


def merge_documents(existing: bytes, existing_type: str, posted: bytes, posted_type: str) -> bytes:
    """The stored document after a POST onto an existing one (1.0.3 Part 3 §2.2).

    Both must be application/json and JSON objects, else 400; the posted object's top-level
    properties replace or join the existing ones (only the top level is merged).
    """
    if not (is_json(existing_type) and is_json(posted_type)):
        raise BadRequest(
            "POST merges JSON documents only: the stored and the posted document must both be "
            f"application/json (stored: {media_type(existing_type) or 'none'}, "
            f"posted: {media_type(posted_type) or 'none'}); use PUT to replace the document"
        )
    old = _load(existing, "the stored document")
    new = _load(posted, "the posted document")
    if not (isinstance(old, dict) and isinstance(new, dict)):
        raise BadRequest("POST merges JSON objects only: both documents must be JSON objects")
    merged = {**old, **new}
    try:
        return json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \u escapes: keep them escaped
        return json.dumps(merged, separators=(",", ":")).encode("ascii")


def content_etag(content: bytes) -> str:
    """The ETag of a document, unquoted: SHA-1 hex of its content (1.0.3 Part 3 §3.1)."""
    return hashlib.sha1(content).hexdigest()  # the spec's choice, not for security


def quote_etag(etag: str) -> str:
    """The ETag header value: the tag in double quotes (1.0.3 Part 3 §3.1, RFC 2616 §14.19)."""
    return f'"{etag}"'


# --------------------------------------------------------------------------------------------
# Concurrency (1.0.3 Part 3 §3.1; 2.0 differences §2.4)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preconditions:
    """The If-Match / If-None-Match of a request: unquoted tags or "*", None when absent."""

    if_match: tuple[str, ...] | None = None
    if_none_match: tuple[str, ...] | None = None

    @property
    def any(self) -> bool:
        """True when the request carries either header."""
        return self.if_match is not None or self.if_none_match is not None


def _tags(header: str | None) -> tuple[str, ...] | None:
    if header is None or not header.strip():
        return None
    tags = []
    for item in header.split(","):
        tag = item.strip()
        if tag.startswith("W/"):  # a weakened tag still names the same content
            tag = tag[2:]
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tag = tag[1:-1]
        if tag:
            tags.append(tag)
    return tuple(tags)


def parse_preconditions(if_match: str | None, if_none_match: str | None) -> Preconditions:
    """Preconditions from the two header values (None when a header is absent)."""
    return Preconditions(if_match=_tags(if_match), if_none_match=_tags(if_none_match))


def check_preconditions(
    *, version: str, kind: str, method: str, pre: Preconditions, current_etag: str | None
) -> None:
    """Raise the error a write must get, given the document's current etag (None: absent).

    412 when If-Match names no current tag, or If-None-Match names the current one ("*": any);
    409 for a PUT with neither header on an existing document (profiles, and State in 2.0);
    400 for a 1.0.3 profile PUT with neither header on an absent document.
    """
    exists = current_etag is not None
    if pre.if_match is not None and not (
        exists and ("*" in pre.if_match or current_etag in pre.if_match)
    ):
        # 1.0.3 Part 3 §3.1: MUST return 412 and MUST NOT modify the resource.
        raise PreconditionFailed(
            "If-Match does not match the document's current ETag"
            + ("" if exists else " (there is no such document)"),
            etag=current_etag,
        )
    if (
        pre.if_none_match is not None
        and exists
        and ("*" in pre.if_none_match or current_etag in pre.if_none_match)
    ):
        raise PreconditionFailed("If-None-Match: the document already exists", etag=current_etag)
    if method != "PUT" or pre.any:
        return
    profile = kind != STATE
    if exists and (profile or is_v2(version)):
        # 1.0.3 Part 3 §3.1: MUST return 409 and explain; 2.0 extends this to State.
        raise Conflict(
            "the document already exists and the PUT has neither If-Match nor If-None-Match: "
            "check the document's current state (GET it), then send If-Match with its ETag",
            etag=current_etag,
        )
    if not exists and profile and not is_v2(version):
        # 1.0.3 Part 3 §3.1: a PUT to a profile resource MUST include one of the headers.
        raise BadRequest(
            "a PUT to a profile resource must carry If-Match (with the ETag of the document it "
            'replaces) or If-None-Match: "*" (to create it)'
        )
