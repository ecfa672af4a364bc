"""The API credential value shared by authentication and the credential stores."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credential:
    """An API credential for HTTP Basic: the secret itself is never stored, only its hash."""

    key: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: str
    revoked: bool = False
