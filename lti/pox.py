"""LTI 1.1 Basic Outcomes messages: the imsx POX envelopes (LTI 1.1 Implementation Guide §6,
"LTI Basic Outcomes Service"), parsed safely and answered.

Requests are parsed with defusedxml with DTDs, entity declarations and external references all
forbidden (no XXE, no entity expansion). Elements are matched by local name within the imsx
namespace's structure: imsx_POXEnvelopeRequest / imsx_POXHeader / imsx_POXRequestHeaderInfo /
imsx_messageIdentifier, and imsx_POXBody / <operation>Request / resultRecord / sourcedGUID /
sourcedId, with result / resultScore / textString for replaceResult.

Responses echo the request's message identifier as imsx_messageRefIdentifier and the operation as
imsx_operationRefIdentifier, with imsx_codeMajor success, failure or unsupported.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

NS = "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"
OPERATIONS = ("replaceResult", "readResult", "deleteResult")
MAX_POX_BYTES = 64 * 1024
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class PoxError(Exception):
    """A request that cannot be answered as asked: `message` goes into imsx_description."""

    def __init__(self, message: str, *, message_id: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.message_id = message_id
        self.operation = operation


@dataclass(frozen=True)
class PoxRequest:
    """An outcome request: its message id, operation, sourcedId and, for replace, the score."""

    message_id: str
    operation: str  # the element name less "Request", e.g. replaceResult
    sourced_id: str | None
    score_text: str | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element | None, name: str) -> Element | None:
    if parent is None:
        return None
    return next((c for c in parent if _local(c.tag) == name), None)


def _path(parent: Element | None, *names: str) -> Element | None:
    for name in names:
        parent = _child(parent, name)
    return parent


def _text(element: Element | None) -> str | None:
    return None if element is None else (element.text or "").strip()


def parse_request(body: bytes) -> PoxRequest:
    """The request in a POX body; PoxError when it is not a well-formed outcome request."""
    if len(body) > MAX_POX_BYTES:
        raise PoxError(f"the request is larger than {MAX_POX_BYTES} bytes")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise PoxError(f"the body is not acceptable XML: {type(exc).__name__}") from exc
    if _local(root.tag) != "imsx_POXEnvelopeRequest":
        raise PoxError("the root element must be imsx_POXEnvelopeRequest")
    message_id = _text(
        _path(root, "imsx_POXHeader", "imsx_POXRequestHeaderInfo", "imsx_messageIdentifier")
    )
    if not message_id:
        raise PoxError("imsx_messageIdentifier is missing")
    body_el = _child(root, "imsx_POXBody")
    operation_el = next(iter(body_el), None) if body_el is not None else None
    if operation_el is None:
        raise PoxError("imsx_POXBody holds no operation", message_id=message_id)
    name = _local(operation_el.tag)
    operation = name.removesuffix("Request")
    record = _child(operation_el, "resultRecord")
    return PoxRequest(
        message_id=message_id,
        operation=operation,
        sourced_id=_text(_path(record, "sourcedGUID", "sourcedId")),
        score_text=_text(_path(record, "result", "resultScore", "textString")),
    )


def parse_score(text: str | None) -> float:
    """A resultScore textString: a decimal from 0.0 to 1.0 (LTI 1.1 §6.1.1); ValueError else."""
    if text is None or not _DECIMAL.match(text):
        raise ValueError("resultScore/textString must be a decimal number from 0.0 to 1.0")
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"the score {text} is outside 0.0-1.0")
    return value


def format_score(value: float) -> str:
    """A score as readResult returns it."""
    return repr(float(value))


def response(
    *,
    code_major: str,
    description: str,
    message_ref: str = "",
    operation: str = "",
    body: str | None = None,
) -> bytes:
    """An imsx_POXEnvelopeResponse. `body` is the inner XML of imsx_POXBody (already escaped);
    None gives an empty body (failures)."""
    if body is not None and operation not in OPERATIONS:
        raise ValueError(f"no response body for operation {operation!r}")
    severity = "status" if code_major == "success" else "error"
    inner = f"<{operation}Response>{body}</{operation}Response>" if body is not None else ""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<imsx_POXEnvelopeResponse xmlns="{NS}">'
        "<imsx_POXHeader><imsx_POXResponseHeaderInfo>"
        "<imsx_version>V1.0</imsx_version>"
        f"<imsx_messageIdentifier>{secrets.token_hex(8)}</imsx_messageIdentifier>"
        "<imsx_statusInfo>"
        f"<imsx_codeMajor>{code_major}</imsx_codeMajor>"
        f"<imsx_severity>{severity}</imsx_severity>"
        f"<imsx_description>{escape(description)}</imsx_description>"
        f"<imsx_messageRefIdentifier>{escape(message_ref)}</imsx_messageRefIdentifier>"
        f"<imsx_operationRefIdentifier>{escape(operation)}</imsx_operationRefIdentifier>"
        "</imsx_statusInfo>"
        "</imsx_POXResponseHeaderInfo></imsx_POXHeader>"
        f"<imsx_POXBody>{inner}</imsx_POXBody>"
        "</imsx_POXEnvelopeResponse>"
    )
    return xml.encode()


def read_result_body(score: float | None) -> str:
    """The inner XML of a readResultResponse (an empty textString when there is no score)."""
    text = "" if score is None else format_score(score)
    return (
        "<result><resultScore><language>en</language>"
        f"<textString>{text}</textString></resultScore></result>"
    )
