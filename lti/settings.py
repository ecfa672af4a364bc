"""Settings of the LTI adapter, from LRS_LTI_* environment variables (README, section LTI)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SystemExit(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class LTISettings:
    """Everything the LTI adapter can be configured with."""

    # Honour X-Forwarded-Proto/-Host/-Port/-Prefix when working out the URL a tool called.
    # Only for an LRS reachable solely through a proxy that sets (and overwrites) them.
    trust_proxy: bool = False
    # The master key (32 bytes, base64url); else `master_key_file`. Never printed or logged.
    master_key: str | None = field(default=None, repr=False)
    # Default: `lti-master.key` in the LRS data directory.
    master_key_file: Path | None = None
    # account.homePage for learners when a tool or consumer names none; default: public base URL.
    user_home_page: str | None = None
    token_seconds: int = 3600
    # The latest `exp` a client assertion may carry, counted from now.
    assertion_max_seconds: int = 600
    clock_skew_seconds: int = 60
    jwks_cache_seconds: int = 300
    page_size: int = 100
    max_page_size: int = 1000

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LTISettings:
        """Read every LRS_LTI_* variable; bad values fail at start-up."""
        env = dict(os.environ if environ is None else environ)
        key_file = env.get("LRS_LTI_MASTER_KEY_FILE") or None
        return cls(
            trust_proxy=_bool(env, "LRS_LTI_TRUST_PROXY"),
            master_key=env.get("LRS_LTI_MASTER_KEY") or None,
            master_key_file=Path(key_file) if key_file else None,
            user_home_page=env.get("LRS_LTI_USER_HOME_PAGE") or None,
            token_seconds=_int(env, "LRS_LTI_TOKEN_SECONDS", cls.token_seconds),
            assertion_max_seconds=_int(
                env, "LRS_LTI_ASSERTION_MAX_SECONDS", cls.assertion_max_seconds
            ),
            clock_skew_seconds=_int(env, "LRS_LTI_CLOCK_SKEW_SECONDS", cls.clock_skew_seconds, 0),
            jwks_cache_seconds=_int(env, "LRS_LTI_JWKS_CACHE_SECONDS", cls.jwks_cache_seconds, 0),
            page_size=_int(env, "LRS_LTI_PAGE_SIZE", cls.page_size),
            max_page_size=_int(env, "LRS_LTI_MAX_PAGE_SIZE", cls.max_page_size),
        )
