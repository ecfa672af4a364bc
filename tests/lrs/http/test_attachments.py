"""Attachments and signed statements through HTTP (1.0.3 Part 2 §2.4.11, §2.6)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import uuid
from typing import Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict

from lrs.keys import statement_service_key
from tests.lrs.http.conftest import LRSClient
from tests.lrs.http.test_statements import statement

BOUNDARY = "xapi-test-boundary"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def attachment(content: bytes, **overrides: object) -> dict:
    """An attachment object describing `content`."""
    base = {
        "usageType": "http://example.com/attachment-usage/certificate",
        "display": {"en-US": "certificate"},
        "contentType": "text/plain",
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
    }
    base.update(overrides)
    return base


def multipart(
    json_body: bytes, parts: list[tuple[bytes, dict[str, str]]], crlf_before_boundary=True
) -> bytes:
    """A multipart/mixed statement request body."""
    out = [f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n".encode(), json_body, b"\r\n"]
    for content, headers in parts:
        out.append(f"--{BOUNDARY}\r\n".encode())
        out += [f"{k}: {v}\r\n".encode() for k, v in headers.items()]
        out += [b"\r\n", content, b"\r\n" if crlf_before_boundary else b""]
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def part_headers(content: bytes, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "text/plain",
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": hashlib.sha256(content).hexdigest(),
        **extra,
    }


async def post_multipart(lrs: LRSClient, body: bytes, version: str = "1.0.3"):
    headers = lrs.headers(version, **{"Content-Type": f"multipart/mixed; boundary={BOUNDARY}"})
    return await lrs.http.post("/xapi/statements", data=body, headers=headers)


def parse_response_parts(body: bytes, content_type: str) -> list[tuple[CIMultiDict, bytes]]:
    boundary = content_type.split("boundary=")[1].strip('"').encode()
    pieces = body.split(b"--" + boundary)[1:-1]
    parsed = []
    for piece in pieces:
        head, _, content = piece.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = CIMultiDict(
            line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line
        )
        parsed.append((headers, content))
    return parsed


async def test_multipart_round_trip(lrs: LRSClient) -> None:
    content = b"certificate of completion\x00\xff binary bytes"
    sid = str(uuid.uuid4())
    body = statement(id=sid, attachments=[attachment(content)])
    response = await post_multipart(
        lrs, multipart(orjson.dumps(body), [(content, part_headers(content))])
    )
    assert response.status == 200, await response.text()
    got = await lrs.http.get(
        f"/xapi/statements?statementId={sid}&attachments=true", headers=lrs.headers()
    )
    assert got.status == 200
    assert got.headers["Content-Type"].startswith("multipart/mixed")
    parts = parse_response_parts(await got.read(), got.headers["Content-Type"])
    assert orjson.loads(parts[0][1])["id"] == sid
    assert parts[1][1] == content
    assert parts[1][0]["X-Experience-API-Hash"] == hashlib.sha256(content).hexdigest()
    plain = await lrs.http.get(f"/xapi/statements?statementId={sid}", headers=lrs.headers())
    assert plain.headers["Content-Type"].startswith("application/json")


async def test_part_without_crlf_before_boundary_is_accepted(lrs: LRSClient) -> None:
    content = b"ends without a line break"
    body = multipart(
        orjson.dumps(statement(attachments=[attachment(content)])),
        [(content, part_headers(content))],
        crlf_before_boundary=False,
    )
    assert (await post_multipart(lrs, body)).status == 200


async def test_multipart_rejections_store_nothing(lrs: LRSClient) -> None:
    content = b"the real content"
    sid = str(uuid.uuid4())
    stmt = orjson.dumps(statement(id=sid, attachments=[attachment(content)]))
    cases = {
        "missing part": multipart(stmt, []),
        "hash mismatch": multipart(stmt, [(b"other content", part_headers(content))]),
        "extra part": multipart(
            stmt, [(content, part_headers(content)), (b"extra", part_headers(b"extra"))]
        ),
        "base64": multipart(
            stmt, [(content, part_headers(content, **{"Content-Transfer-Encoding": "base64"}))]
        ),
        "no hash": multipart(stmt, [(content, {"Content-Type": "text/plain"})]),
    }
    for name, body in cases.items():
        response = await post_multipart(lrs, body)
        assert response.status == 400, name
    missing = await lrs.http.get(f"/xapi/statements?statementId={sid}", headers=lrs.headers())
    assert missing.status == 404


async def test_json_request_needs_file_url(lrs: LRSClient) -> None:
    content = b"x"
    without = statement(attachments=[attachment(content)])
    with_url = statement(attachments=[attachment(content, fileUrl="http://example.com/x.txt")])
    bad = await lrs.http.post("/xapi/statements", json=without, headers=lrs.headers())
    good = await lrs.http.post("/xapi/statements", json=with_url, headers=lrs.headers())
    assert (bad.status, good.status) == (400, 200)


def signing_material(key: Any = None) -> tuple[Any, str]:
    """A fresh RSA key (or `key`) and a self-signed certificate for it (base64 DER, as in
    x5c)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xapi test signer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return key, base64.b64encode(der).decode()


