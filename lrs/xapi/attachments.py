"""Attachments (1.0.3 Part 2 §2.4.11, Part 3 §1.5.2): matching received parts to statements.

An attachment part is matched to an attachment object by its SHA-2 hash and in no other way.
Every attachment object without a `fileUrl` needs a part; every part needs an attachment
object; every part's declared hash must be the hash of its content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from lrs.errors import BadRequest, PayloadTooLarge
from lrs.model.attachments import Attachment

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
_DIGESTS = {64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}


class Part(Protocol):
    """What the HTTP layer hands over for one received attachment part (read-only, so that
    a frozen dataclass serves)."""

    @property
    def headers(self) -> dict[str, str]: ...

    @property
    def candidates(self) -> tuple[bytes, ...]: ...

    @property
    def content_type(self) -> str: ...

    @property
    def declared_hash(self) -> str | None: ...


def attachment_objects(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The attachment objects of a statement and of its SubStatement."""
    for holder in (statement, statement.get("object")):
        if isinstance(holder, dict):
            for attachment in holder.get("attachments") or ():
                if isinstance(attachment, dict):
                    yield attachment


def sha2_of(content: bytes, like: str) -> str:
    """The SHA-2 hex digest of `content` in the variant whose length `like` has."""
    digest = _DIGESTS.get(len(like), hashlib.sha256)
    return digest(content).hexdigest()


def require_file_urls(statements: Sequence[dict[str, Any]]) -> None:
    """1.0.3 Part 3 §1.5.1: an application/json request carries only fileUrl attachments."""
    for index, statement in enumerate(statements):
        for attachment in attachment_objects(statement):
            if not attachment.get("fileUrl"):
                raise BadRequest(
                    f"statement {index} has an attachment without fileUrl; send its content "
                    "as multipart/mixed",
                    path=f"[{index}].attachments",
                )


def match_parts(
    statements: Sequence[dict[str, Any]], parts: Sequence[Part], *, max_bytes: int
) -> dict[str, Attachment]:
    """The received attachments by hash, or a 400 naming the first mismatch."""
    received: dict[str, Attachment] = {}
    for number, part in enumerate(parts, start=2):
        declared = part.declared_hash
        if not declared:
            raise BadRequest(f"multipart part {number} has no X-Experience-API-Hash header")
        encoding = part.headers.get("content-transfer-encoding", "binary").lower()
        if encoding != "binary":
            raise BadRequest(f"multipart part {number}: Content-Transfer-Encoding must be binary")
        content = next((c for c in part.candidates if sha2_of(c, declared) == declared), None)
        if content is None:
            raise BadRequest(f"multipart part {number}: content does not match its hash")
        if len(content) > max_bytes:
            raise PayloadTooLarge(f"attachment {declared} is larger than {max_bytes} bytes")
        received[declared] = Attachment(declared, part.content_type, content)
    wanted = {a.get("sha2") for s in statements for a in attachment_objects(s)}
    for extra in received.keys() - wanted:
        raise BadRequest(f"multipart part with hash {extra} matches no attachment")
    for index, statement in enumerate(statements):
        for attachment in attachment_objects(statement):
            if not attachment.get("fileUrl") and attachment.get("sha2") not in received:
                raise BadRequest(
                    f"statement {index}: attachment {attachment.get('sha2')} has neither "
                    "fileUrl nor a matching part"
                )
    return received


def referenced_hashes(statement: dict[str, Any]) -> list[str]:
    """The hashes of a stored statement's attachments, for multipart responses."""
    return [a["sha2"] for a in attachment_objects(statement) if isinstance(a.get("sha2"), str)]
