"""The marketplace master key, and the keys derived from it.

Two kinds of secret cannot be stored as hashes: the keys that sign access tokens, and the
webhook signing secrets (the LRS must compute HMACs with them). Neither is stored at all:
each is derived on demand from one master key kept outside the database,

    token signing key   = HKDF-SHA256(master, info="marketplace token key " + kid)
    webhook secret      = HKDF-SHA256(master, info="marketplace webhook " + id + " " + salt)

so the database holds only key ids and salts, and a copy of it reveals no key. Rotating the
token key is adding a new kid; rotating a webhook secret is a new salt.

Where the master key comes from, first match wins:
1. `LRS_MARKETPLACE_MASTER_KEY`: 32 bytes in base64url (every process of a multi-machine
   deployment must be given the same one);
2. the file `marketplace-master.key` in the data directory, created on first use with 32
   random bytes, mode 0600.
Replacing the master key invalidates every token and every webhook secret.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lrs.errors import ConfigError
from lrs.keyfile import b64url, load_or_create_key, unb64url

log = logging.getLogger(__name__)

KEY_BYTES = 32
KEY_FILE_NAME = "marketplace-master.key"


class Keyring:
    """Derives purpose-bound keys from the master key; never shows the master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"the marketplace master key must be {KEY_BYTES} bytes")
        self._master = master_key

    def __repr__(self) -> str:
        return "Keyring(<master key hidden>)"

    def derive(self, info: str) -> bytes:
        """32 bytes bound to `info`."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode())
        return hkdf.derive(self._master)

    def token_key(self, kid: str) -> bytes:
        """The HS256 key of a token key id."""
        return self.derive(f"marketplace token key {kid}")

    def webhook_secret(self, subscription_id: str, salt: str) -> str:
        """A subscription's signing secret, as given to the receiver."""
        return "whsec_" + b64url(self.derive(f"marketplace webhook {subscription_id} {salt}"))


def load_keyring(master_key: str | None, data_dir: Path) -> Keyring:
    """The keyring on the configured key, or on the key file (created on first use)."""
    if master_key:
        try:
            return Keyring(unb64url(master_key.strip()))
        except ValueError as exc:
            raise ConfigError(
                f"LRS_MARKETPLACE_MASTER_KEY must be {KEY_BYTES} bytes in base64url"
            ) from exc
    return Keyring(_key_file(Path(data_dir) / KEY_FILE_NAME))


def _key_file(path: Path) -> bytes:
    """Read the key file, or create it (mode 0600) when missing; safe between processes."""
    return load_or_create_key(path, purpose="marketplace master key", size=KEY_BYTES)
