"""The LTI master key and what it protects: encryption at rest, and the platform's own MACs.

The adapter keeps secrets it cannot hash: LTI 1.1 consumer secrets are HMAC keys, needed in
clear to check a signature, and the platform's RSA private key signs access tokens. Both are
stored in the database encrypted with AES-256-GCM under a key derived from one master key that
lives outside the database, so a copy of the database alone reveals neither. The master key
also signs the sourcedIds the platform issues (HMAC-SHA256), so a tool cannot forge one.

Where the master key comes from, first match wins:
1. `LRS_LTI_MASTER_KEY`: 32 bytes in base64url. Use it when several machines share a MongoDB
   database: every process must hold the same key.
2. the file named by `LRS_LTI_MASTER_KEY_FILE`, default `lti-master.key` in the data directory,
   created on first use with 32 random bytes and mode 0600 (owner read/write only).

Each purpose gets its own subkey (HKDF-SHA256 with the purpose as `info`), and every ciphertext
is bound to the record it belongs to (AES-GCM associated data), so a ciphertext moved to another
record, or a MAC made for one purpose, is worthless elsewhere. Ciphertexts are
`v1.` + base64url(12-byte nonce ‖ ciphertext ‖ tag). Key rotation is not implemented: replacing
the master key makes stored consumer secrets and the platform key unreadable (503).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lrs.errors import ConfigError
from lrs.keyfile import b64url, load_or_create_key, unb64url
from lti.errors import KeysUnavailable
from lti.settings import LTISettings

log = logging.getLogger(__name__)

KEY_BYTES = 32
KEY_FILE_NAME = "lti-master.key"
_PREFIX = "v1."

# Purposes, one subkey each.
CONSUMER_SECRET = "lti consumer secret"
PLATFORM_KEY = "lti platform private key"
SOURCED_ID = "lti 1.1 sourcedId"


class Vault:
    """Encrypts, decrypts and signs with subkeys of one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"the LTI master key must be {KEY_BYTES} bytes")
        self._master = master_key
        self._subkeys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return "Vault(<master key hidden>)"

    def _subkey(self, purpose: str) -> bytes:
        if purpose not in self._subkeys:
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
            self._subkeys[purpose] = hkdf.derive(self._master)
        return self._subkeys[purpose]

    def encrypt(self, purpose: str, plaintext: bytes, *, bound_to: str) -> str:
        """AES-256-GCM under the purpose's subkey, bound to a record by its name."""
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._subkey(purpose)).encrypt(nonce, plaintext, bound_to.encode())
        return _PREFIX + b64url(nonce + sealed)

    def decrypt(self, purpose: str, token: str, *, bound_to: str) -> bytes:
        """The plaintext of `encrypt`; KeysUnavailable when the key or the binding differ."""
        try:
            if not token.startswith(_PREFIX):
                raise ValueError("unknown ciphertext version")
            raw = unb64url(token[len(_PREFIX) :])
            return AESGCM(self._subkey(purpose)).decrypt(raw[:12], raw[12:], bound_to.encode())
        except (InvalidTag, ValueError) as exc:
            raise KeysUnavailable(
                "a stored LTI secret cannot be decrypted with the configured master key"
            ) from exc

    def sign(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` under the purpose's subkey."""
        return hmac.new(self._subkey(purpose), data, hashlib.sha256).digest()

    def verify(self, purpose: str, data: bytes, mac: bytes) -> bool:
        """Whether `mac` is `sign(purpose, data)`, compared in constant time."""
        return hmac.compare_digest(self.sign(purpose, data), mac)


def load_vault(settings: LTISettings, data_dir: Path) -> Vault:
    """The vault on the configured master key, creating the key file on first use."""
    if settings.master_key:
        try:
            return Vault(unb64url(settings.master_key.strip()))
        except ValueError as exc:
            raise ConfigError(f"LRS_LTI_MASTER_KEY must be {KEY_BYTES} bytes in base64url") from exc
    path = settings.master_key_file or Path(data_dir) / KEY_FILE_NAME
    return Vault(_key_file(path))


def _key_file(path: Path) -> bytes:
    """Read the key file, or create it (mode 0600) when missing; safe between processes."""
    return load_or_create_key(path, purpose="LTI master key", size=KEY_BYTES)
