"""The runtime endpoint's request bodies → values: opening an attempt, and a commit.

Pure parsing, no I/O; every problem is a ScormDataError naming the field or CMI element (the
HTTP layer answers it with a 400), or an UnsupportedMediaType.

Commit bodies come in the shapes runtimes send:

- `application/json` (or `+json`): nested CMI JSON `{"cmi": {"core": {...}}}`, flattened
  `{"cmi.core.lesson_status": "passed"}`, or a mix of both;
- `application/x-www-form-urlencoded`: `cmi.core.lesson_status=passed&...` (or `cmi[core][..]`);
- `multipart/form-data`: the same fields (`navigator.sendBeacon(url, formData)`);
- `text/plain`, or none: a beacon; JSON when it starts with `{`, else form fields.

Two fields that are not CMI ride along, as query parameters of the commit URL or as
top-level body fields: `seq` (the runtime's commit counter, an integer ≥ 0) and `finish`
(`true` on the LMSFinish/Terminate commit). See `scorm_adapter.attempts` for what they do.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lrs.errors import UnsupportedMediaType
from lrs.params import is_ascii_digits
from scorm_adapter.attempts import Commit
from scorm_adapter.cmi import ScormVersion, normalize_version, parse_form_commit, parse_json_commit
from scorm_adapter.errors import ScormDataError

META = ("seq", "finish")
# scorm-again's `includeCommitSequence: true` sends its commit counter as `commitSequence`.
_META_ALIASES = {"commitSequence": "seq"}
# What a URL encoder (encodeURIComponent, URLSearchParams, urlencode) leaves in a form body.
_ENCODED_CHARS = re.compile(r"^[A-Za-z0-9\-._~*'()!%+=&\[\]]*$")
_FIELD_NAME = re.compile(r"^(?:(?:cmi|adl)(?:[.\[]|%5B)|(?:seq|finish|commitSequence)$)", re.I)
_RAW_FIELD_START = re.compile(r"&(?=(?:(?:cmi|adl)[.\[][^&=]*|seq|finish|commitSequence)=)")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no", "")
_NAME_FIELDS = {
    "courseName": "course_name",
    "courseDescription": "course_description",
    "scoName": "sco_name",
    "scoDescription": "sco_description",
}
_OPEN_FIELDS = {"learner", "course", "sco", "scormVersion", "attempt", "registration", "lmsData"}


@dataclass(frozen=True)
class OpenRequest:
    """`POST /scorm/v1/attempts`: who, which course and SCO, which attempt, the LMS's data."""

    learner: dict[str, Any]
    course_iri: str
    sco_iri: str
    version: ScormVersion
    attempt: str | int | None = None
    registration: str | None = None
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    lms_data: dict[str, str] = field(default_factory=dict)


def parse_open_request(body: Any) -> OpenRequest:
    """The open request from its JSON body (see the OpenAPI document for the fields)."""
    if not isinstance(body, dict):
        raise ScormDataError("body", "must be a JSON object")
    unknown = sorted(set(body) - _OPEN_FIELDS - set(_NAME_FIELDS))
    if unknown:
        known = ", ".join(sorted(_OPEN_FIELDS | set(_NAME_FIELDS)))
        raise ScormDataError(unknown[0], f"unknown field; the fields are {known}")
    for name in ("learner", "course", "sco", "scormVersion"):
        if body.get(name) in (None, ""):
            raise ScormDataError(name, "required")
    if not isinstance(body["learner"], dict):
        raise ScormDataError("learner", "must be an xAPI Agent object")
    for name in ("course", "sco"):
        if not isinstance(body[name], str):
            raise ScormDataError(name, "must be an IRI string")
    try:
        version = normalize_version(str(body["scormVersion"]))
    except ScormDataError as exc:
        raise ScormDataError("scormVersion", exc.problem) from None
    attempt = body.get("attempt")
    if attempt is not None and (isinstance(attempt, bool) or not isinstance(attempt, int | str)):
        raise ScormDataError("attempt", "must be an attempt number or an attempt IRI")
    registration = body.get("registration")
    if registration is not None:
        registration = _uuid("registration", registration)
    names = {}
    for name, key in _NAME_FIELDS.items():
        if body.get(name) is not None:
            names[key] = _language_map(name, body[name])
    lms_data: dict[str, str] = {}
    if body.get("lmsData") is not None:
        if not isinstance(body["lmsData"], dict):
            raise ScormDataError("lmsData", "must be a CMI JSON object (nested or flattened)")
        lms_data = parse_json_commit(body["lmsData"], version).elements
    return OpenRequest(
        learner=body["learner"],
        course_iri=body["course"],
        sco_iri=body["sco"],
        version=version,
        attempt=attempt,
        registration=registration,
        names=names,
        lms_data=lms_data,
    )


