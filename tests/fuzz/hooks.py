"""Schemathesis hooks for tests/fuzz/schemathesis.sh: the known false positives, each dropped
for exactly one check, on exactly the operations it concerns, and only for the requests that
show it. Everything else (every other check, and these checks on every other request) stays on.

Each rule below is a case the OpenAPI documents cannot express, or a request schemathesis
builds that the document does not describe, and says why. ST202 is `positive_data_acceptance`:
"a request the document calls valid was refused". OpenAPI 3.0 describes each parameter on its
own; it has no way to say "this parameter excludes that one", "this header's meaning depends on
the stored document" or "this token must carry our signature".

Loaded by the script through SCHEMATHESIS_HOOKS (a file path); schemathesis is not a
dependency of the project, so this file is never imported by the tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import schemathesis

DOCUMENTS = ("/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile")
PROFILES = ("/xapi/activities/profile", "/xapi/agents/profile")
DOCUMENT_IDS = {
    "/xapi/activities/state": "stateId",
    "/xapi/activities/profile": "profileId",
    "/xapi/agents/profile": "profileId",
}
# xAPI 1.0.3 Part 3 §2.1.3: statementId / voidedStatementId take only these besides
STATEMENT_ID_COMPANIONS = {"format", "attachments"}


class Sent(NamedTuple):
    """What was sent and answered, read from the wire (not from schemathesis' case)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    answer: Any

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    @property
    def media_type(self) -> str:
        return self.header("Content-Type").split(";")[0].strip().lower()


def _sent(response: Any) -> Sent:
    url = urlsplit(response.request.url)
    try:
        answer = response.json()
    except Exception:
        answer = None
    return Sent(
        method=response.request.method.upper(),
        path=url.path,
        query=parse_qs(url.query, keep_blank_values=True),
        headers=dict(response.request.headers),
        status=response.status_code,
        answer=answer,
    )


def _error_code(sent: Sent) -> str:
    """The error code of an xAPI/LTI answer ({"error": "..."}) or a marketplace envelope."""
    error = sent.answer.get("error") if isinstance(sent.answer, dict) else None
    return str(error.get("code") if isinstance(error, dict) else error)


def _agent_sent_as_json_string(sent: Sent) -> bool:
    # The coverage phase serialises the example of a `content: application/json` parameter
    # twice for the account branch of the Agent schema: the server receives a JSON *string*
    # holding the Agent's JSON, which is not an Agent (400 is right).
    for raw in sent.query.get("agent", []):
        try:
            if isinstance(json.loads(raw), str):
                return True
        except ValueError:
            continue
    return False


def _precondition_failed(sent: Sent) -> bool:
    # If-Match / If-None-Match are decided against the stored document (RFC 9110 §13.1):
    # `If-Match: *` on an absent document or `If-None-Match: *` on an existing one is a 412,
    # whatever the values' syntax. The document lists 412; it cannot say when it happens.
    has_condition = sent.header("If-Match") or sent.header("If-None-Match")
    return sent.status == 412 and bool(has_condition) and sent.path in DOCUMENTS


def _condition_without_a_document_id(sent: Sent) -> bool:
    # A DELETE of every State document in scope (no stateId) cannot carry If-Match or
    # If-None-Match: they name one document's ETag (400). A header allowed only with a query
    # parameter is not expressible.
    has_condition = sent.header("If-Match") or sent.header("If-None-Match")
    no_id = DOCUMENT_IDS.get(sent.path) not in sent.query
    return sent.status == 400 and bool(has_condition) and no_id


def _merge_onto_a_stored_document(sent: Sent) -> bool:
    # 1.0.3 Part 3 §2.2: a POST onto a stored document merges JSON objects only; when either is
    # not one it is a 400. With no stored document the body is stored as sent, so the document
    # lists any body: what is refused depends on what was stored before.
    message = sent.answer.get("message") if isinstance(sent.answer, dict) else ""
    return sent.status == 400 and str(message).startswith("POST merges JSON")


def _profile_put_without_condition(sent: Sent) -> bool:
    # xAPI 1.0.3 Part 3 §2.2 (and 2.0.0 §3.3): a PUT to a profile document needs If-Match or
    # If-None-Match: without either, 1.0.3 answers 400 for a new document and 409 for an existing
    # one; 2.0 creates a new one. Required-ness that depends on the version header and on the
    # stored document cannot be written in OpenAPI.
    no_condition = not sent.header("If-Match") and not sent.header("If-None-Match")
    return (
        sent.method == "PUT"
        and sent.path in PROFILES
        and no_condition
        and sent.status
        in (
            400,
            409,
        )
    )


def _since_with_a_document_id(sent: Sent) -> bool:
    # 1.0.3 Part 3 §2.3/2.7/2.6: `since` belongs to the GET of the ids of all documents; with a
    # stateId / profileId it is an unknown parameter (400). OpenAPI has no mutual exclusion.
    document_id = DOCUMENT_IDS.get(sent.path)
    return sent.status == 400 and "since" in sent.query and document_id in sent.query


def _statement_query_combination(sent: Sent) -> bool:
    # 1.0.3 Part 3 §2.1.3: `more` is the opaque, signed token of a more link, used alone (a
    # forged or garbled token is a 400); statementId / voidedStatementId exclude each other and
    # every parameter but format and attachments. OpenAPI describes none of this.
    if sent.status != 400 or sent.path != "/xapi/statements":
        return False
    names = set(sent.query)
    ids = names & {"statementId", "voidedStatementId"}
    with_id = bool(ids) and (len(ids) > 1 or bool(names - ids - STATEMENT_ID_COMPANIONS))
    return "more" in names or with_id


def _alternate_syntax_mismatch(sent: Sent) -> bool:
    # 1.0.3 Part 3 §1.3: the alternate syntax (`?method=`) is a form body, and xAPI 2.0 removed
    # it; without `method` the body is JSON or multipart/mixed. The body's type depends on a query
    # parameter, and the parameter's existence on the version header: not expressible.
    if sent.status != 400 or sent.path != "/xapi/statements" or sent.method != "POST":
        return False
    alternate = "method" in sent.query
    form = sent.media_type == "application/x-www-form-urlencoded"
    # the form lists every field some method takes; which ones the named method takes is checked
    # as for that method (an "unknown parameter" 400)
    message = sent.answer.get("message") if isinstance(sent.answer, dict) else ""
    unknown = alternate and str(message).startswith("unknown parameter")
    return alternate != form or unknown or (alternate and sent.header(VERSION).startswith("2."))


def _multipart_the_fuzzer_cannot_build(sent: Sent) -> bool:
    # The documents list multipart/mixed (statements with attachments, 1.0.3 Part 3 §1.5.2):
    # the first part the application/json statements, each further part an attachment whose
    # X-Experience-API-Hash a statement names. Schemathesis builds multipart bodies as form-data
    # parts (Content-Disposition names, sometimes labelled multipart/form-data, sometimes no
    # part at all), which no schema can turn into that; the server refuses them (400).
    return sent.status == 400 and sent.media_type.startswith("multipart/")


def _signed_client_assertion(sent: Sent) -> bool:
    # LTI 1.3 / RFC 7523: client_assertion is a JWT signed with the tool's registered key; a
    # schema cannot produce a valid signature. RFC 6749 §5.2: invalid_client may be a 400 when
    # the client did not authenticate with an Authorization header.
    return sent.status in (400, 401) and _error_code(sent) in ("invalid_client", "invalid_grant")


def _opaque_cursor(sent: Sent) -> bool:
    # The aggregates cursor is opaque: a string the API issued; any other is 400 invalid_cursor.
    return sent.status == 400 and "cursor" in sent.query and _error_code(sent) == "invalid_cursor"


def _idempotency_key_reused(sent: Sent) -> bool:
    # An Idempotency-Key names one request: the same key with another body is a 422 (the
    # fuzzer draws keys such as "0" again and again). Decided by what was stored before.
    return sent.status == 422 and _error_code(sent) == "idempotency_key_reused"


def _cmi_element_name(sent: Sent) -> bool:
    # lmsData holds SCORM data model elements (cmi.core.student_id, cmi.comments_from_lms.0...),
    # nested or flattened: their names follow the data model's grammar (indexed collections),
    # which OpenAPI 3.0 cannot express (no patternProperties / propertyNames), so CMI is an open
    # object and the server names the first element no SCORM version has (400).
    message = sent.answer.get("message") if isinstance(sent.answer, dict) else ""
    return sent.status == 400 and "data model element" in str(message)


VERSION = "X-Experience-API-Version"
Rule = Callable[[Sent], bool]
# (failure code, operations "METHOD path", rule): a failure is dropped when all three match.
RULES: tuple[tuple[str, tuple[str, ...], Rule], ...] = (
    (
        "ST202",
        tuple(f"{m} {p}" for p in (*DOCUMENTS, "/xapi/agents") for m in ("GET", "HEAD"))
        + tuple(f"{m} {p}" for p in DOCUMENTS for m in ("PUT", "POST", "DELETE")),
        _agent_sent_as_json_string,
    ),
    (
        "ST202",
        tuple(f"{m} {p}" for p in DOCUMENTS for m in ("PUT", "POST", "DELETE")),
        _precondition_failed,
    ),
    ("ST202", tuple(f"PUT {p}" for p in PROFILES), _profile_put_without_condition),
    (
        "ST202",
        tuple(f"{m} {p}" for p in DOCUMENTS for m in ("GET", "HEAD")),
        _since_with_a_document_id,
    ),
    ("ST202", ("GET /xapi/statements", "HEAD /xapi/statements"), _statement_query_combination),
    ("ST202", ("POST /xapi/statements",), _alternate_syntax_mismatch),
    (
        "ST202",
        ("POST /xapi/statements", "PUT /xapi/statements"),
        _multipart_the_fuzzer_cannot_build,
    ),
    ("ST202", ("DELETE /xapi/activities/state",), _condition_without_a_document_id),
    ("ST202", tuple(f"POST {p}" for p in DOCUMENTS), _merge_onto_a_stored_document),
    ("ST202", ("POST /lti/token",), _signed_client_assertion),
    ("ST202", ("GET /marketplace/v1/aggregates",), _opaque_cursor),
    ("ST202", ("POST /marketplace/v1/members/{member_id}/badges",), _idempotency_key_reused),
    ("ST202", ("POST /scorm/v1/attempts",), _cmi_element_name),
)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but the known false positives listed in RULES."""
    label = f"{case.operation.method.upper()} {case.operation.path}"
    rules = [rule for code, labels, rule in RULES if code == failure.code and label in labels]
    if not rules or response is None:
        return True
    sent = _sent(response)
    return not any(rule(sent) for rule in rules)
