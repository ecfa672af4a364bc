"""Console sessions: an opaque random id in the cookie, only its hash on the server.

A login always starts a new session (a session id the browser held before, one planted by an
attacker included, is never promoted: no fixation). A session ends at its absolute expiry,
after `idle_minutes` without a request, at logout, or when its operator is disabled or reset.
The last-seen time is written at most once a minute, so browsing costs no write per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from console.secrets import new_token, token_hash
from console.settings import ConsoleSettings
from console.store.base import Operator, OperatorStore, Session, SessionStore

_TOUCH_EVERY_US = 60_000_000


@dataclass(frozen=True)
class Signed:
    """The operator behind a valid session, and the session's id as the cookie holds it."""

    operator: Operator
    session_id: str


class Sessions:
    """Starts, resolves and ends console sessions."""

    def __init__(
        self,
        sessions: SessionStore,
        operators: OperatorStore,
        settings: ConsoleSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._operators = operators
        self._settings = settings
        self._clock = clock

    @property
    def store(self) -> SessionStore:
        """The session store (for tests and the sweep)."""
        return self._sessions

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    async def start(self, operator: Operator) -> str:
        """A new session for the operator; the id to set in the cookie."""
        raw, hashed = new_token()
        now = self._now_us()
        expires = now + self._settings.session_minutes * 60_000_000
        await self._sessions.add_session(Session(hashed, operator.name, now, now, expires))
        return raw

    async def resolve(self, session_id: str | None) -> Signed | None:
        """The signed-in operator, or None when the session is unknown, expired, idle too long,
        or its operator disabled."""
        if not session_id:
            return None
        hashed = token_hash(session_id)
        session = await self._sessions.get_session(hashed)
        now = self._now_us()
        if session is None or self._ended(session, now):
            if session is not None:
                await self._sessions.drop_session(hashed)
            return None
        operator = await self._operators.get_operator(session.operator)
        if operator is None or operator.disabled:
            return None
        if now - session.seen_us >= _TOUCH_EVERY_US:
            await self._sessions.touch_session(hashed, now)
        return Signed(operator=operator, session_id=session_id)

    def _ended(self, session: Session, now: int) -> bool:
        idle_us = self._settings.idle_minutes * 60_000_000
        return now >= session.expires_us or now - session.seen_us >= idle_us

    async def end(self, session_id: str) -> None:
        """Logout."""
        await self._sessions.drop_session(token_hash(session_id))

    async def sweep(self) -> int:
        """Forget every expired or idle session."""
        now = self._now_us()
        idle_before = now - self._settings.idle_minutes * 60_000_000
        return await self._sessions.drop_expired(now, idle_before)
