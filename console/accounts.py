"""Operator accounts: create, list, disable, reset, set a password by a one-time link, log in.

Every change is appended to the projection's hash-chained audit log (`projections.audit`) with
the acting operator's name (`operator:NAME`, or `cli` for the `lrs operators` command). A
password is never logged nor audited; a link token exists in clear only in the answer to
`create` / `reset` (printed once by the CLI), the store keeps its hash.

Login throttling counts failures per account and per source address in a sliding window
(`projections.ratelimit.FailedAttempts`, in this process): past the limit a login is refused
at once with the time to wait, without a delay that would hold the connection open. Unknown
names and wrong passwords cost the same scrypt run and get the same answer.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.secrets import hash_secret, new_token, token_hash, verify_secret
from console.settings import ConsoleSettings
from console.store.base import ROLES, Operator, OperatorStore, SessionStore
from lrs.errors import BadRequest, Conflict, NotFound
from projections.audit import AuditLog
from projections.ratelimit import FailedAttempts

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", re.ASCII)
_DUMMY_HASH = hash_secret("not a password of anyone")
CAN_MANAGE = ("admin",)  # credentials and operators


def actor_of(name: str) -> str:
    """The audit log's actor for an operator."""
    return f"operator:{name}"


@dataclass(frozen=True)
class Link:
    """A set-password link as issued: the token exists in clear only here."""

    name: str
    token: str
    expires_us: int


class Accounts:
    """The operator accounts service (the console's handlers and `lrs operators` use it)."""

    def __init__(
        self,
        operators: OperatorStore,
        sessions: SessionStore,
        audit: AuditLog,
        settings: ConsoleSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._operators = operators
        self._sessions = sessions
        self._audit = audit
        self.settings = settings
        self._clock = clock
        window = settings.throttle_minutes * 60.0
        self.failures = FailedAttempts(window_s=window, clock=clock)

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    async def create(self, name: str, role: str, *, actor: str) -> Link:
        """A new account without a password, and the link that sets it."""
        if not NAME.fullmatch(name):
            raise BadRequest("an operator name is 1-64 letters, digits and . _ @ -")
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}")
        if not await self._operators.add_operator(Operator(name, role, self._now_us())):
            raise Conflict(f"operator {name} exists")
        await self._audit.append(
            "console.operator_created", actor=actor, subject=name, after={"role": role}
        )
        return await self._link(name)

    async def list(self) -> list[Operator]:
        """Every account."""
        return await self._operators.list_operators()

    async def disable(self, name: str, *, actor: str) -> None:
        """Refuse the account's logins and end its sessions."""
        if not await self._operators.set_disabled(name, True):
            raise NotFound(f"no operator {name}")
        ended = await self._sessions.drop_sessions_of(name)
        await self._audit.append(
            "console.operator_disabled", actor=actor, subject=name, details={"sessions": ended}
        )

    async def reset(self, name: str, *, actor: str) -> Link:
        """Clear the password, end the sessions, enable the account; a new set-password link."""
        if not await self._operators.set_password(name, None):
            raise NotFound(f"no operator {name}")
        await self._operators.set_disabled(name, False)
        await self._sessions.drop_sessions_of(name)
        await self._audit.append("console.operator_reset", actor=actor, subject=name)
        return await self._link(name)

    async def _link(self, name: str) -> Link:
        token, hashed = new_token()
        expires = self._now_us() + self.settings.link_minutes * 60_000_000
        await self._operators.add_link(hashed, name, expires)
        return Link(name=name, token=token, expires_us=expires)

    async def set_password(self, token: str, password: str) -> str:
        """Use a link (once) to set the password; the operator's name."""
        if len(password) < self.settings.min_password_length:
            raise BadRequest(
                f"the password needs at least {self.settings.min_password_length} characters"
            )
        name = await self._operators.take_link(token_hash(token), self._now_us())
        if name is None:
            raise BadRequest("this link is not valid: used, expired or replaced")
        hashed = await asyncio.to_thread(hash_secret, password)
        await self._operators.set_password(name, hashed)
        await self._audit.append("console.password_set", actor=actor_of(name), subject=name)
        return name

    async def log_in(self, name: str, password: str, address: str) -> Operator | None:
        """The operator, if the password is right and the account enabled; throttled (429)."""
        limits = self.settings
        keys = (
            (f"account:{name}", limits.failures_per_account),
            (f"address:{address}", limits.failures_per_address),
        )
        for key, limit in keys:
            self.failures.check(key, limit)
        counted = [(key, self.failures.record(key)) for key, _ in keys]
        operator = await self._operators.get_operator(name)
        stored = operator.password_hash if operator is not None else None
        right = await asyncio.to_thread(verify_secret, password, stored or _DUMMY_HASH)
        if operator is None or stored is None or operator.disabled or not right:
            return None
        for key, at in counted:
            self.failures.forget(key, at)
        return operator

    async def audit_login(self, name: str) -> None:
        """Record a sign-in (a session was started)."""
        await self._audit.append("console.login", actor=actor_of(name), subject=name)

    async def audit_logout(self, name: str) -> None:
        """Record a sign-out."""
        await self._audit.append("console.logout", actor=actor_of(name), subject=name)

    async def audit_change(
        self, type: str, name: str, subject: str, details: dict[str, Any]
    ) -> None:
        """Record a change an operator made in the console (never a secret in `details`)."""
        await self._audit.append(type, actor=actor_of(name), subject=subject, details=details)