def signed_request(original: dict, token: str) -> bytes:
    signature = token.encode()
    signed = {
        **original,
        "attachments": [
            attachment(signature, usageType=SIGNATURE, contentType="application/octet-stream")
        ],
    }
    headers = part_headers(signature, **{"Content-Type": "application/octet-stream"})
    return multipart(orjson.dumps(signed), [(signature, headers)])


async def test_signed_statement_is_verified(lrs: LRSClient) -> None:
    key, cert = signing_material()
    original = statement(id=str(uuid.uuid4()))
    token = jwt.encode(original, key, algorithm="RS256", headers={"x5c": [cert]})
    response = await post_multipart(lrs, signed_request(original, token))
    assert response.status == 200, await response.text()


async def test_bad_signatures_are_400(lrs: LRSClient) -> None:
    key, cert = signing_material()
    other_key, _ = signing_material()
    original = statement(id=str(uuid.uuid4()))
    tampered = {**original, "result": {"success": True}}
    cases = {
        "payload differs": jwt.encode(tampered, key, algorithm="RS256", headers={"x5c": [cert]}),
        "wrong key": jwt.encode(original, other_key, algorithm="RS256", headers={"x5c": [cert]}),
        "hmac": jwt.encode(original, "secret-key-of-enough-length-32b!", algorithm="HS256"),
        "not a jws": "this is not a signature",
    }
    for name, token in cases.items():
        response = await post_multipart(lrs, signed_request(original, token))
        assert response.status == 400, name


async def test_signature_certificate_without_rsa_key_is_400(lrs: LRSClient) -> None:
    key, _ = signing_material()
    _, ec_cert = signing_material(ec.generate_private_key(ec.SECP256R1()))
    original = statement(id=str(uuid.uuid4()))
    token = jwt.encode(original, key, algorithm="RS256", headers={"x5c": [ec_cert]})
    response = await post_multipart(lrs, signed_request(original, token))
    assert response.status == 400
    assert "RSA" in (await response.json())["message"]


class _CountingService:
    """Wraps the statement service and records how many attachments each read returned."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def attachment(self, sha2: str) -> Any:
        self.reads.append(1)
        return await self.inner.attachment(sha2)

    async def attachments_for(self, raws: Any) -> Any:
        found = await self.inner.attachments_for(raws)
        self.reads.append(len(found))
        return found


async def test_attachments_true_response_is_streamed_one_attachment_at_a_time(
    lrs: LRSClient,
) -> None:
    # issue 14.12: the whole multipart response was built in memory
    contents = [f"attachment {n}".encode() * 50 for n in range(3)]
    sid = str(uuid.uuid4())
    body = statement(id=sid, attachments=[attachment(c) for c in contents])
    parts = [(c, part_headers(c)) for c in contents]
    assert (await post_multipart(lrs, multipart(orjson.dumps(body), parts))).status == 200
    app = lrs.http.app
    assert app is not None
    counting = _CountingService(app[statement_service_key])
    app._state[statement_service_key] = counting  # type: ignore[attr-defined]
    try:
        for query in (f"statementId={sid}", "limit=5"):
            counting.reads.clear()
            got = await lrs.http.get(
                f"/xapi/statements?{query}&attachments=true", headers=lrs.headers()
            )
            assert got.status == 200
            assert got.headers.get("Transfer-Encoding") == "chunked"  # streamed
            assert got.headers["X-Experience-API-Version"] == "1.0.3"
            assert "X-Experience-API-Consistent-Through" in got.headers
            assert ("Last-Modified" in got.headers) == query.startswith("statementId")
            received = parse_response_parts(await got.read(), got.headers["Content-Type"])
            assert [c for _h, c in received[1:]] == contents
            assert counting.reads == [1, 1, 1]  # one attachment in memory at a time
    finally:
        app._state[statement_service_key] = counting.inner  # type: ignore[attr-defined]
