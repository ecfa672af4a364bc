"""multipart/mixed responses for `attachments=true` (1.0.3 Part 2 §2.4.11, Part 3 §1.5.2).

The first part is the JSON (a statement or StatementResult); each further part is one
attachment's raw bytes with its `X-Experience-API-Hash`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from lrs.errors import BadRequest, PayloadTooLarge

CRLF = b"\r\n"


@dataclass(frozen=True)
class AttachmentPart:
    """One attachment's content as a response part."""

    content_type: str
    sha2: str
    content: bytes


def multipart_body(json_body: bytes, parts: Sequence[AttachmentPart]) -> tuple[bytes, str]:
    """The body and the boundary of a multipart/mixed message."""
    boundary = uuid.uuid4().hex
    chunks = [json_part(boundary, json_body)]
    chunks += [b"".join(attachment_part(boundary, part)) for part in parts]
    chunks.append(closing(boundary))
    return b"".join(chunks), boundary


def json_part(boundary: str, json_body: bytes) -> bytes:
    """The first part: the statement or StatementResult."""
    dash = b"--" + boundary.encode()
    return b"".join([dash, CRLF, b"Content-Type: application/json", CRLF, CRLF, json_body, CRLF])


def attachment_part(boundary: str, part: AttachmentPart) -> tuple[bytes, bytes, bytes]:
    """One attachment part as (head, content, CRLF), so the content is never copied."""
    head = (
        f"--{boundary}\r\nContent-Type: {part.content_type}\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        f"X-Experience-API-Hash: {part.sha2}\r\n\r\n"
    )
    return head.encode(), part.content, CRLF


def closing(boundary: str) -> bytes:
    """The closing delimiter."""
    return b"--" + boundary.encode() + b"--" + CRLF


def content_type(boundary: str) -> str:
    """The Content-Type of a multipart/mixed response with `boundary`."""
    return f'multipart/mixed; boundary="{boundary}"'


def multipart_response(json_body: bytes, parts: Sequence[AttachmentPart]) -> web.Response:
    """A multipart/mixed response carrying the JSON and the attachments."""
    body, boundary = multipart_body(json_body, parts)
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type(boundary)
    return response


@dataclass(frozen=True)
class ReceivedPart:
    """One part after the first of a multipart/mixed statement request.

    `candidates` holds the content as delimited by RFC 2046 and, when it ends in CRLF, also
    with that CRLF kept: some clients put no CRLF before the boundary that follows binary
    bytes, so the hash decides which reading is the attachment.
    """

    headers: dict[str, str]
    candidates: tuple[bytes, ...]

    @property
    def content_type(self) -> str:
        """The part's declared media type."""
        return self.headers.get("content-type", "application/octet-stream")

    @property
    def declared_hash(self) -> str | None:
        """The X-Experience-API-Hash header."""
        return self.headers.get("x-experience-api-hash")


def boundary_of(content_type_header: str) -> str:
    """The boundary parameter of a multipart Content-Type; 400 when absent."""
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    raise BadRequest("multipart/mixed requires a boundary parameter")


# Parts a multipart/mixed statement request may have, the JSON part included, unless the
# settings say otherwise (`LRS_MAX_ATTACHMENT_PARTS`).
MAX_PARTS = 1001


def parse_multipart(
    body: bytes, content_type_header: str, max_parts: int = MAX_PARTS
) -> tuple[bytes, list[ReceivedPart]]:
    """The JSON first part and the attachment parts of a multipart/mixed request.

    One linear scan for the delimiters that stops at `max_parts` (413 past it): a body of
    millions of empty parts costs neither time nor memory beyond that.
    """
    delimiter = b"--" + boundary_of(content_type_header).encode()
    pieces = _split(body, delimiter, max_parts)
    if len(pieces) < 3:
        raise BadRequest("the multipart body has no complete part")
    parts = [_part(piece) for piece in pieces[1:-1]]
    if not pieces[-1].startswith(b"--"):
        raise BadRequest("the multipart body has no closing boundary")
    first_headers, first_candidates = parts[0]
    first_type = first_headers.get("content-type", "").split(";")[0].strip().lower()
    if first_type != "application/json":
        raise BadRequest("the first part of a multipart statement request must be application/json")
    rest = [ReceivedPart(headers=h, candidates=c) for h, c in parts[1:]]
    return first_candidates[0], rest


def _split(body: bytes, delimiter: bytes, max_parts: int) -> list[bytes]:
    """`body.split(delimiter)`, refused with a 413 once it would hold more than `max_parts`
    parts (the preamble and the epilogue after the closing delimiter are not parts)."""
    pieces: list[bytes] = []
    start = 0
    while True:
        found = body.find(delimiter, start)
        if found < 0:
            pieces.append(body[start:])
            return pieces
        pieces.append(body[start:found])
        if len(pieces) > max_parts + 1:  # the preamble, then max_parts parts
            raise PayloadTooLarge(
                f"a multipart statement request holds at most {max_parts} parts "
                "(the statements and their attachments)"
            )
        start = found + len(delimiter)


def _part(piece: bytes) -> tuple[dict[str, str], tuple[bytes, ...]]:
    if piece.startswith(CRLF):
        piece = piece[2:]
    elif piece.startswith(b"\n"):
        piece = piece[1:]
    head, sep, content = piece.partition(CRLF + CRLF)
    if not sep:
        head, sep, content = piece.partition(b"\n\n")
    if not sep:
        if piece.strip():
            raise BadRequest("a multipart part has no blank line after its headers")
        head, content = piece, b""
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if content.endswith(CRLF):
        return headers, (content[:-2], content)
    if content.endswith(b"\n"):
        return headers, (content[:-1], content)
    return headers, (content,)
