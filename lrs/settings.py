"""Settings from the environment, read once into one frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Everything the LRS can be configured with; see the README's configuration table."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path("lrs-data"))
    mongodb_uri: str | None = None
    mongodb_database: str = "lrs"
    public_base_url: str | None = None
    authority_home_page: str | None = None
    statement_page_size: int = 100
    max_statement_page_size: int = 1000
    max_request_bytes: int = 20 * 1024 * 1024
    max_batch_size: int = 5000
    max_attachment_bytes: int = 10 * 1024 * 1024
    cors_origins: str = "*"
    default_xapi_version: str = "2.0.0"
    log_level: str = "INFO"
    # processes for the CPU work of large statement batches: -1 one per core, 0 none (in the
    # event loop's process). `from_env` (so `lrs serve`) defaults to -1.
    statement_workers: int = 0
    with_worker: bool = False  # `lrs serve` also runs the marketplace projection worker

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read every LRS_* variable; unknown values fail loudly at start-up, not later."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            host=env.get("LRS_HOST", cls.host),
            port=_int(env, "LRS_PORT", cls.port),
            data_dir=Path(env.get("LRS_DATA_DIR", "lrs-data")),
            mongodb_uri=env.get("LRS_MONGODB_URI") or None,
            mongodb_database=env.get("LRS_MONGODB_DATABASE", cls.mongodb_database),
            public_base_url=env.get("LRS_PUBLIC_BASE_URL") or None,
            authority_home_page=env.get("LRS_AUTHORITY_HOME_PAGE") or None,
            statement_page_size=_int(env, "LRS_STATEMENT_PAGE_SIZE", cls.statement_page_size),
            max_statement_page_size=_int(
                env, "LRS_MAX_STATEMENT_PAGE_SIZE", cls.max_statement_page_size
            ),
            max_request_bytes=_int(env, "LRS_MAX_REQUEST_BYTES", cls.max_request_bytes),
            max_batch_size=_int(env, "LRS_MAX_BATCH_SIZE", cls.max_batch_size),
            max_attachment_bytes=_int(env, "LRS_MAX_ATTACHMENT_BYTES", cls.max_attachment_bytes),
            cors_origins=env.get("LRS_CORS_ORIGINS", cls.cors_origins),
            default_xapi_version=env.get("LRS_DEFAULT_XAPI_VERSION", cls.default_xapi_version),
            log_level=env.get("LRS_LOG_LEVEL", cls.log_level),
            statement_workers=_int(env, "LRS_STATEMENT_WORKERS", -1),
            with_worker=env.get("LRS_WITH_WORKER", "").lower() in ("1", "true", "yes"),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (command-line flags win over the environment)."""
        return replace(self, **changes)  # type: ignore[arg-type]
