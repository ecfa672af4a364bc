"""HRIS event sources: their signing secrets, and checking a request's signature.

The server must compute the HMAC of every request, so a source's secret cannot be stored as
a one-way hash. It is not stored at all: like the webhook secrets (`projections.keyring`),

    source secret = "hrsec_" + base64url(HKDF-SHA256(master, info="hris source <name> <salt>"))

so the database holds only the name and a random salt, and a copy of it reveals no secret.
The secret is shown once, by `create` and `rotate`; rotating draws a new salt, which refuses
the old secret at once (no grace period: deploy the new secret, then rotate again if needed —
or, better, create the new source first). Revoking keeps the source, refused, for the record.

A request is signed as our outgoing webhooks are (`projections.webhook_verify`, reused here):
`X-HRIS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, refused
outside a 300 s window; a signature accepted once is remembered until its window closes and
refused the second time (a captured request replayed within the window).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable

from lrs.keyfile import b64url
from projections.audit import AuditLog
from projections.hris_errors import (
    BadSignature,
    InvalidSourceName,
    ReplayedSignature,
    SourceExists,
    SourceNotFound,
    SourceRevoked,
    StaleSignature,
    UnknownSource,
)
from projections.keyring import Keyring
from projections.store.hris import HrisSource, HrisStore
from projections.transforms import format_datetime
from projections.webhook_verify import (
    DEFAULT_TOLERANCE_S,
    StaleSignatureError,
    WebhookVerificationError,
    verify_signature,
)

SOURCE_HEADER = "X-HRIS-Source"
SIGNATURE_HEADER = "X-HRIS-Signature"
REPLAY_WINDOW_S = DEFAULT_TOLERANCE_S
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class HrisSources:
    """Create, list, rotate and revoke sources; authenticate a signed request."""

    def __init__(
        self,
        store: HrisStore,
        keyring: Keyring,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._audit = audit
        self._clock = clock

    def secret_for(self, source: HrisSource) -> str:
        """The source's current signing secret (derived, never stored)."""
        return "hrsec_" + b64url(self._keyring.derive(f"hris source {source.name} {source.salt}"))

    def _now(self) -> str:
        return format_datetime(int(self._clock() * 1_000_000))

    async def create(self, name: str, *, actor: str = "cli") -> tuple[HrisSource, str]:
        """A new source and its secret (shown once)."""
        if not _NAME.match(name):
            raise InvalidSourceName(
                f"{name!r} is not a source name (letters, digits, `_.-`, at most 64)"
            )
        source = HrisSource(name, secrets.token_hex(16), self._now())
        if not await self._store.add_source(source):
            raise SourceExists(f"an HRIS source {name} exists (rotate its secret instead)")
        await self._audit.append("hris.source.created", actor=actor, subject=name)
        return source, self.secret_for(source)

    async def list(self) -> list[HrisSource]:
        """Every source, by name."""
        return await self._store.list_sources()

    async def rotate(self, name: str, *, actor: str = "cli") -> tuple[HrisSource, str]:
        """A new secret for the source; the old one is refused from now on."""
        source = await self._existing(name)
        if source.revoked_at is not None:
            raise SourceRevoked(f"the HRIS source {name} is revoked; create another")
        rotated = HrisSource(name, secrets.token_hex(16), source.created_at, self._now())
        await self._store.put_source(rotated)
        await self._audit.append("hris.source.rotated", actor=actor, subject=name)
        return rotated, self.secret_for(rotated)

    async def revoke(self, name: str, *, actor: str = "cli") -> HrisSource:
        """Refuse the source's events from now on."""
        source = await self._existing(name)
        if source.revoked_at is not None:
            return source
        revoked = HrisSource(
            name, source.salt, source.created_at, source.rotated_at, revoked_at=self._now()
        )
        await self._store.put_source(revoked)
        await self._audit.append("hris.source.revoked", actor=actor, subject=name)
        return revoked

    async def _existing(self, name: str) -> HrisSource:
        source = await self._store.get_source(name)
        if source is None:
            raise SourceNotFound(f"no HRIS source {name}")
        return source

    async def authenticate(self, name: str | None, body: bytes, header: str | None) -> HrisSource:
        """The source that signed this request, once; raises the 401 that says why not."""
        source = await self._store.get_source(name) if name else None
        if source is None:
            raise UnknownSource(f"no HRIS source named in {SOURCE_HEADER}", source=name)
        if source.revoked_at is not None:
            raise SourceRevoked(f"the HRIS source {name} is revoked", source=name)
        now = self._clock()
        try:
            timestamp, mac = verify_signature(
                self.secret_for(source), body, header, tolerance_s=REPLAY_WINDOW_S, now=now
            )
        except StaleSignatureError as exc:
            raise StaleSignature(str(exc), window_seconds=REPLAY_WINDOW_S) from None
        except WebhookVerificationError as exc:
            raise BadSignature(str(exc)) from None
        key = hashlib.sha256(f"{source.name}\n{mac}".encode()).hexdigest()
        expires_us = (timestamp + REPLAY_WINDOW_S + 1) * 1_000_000
        if not await self._store.note_signature(key, expires_us, int(now * 1_000_000)):
            raise ReplayedSignature("this signed request was received before; sign it anew")
        return source
