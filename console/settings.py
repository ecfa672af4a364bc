"""Settings of the operator console, from LRS_CONSOLE_* variables (docs/console.md, Settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lrs.env import Env


@dataclass(frozen=True)
class ConsoleSettings:
    """Session lifetimes, set-password links and login throttling."""

    # A session ends this long after login, however active.
    session_minutes: int = 8 * 60
    # ... or after this long without a request.
    idle_minutes: int = 30
    # How long a set-password link printed by `lrs operators create|reset` stays usable.
    link_minutes: int = 24 * 60
    # Failed logins allowed per account, and per source address, in `throttle_minutes`.
    failures_per_account: int = 5
    failures_per_address: int = 20
    throttle_minutes: int = 15
    min_password_length: int = 12

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read every LRS_CONSOLE_* variable; bad values fail at start-up."""
        env = Env(environ)

        def minutes(name: str, default: int) -> int:
            return env.integer(name, default, minimum=1)

        return cls(
            session_minutes=minutes("LRS_CONSOLE_SESSION_MINUTES", cls.session_minutes),
            idle_minutes=minutes("LRS_CONSOLE_IDLE_MINUTES", cls.idle_minutes),
            link_minutes=minutes("LRS_CONSOLE_LINK_MINUTES", cls.link_minutes),
            failures_per_account=minutes(
                "LRS_CONSOLE_FAILURES_PER_ACCOUNT", cls.failures_per_account
            ),
            failures_per_address=minutes(
                "LRS_CONSOLE_FAILURES_PER_ADDRESS", cls.failures_per_address
            ),
            throttle_minutes=minutes("LRS_CONSOLE_THROTTLE_MINUTES", cls.throttle_minutes),
            min_password_length=env.integer(
                "LRS_CONSOLE_MIN_PASSWORD_LENGTH", cls.min_password_length, minimum=8
            ),
        )
