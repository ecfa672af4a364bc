"""The platform's own signing key pair (LTI 1.3 Security Framework §6: platforms publish their
public keys as a JWK Set).

Made on first use: RSA 2048, `kid` the RFC 7638 thumbprint of its public JWK. The private key is
kept in the LTI store only encrypted by the vault (`lti.vault`, bound to its kid); concurrent
first uses in several processes agree on one key because the store keeps the first one added.
It signs the access tokens of the token endpoint; `/lti/jwks` publishes the public half.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lti.store.base import PlatformKey, PlatformKeyStore
from lti.vault import PLATFORM_KEY, Vault, b64url

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    """The opened platform key."""

    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, with kid, alg and use."""
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {
            "kty": "RSA",
            "n": jwk["n"],
            "e": jwk["e"],
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    members = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    return b64url(hashlib.sha256(members.encode()).digest())


class PlatformKeys:
    """Opens (or makes, once) the platform key and keeps it in memory."""

    def __init__(self, store: PlatformKeyStore, vault: Vault) -> None:
        self._store = store
        self._vault = vault
        self._key: SigningKey | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> SigningKey:
        """The platform key, made and stored on first use."""
        if self._key is None:
            async with self._lock:
                if self._key is None:
                    stored = await self._store.get_platform_key()
                    if stored is None:
                        stored = await self._store.add_platform_key(self._new_key())
                    self._key = self._open(stored)
        return self._key

    async def jwks(self) -> dict[str, Any]:
        """The public JWK Set."""
        return {"keys": [(await self.signing_key()).public_jwk()]}

    def _new_key(self) -> PlatformKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = thumbprint(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return PlatformKey(
            kid=kid,
            private_key_enc=self._vault.encrypt(PLATFORM_KEY, pem, bound_to=kid),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def _open(self, stored: PlatformKey) -> SigningKey:
        pem = self._vault.decrypt(PLATFORM_KEY, stored.private_key_enc, bound_to=stored.kid)
        private = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        return SigningKey(kid=stored.kid, private_key=private)
