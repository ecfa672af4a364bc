"""Settings of the LTI adapter, from LRS_LTI_* environment variables (docs/lti.md, Settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lrs.env import Env


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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LTISettings:
        """Read every LRS_LTI_* variable; bad values fail at start-up."""
        env = Env(environ)
        key_file = env.optional("LRS_LTI_MASTER_KEY_FILE")
        return cls(
            trust_proxy=env.flag("LRS_LTI_TRUST_PROXY"),
            master_key=env.optional("LRS_LTI_MASTER_KEY"),
            master_key_file=Path(key_file) if key_file else None,
            user_home_page=env.optional("LRS_LTI_USER_HOME_PAGE"),
            token_seconds=env.integer("LRS_LTI_TOKEN_SECONDS", cls.token_seconds, minimum=1),
            assertion_max_seconds=env.integer(
                "LRS_LTI_ASSERTION_MAX_SECONDS", cls.assertion_max_seconds, minimum=1
            ),
            clock_skew_seconds=env.integer(
                "LRS_LTI_CLOCK_SKEW_SECONDS", cls.clock_skew_seconds, minimum=0
            ),
            jwks_cache_seconds=env.integer(
                "LRS_LTI_JWKS_CACHE_SECONDS", cls.jwks_cache_seconds, minimum=0
            ),
            page_size=env.integer("LRS_LTI_PAGE_SIZE", cls.page_size, minimum=1),
            max_page_size=env.integer("LRS_LTI_MAX_PAGE_SIZE", cls.max_page_size, minimum=1),
        )
