"""The console's storage seam: operator accounts, one-time set-password links and sessions.

Every secret arrives here already hashed (`console.secrets`): a password as a salted scrypt
string, a link token and a session id as the SHA-256 of a 256-bit random value. A lookup by
such a hash is safe to do with an index: knowing the hash does not give the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

ROLES = ("admin", "operator", "viewer")


@dataclass(frozen=True)
class Operator:
    """An operator account; `password_hash` is None until a set-password link is used."""

    name: str
    role: str
    created_us: int
    password_hash: str | None = None
    disabled: bool = False


@dataclass(frozen=True)
class Session:
    """A console session, known by the hash of its cookie's id."""

    id_hash: str
    operator: str
    created_us: int
    seen_us: int
    expires_us: int


@runtime_checkable
class OperatorStore(Protocol):
    """Operator accounts and their one-time set-password links."""

    async def add_operator(self, operator: Operator) -> bool:
        """Add the account; False when the name is taken."""
        ...

    async def get_operator(self, name: str) -> Operator | None:
        """The account, or None."""
        ...

    async def list_operators(self) -> list[Operator]:
        """Every account, by name."""
        ...

    async def set_password(self, name: str, password_hash: str | None) -> bool:
        """Replace the password hash (None: no password); False when there is no such name."""
        ...

    async def set_disabled(self, name: str, disabled: bool) -> bool:
        """Disable or enable the account; False when there is no such name."""
        ...

    async def add_link(self, token_hash: str, name: str, expires_us: int) -> None:
        """Keep a set-password link for `name`, replacing the links it had."""
        ...

    async def take_link(self, token_hash: str, now_us: int) -> str | None:
        """Consume the link (whatever its age): the operator's name if it had not expired."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Console sessions with an absolute expiry and a last-seen time (for the idle timeout)."""

    async def add_session(self, session: Session) -> None:
        """Keep a new session."""
        ...

    async def get_session(self, id_hash: str) -> Session | None:
        """The session, or None (expired ones too: the caller judges the times)."""
        ...

    async def touch_session(self, id_hash: str, seen_us: int) -> None:
        """Record activity on the session."""
        ...

    async def drop_session(self, id_hash: str) -> None:
        """End one session (logout)."""
        ...

    async def drop_sessions_of(self, name: str) -> int:
        """End every session of an operator (disabled, password reset); how many."""
        ...

    async def drop_expired(self, now_us: int, idle_before_us: int) -> int:
        """Forget sessions past their expiry or last seen at or before `idle_before_us`."""
        ...