@dataclass(frozen=True)
class CommitBody:
    """A commit body before its CMI is read: JSON or form fields, and the two meta fields."""

    json: dict[str, Any] | None = None
    form: tuple[tuple[str, str], ...] | None = None
    seq: int | None = None
    finish: bool = False

    def commit(self, version: ScormVersion) -> Commit:
        """The commit's CMI elements, read as SCORM `version` (every name must be in its model)."""
        if self.form is not None:
            data = parse_form_commit(_Pairs(self.form), version, lenient=True)
        else:
            data = parse_json_commit(self.json or {}, version, lenient=True)
        return Commit(data.elements, self.seq, self.finish, data.left_out)


def read_commit_body(body: bytes, content_type: str, query: Mapping[str, str]) -> CommitBody:
    """A commit from its raw body, by Content-Type (text/plain is sniffed, see above)."""
    media = content_type.split(";")[0].strip().lower()
    text = _text(body)
    if media in ("application/json", "text/json") or media.endswith("+json"):
        return _with_meta(_json_object(text), None, query)
    if media == "application/x-www-form-urlencoded":
        return _with_meta(None, _form_pairs(text), query)
    if media in ("text/plain", ""):
        if text.lstrip().startswith("{"):
            return _with_meta(_json_object(text), None, query)
        return _with_meta(None, _form_pairs(text), query)
    raise UnsupportedMediaType(
        f"a commit is JSON, form fields or text/plain, not {media}",
        element="Content-Type",
    )


def read_commit_fields(fields: Iterable[tuple[str, str]], query: Mapping[str, str]) -> CommitBody:
    """A commit from already-decoded form fields (a multipart/form-data beacon)."""
    return _with_meta(None, tuple(fields), query)


class _Pairs(Mapping[str, str]):
    """Form pairs as the multidict-like mapping `parse_form_commit` reads (repeats kept)."""

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: str) -> str:
        for name, value in self._pairs:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Any:
        return (name for name, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> Any:
        """Every pair, repeated names included."""
        return iter(self._pairs)


def _with_meta(
    payload: dict[str, Any] | None,
    pairs: tuple[tuple[str, str], ...] | None,
    query: Mapping[str, str],
) -> CommitBody:
    found: dict[str, Any] = {}
    for name, value in query.items():
        if _meta_name(name):
            _merge_meta(found, _meta_name(name), value)
    if payload is not None:
        for name in [name for name in payload if _meta_name(name)]:
            _merge_meta(found, _meta_name(name), payload.pop(name))
    if pairs is not None:
        for name, value in pairs:
            if _meta_name(name):
                _merge_meta(found, _meta_name(name), value)
        pairs = tuple((name, value) for name, value in pairs if not _meta_name(name))
    seq = _seq(found["seq"]) if "seq" in found else None
    finish = _flag(found["finish"]) if "finish" in found else False
    return CommitBody(json=payload, form=pairs, seq=seq, finish=finish)


def _meta_name(name: str) -> str:
    """`seq` or `finish` for a meta field (or its alias), else the empty string."""
    return name if name in META else _META_ALIASES.get(name, "")


def _merge_meta(found: dict[str, Any], name: str, value: Any) -> None:
    if name in found and str(found[name]).lower() != str(value).lower():
        raise ScormDataError(name, "given twice with different values")
    found[name] = value


def _seq(value: Any) -> int:
    if isinstance(value, bool):
        raise ScormDataError("seq", "must be a whole number, 0 or more")
    if isinstance(value, str) and is_ascii_digits(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise ScormDataError("seq", f"must be a whole number, 0 or more, not {value!r}")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ScormDataError("finish", f"must be true or false, not {value!r}")


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScormDataError("body", "not UTF-8 text") from None


def _json_object(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise ScormDataError("body", "not valid JSON") from None
    if not isinstance(payload, dict):
        raise ScormDataError("body", "a JSON commit must be an object")
    return payload


def _form_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Form fields, URL-encoded or (scorm-again's `params` format) not encoded at all."""
    text = text.strip()
    if not _url_encoded(text):
        return _raw_pairs(text)
    try:
        return tuple(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    except ValueError:
        raise ScormDataError("body", "not form fields") from None


def _url_encoded(text: str) -> bool:
    """Whether the body reads as URL-encoded: only what an encoder emits, one `=` per field."""
    if not _ENCODED_CHARS.match(text):
        return False
    for piece in text.split("&"):
        name, equals, value = piece.partition("=")
        if piece and (not equals or "=" in value or not _FIELD_NAME.match(name)):
            return False
    return True


def _raw_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """`name=value&...` with values as sent: split only before a CMI name (or meta field)."""
    pairs = []
    for piece in _RAW_FIELD_START.split(text):
        name, _equals, value = piece.partition("=")
        if piece:
            pairs.append((name, value))
    return tuple(pairs)


def _uuid(name: str, value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ScormDataError(name, f"not a UUID: {value!r}") from None


def _language_map(name: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        raise ScormDataError(name, 'must be a language map such as {"en-US": "..."}')
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ScormDataError(name, "must be a language map of strings")
    return dict(value)
