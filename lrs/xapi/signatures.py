"""Signed statements (1.0.3 Part 2 §2.6): a JWS attachment checked against its statement.

The LRS checks that a signature is well formed, not who signed: the JWS must use RS256,
RS384 or RS512; its payload must be a statement equivalent (by the comparison rules) to the
one received without the signature attachment; when the JWS header carries an X.509
certificate (`x5c`) the signature must verify against that certificate's key.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from lrs.errors import BadRequest
from lrs.model.attachments import Attachment
from lrs.xapi.attachments import SIGNATURE_USAGE
from lrs.xapi.comparison import statements_equivalent

ALGORITHMS = ("RS256", "RS384", "RS512")


def check_signatures(statement: dict[str, Any], received: dict[str, Attachment]) -> None:
    """A 400 unless every signature attachment of the statement is a well-formed JWS of it."""
    for attachment in statement.get("attachments") or ():
        if not isinstance(attachment, dict) or attachment.get("usageType") != SIGNATURE_USAGE:
            continue
        if attachment.get("contentType") != "application/octet-stream":
            raise BadRequest(
                "a signature attachment must have contentType application/octet-stream"
            )
        part = received.get(attachment.get("sha2", ""))
        if part is None:
            raise BadRequest("a signature attachment must be sent as a multipart part")
        _check_jws(statement, attachment, part.content)


def _check_jws(statement: dict[str, Any], signature: dict[str, Any], token_bytes: bytes) -> None:
    try:
        token = token_bytes.decode("ascii").strip()
        header = jwt.get_unverified_header(token)
    except (UnicodeDecodeError, jwt.PyJWTError) as exc:
        raise BadRequest("the signature is not a JWS in compact serialisation") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise BadRequest(f"the signature must use RS256, RS384 or RS512, not {algorithm!r}")
    payload = _payload(token, header, algorithm)
    if not isinstance(payload, dict):
        raise BadRequest("the signature's payload is not a statement")
    unsigned = _without(statement, signature)
    if not statements_equivalent(payload, unsigned) or payload.get("id", unsigned.get("id")) != (
        unsigned.get("id")
    ):
        raise BadRequest("the signed statement does not match the statement received")


def _payload(token: str, header: dict[str, Any], algorithm: str) -> Any:
    jws = jwt.PyJWS()
    try:
        if "x5c" in header:
            certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):  # RS256/384/512 verify with RSA only
                raise BadRequest("the signature's x5c certificate must hold an RSA public key")
            raw = jws.decode(token, key=key, algorithms=[algorithm])
        else:
            raw = jws.decode(token, options={"verify_signature": False})
        return orjson.loads(raw)
    except (jwt.PyJWTError, ValueError, TypeError, IndexError, binascii.Error) as exc:
        raise BadRequest(f"the signature does not verify: {exc}") from exc


def _without(statement: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    """The statement as it was before the signature attachment was added."""
    rest = [a for a in statement.get("attachments", []) if a is not signature]
    unsigned = {k: v for k, v in statement.items() if k != "attachments"}
    if rest:
        unsigned["attachments"] = rest
    return unsigned
