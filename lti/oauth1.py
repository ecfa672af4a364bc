"""OAuth 1.0a verification of LTI 1.1 outcome requests (LTI 1.1 Implementation Guide §4 and
§6: HMAC-SHA1 signatures with the OAuth Request Body Hash extension).

The signature is checked by oauthlib's server side (`SignatureOnlyEndpoint`, which compares in
constant time and keeps the same work for unknown consumer keys), against the public URL the
tool called (`lti.urls`). Then, in this order:
- `oauth_body_hash` must be present and equal base64(SHA-1(body)) (compared in constant time):
  the signature covers the hash, the hash covers the XML;
- the timestamp must be within oauthlib's 600 s of now;
- the nonce must be new for that consumer: nonces are recorded in the store until the
  timestamp window closes, so a replay is refused in every process. A nonce is recorded only
  after the signature verifies, so forged requests cannot use up a tool's nonces.
The consumer secret is decrypted only for the check and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape

from lrs.errors import Unauthorized
from lti.store.base import Consumer, RegistrationStore, ReplayStore
from lti.vault import CONSUMER_SECRET, Vault

TIMESTAMP_LIFETIME = 600
_PRINTABLE = frozenset(chr(c) for c in range(0x21, 0x7F))


class _Validator(RequestValidator):
    """What oauthlib asks about the one consumer a request names (loaded beforehand)."""

    enforce_ssl = False  # TLS is the deployment's (the proxy's) concern
    timestamp_lifetime = TIMESTAMP_LIFETIME

    def __init__(self, consumer_key: str, secret: str | None) -> None:
        super().__init__()
        self._key = consumer_key
        self._secret = secret

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return ("HMAC-SHA1",)  # LTI 1.1 §4: HMAC-SHA1

    @property
    def dummy_client(self) -> str:
        return "unknown-consumer"

    def check_client_key(self, client_key: str) -> bool:
        return 0 < len(client_key) <= 255 and set(client_key) <= _PRINTABLE

    def check_nonce(self, nonce: str) -> bool:
        return 0 < len(nonce) <= 255 and set(nonce) <= _PRINTABLE

    def validate_client_key(self, client_key: str, request: object) -> bool:
        return self._secret is not None and client_key == self._key

    def get_client_secret(self, client_key: str, request: object) -> str:
        # a fixed dummy for unknown keys keeps the work the same (oauthlib's advice)
        return self._secret if self._secret is not None else "dummy-secret-for-unknown-keys"

    def validate_timestamp_and_nonce(self, *args: object, **kwargs: object) -> bool:
        return True  # checked against the store after the signature, see the module docstring


def oauth_params(authorization: str | None) -> dict[str, str]:
    """The oauth_* parameters of an `Authorization: OAuth ...` header; Unauthorized if none."""
    if not authorization or not authorization.strip().lower().startswith("oauth "):
        raise Unauthorized("an OAuth 1.0a signed Authorization header is required")
    try:
        pairs = parse_authorization_header(authorization.strip())
        # RFC 5849 §3.5.1: names and values in the header are percent-encoded
        return {unescape(name): unescape(value) for name, value in pairs}
    except (ValueError, IndexError) as exc:
        raise Unauthorized("the OAuth Authorization header is malformed") from exc


async def verify_request(
    *,
    url: str,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    store: RegistrationStore,
    replays: ReplayStore,
    vault: Vault,
) -> Consumer:
    """The consumer that signed this request; Unauthorized when anything fails."""
    params = oauth_params(headers.get("Authorization"))
    key = params.get("oauth_consumer_key", "")
    consumer = await store.get_consumer(key) if key else None
    if consumer is not None and consumer.disabled_at:
        raise Unauthorized("this consumer key is disabled")
    secret = (
        vault.decrypt(CONSUMER_SECRET, consumer.secret_enc, bound_to=consumer.key).decode()
        if consumer is not None
        else None
    )
    endpoint = SignatureOnlyEndpoint(_Validator(key, secret))
    valid, _request = endpoint.validate_request(url, method, body="", headers=dict(headers))
    if not valid or consumer is None:
        raise Unauthorized("the OAuth signature does not verify for this URL and consumer key")
    expected = base64.b64encode(hashlib.sha1(body).digest()).decode()
    if not hmac.compare_digest(expected.encode(), params.get("oauth_body_hash", "").encode()):
        raise Unauthorized("oauth_body_hash is missing or does not match the body")
    nonce_until = int(params["oauth_timestamp"]) + TIMESTAMP_LIFETIME + 60
    if not await replays.use_once(f"oauth1\n{consumer.key}\n{params['oauth_nonce']}", nonce_until):
        raise Unauthorized("this OAuth nonce was used before (request replayed)")
    return consumer
