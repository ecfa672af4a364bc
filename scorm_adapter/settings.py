"""Settings of the SCORM endpoint and import, from `LRS_*` environment variables.

They sit beside the core `lrs.settings.Settings` (which holds the data directory) and are read
once, when the endpoint is wired or the import command runs.

- `LRS_SCORM_SIGNING_KEY` (unset): the HMAC key of commit-URL tokens, at least 32 characters;
  when unset, a key generated on first use and kept in the key file.
- `LRS_SCORM_KEY_FILE` (`<LRS_DATA_DIR>/scorm-signing.key`): where that key is kept (mode 0600).
- `LRS_SCORM_TOKEN_TTL` (`86400`): seconds a commit URL stays valid after the attempt is opened.
- `LRS_SCORM_MAX_VALUE_FACTOR` (`16`): a CMI value may be this many times its element's SCORM
  smallest permitted maximum long (see `scorm_adapter.limits`); longer is a 400.
- `LRS_HRIS_HOME_PAGE` (unset): `account.homePage` of learner ids in `lrs import-scorm` (the
  default of its `--home-page`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lrs.env import Env
from lrs.errors import ConfigError
from scorm_adapter.limits import DEFAULT_FACTOR

KEY_FILE_NAME = "scorm-signing.key"
MIN_KEY_CHARS = 32


@dataclass(frozen=True)
class ScormSettings:
    """Everything the SCORM endpoint and import can be configured with (see the list above)."""

    signing_key: str | None = None
    key_file: Path | None = None
    token_ttl_s: int = 86400
    hris_home_page: str | None = None
    max_value_factor: int = DEFAULT_FACTOR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScormSettings:
        """Read the variables; a bad value is a ConfigError naming it."""
        env = Env(environ)
        key = env.optional("LRS_SCORM_SIGNING_KEY")
        if key is not None and len(key) < MIN_KEY_CHARS:
            raise ConfigError(
                f"LRS_SCORM_SIGNING_KEY must have at least {MIN_KEY_CHARS} characters"
            )
        ttl = env.integer("LRS_SCORM_TOKEN_TTL", cls.token_ttl_s)
        if ttl <= 0:
            raise ConfigError("LRS_SCORM_TOKEN_TTL must be positive")
        key_file = env.optional("LRS_SCORM_KEY_FILE")
        return cls(
            signing_key=key,
            key_file=Path(key_file) if key_file else None,
            token_ttl_s=ttl,
            hris_home_page=env.optional("LRS_HRIS_HOME_PAGE"),
            max_value_factor=env.integer("LRS_SCORM_MAX_VALUE_FACTOR", DEFAULT_FACTOR, minimum=1),
        )

    def key_path(self, data_dir: Path) -> Path:
        """The key file: LRS_SCORM_KEY_FILE, else `scorm-signing.key` in the data directory."""
        return self.key_file or Path(data_dir) / KEY_FILE_NAME
