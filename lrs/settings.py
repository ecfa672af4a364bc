"""Settings from the environment, read once into one frozen dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lrs.env import Env


@dataclass(frozen=True)
class Settings:
    """Everything the LRS can be configured with; see the README's configuration table."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path("lrs-data"))
    mongodb_uri: str | None = None
    mongodb_database: str = "lrs"
    mongodb_server_selection_ms: int = 5000  # how long a request waits for a usable server
    mongodb_write_timeout_ms: int = 10000  # wtimeout of the majority write concern
    mongodb_recovery_interval_s: int = 30  # how often unfinished statement batches are swept
    public_base_url: str | None = None
    authority_home_page: str | None = None
    statement_page_size: int = 100
    max_statement_page_size: int = 1000
    max_request_bytes: int = 20 * 1024 * 1024
    max_batch_size: int = 5000
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 1000  # attachment parts in one multipart/mixed statement request
    cors_origins: str = "*"
    default_xapi_version: str = "2.0.0"
    log_level: str = "INFO"
    # slow clients (seconds; 0 turns a timeout off): a request body must arrive within
    # body_timeout of the request's start (else 408); a connection's request headers within
    # header_timeout of its opening or of the previous response (else it is closed)
    body_timeout: float = 60.0
    header_timeout: float = 60.0
    max_connections: int = 1000  # `lrs serve` refuses (503) connections beyond this many
    # processes for the CPU work of large statement batches: -1 one per core, 0 none (in the
    # event loop's process). `from_env` (so `lrs serve`) defaults to -1.
    statement_workers: int = 0
    with_worker: bool = False  # `lrs serve` also runs the marketplace projection worker
    # what erasing a person does to their statements: "pseudonymise" or "delete"
    # (`lrs.services.erasure`)
    erasure_statements: str = "pseudonymise"
    # the HMAC key of `more` tokens; None: a key file in the data directory (`lrs.app`)
    query_token_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every LRS_* variable; unknown values fail loudly at start-up, not later."""
        env = Env(environ)
        return cls(
            host=env.text("LRS_HOST", cls.host),
            port=env.integer("LRS_PORT", cls.port),
            data_dir=Path(env.text("LRS_DATA_DIR", "lrs-data")),
            mongodb_uri=env.optional("LRS_MONGODB_URI"),
            mongodb_database=env.text("LRS_MONGODB_DATABASE", cls.mongodb_database),
            mongodb_server_selection_ms=env.integer(
                "LRS_MONGODB_SERVER_SELECTION_MS", cls.mongodb_server_selection_ms, minimum=1
            ),
            mongodb_write_timeout_ms=env.integer(
                "LRS_MONGODB_WRITE_TIMEOUT_MS", cls.mongodb_write_timeout_ms, minimum=1
            ),
            mongodb_recovery_interval_s=env.integer(
                "LRS_MONGODB_RECOVERY_INTERVAL_S", cls.mongodb_recovery_interval_s, minimum=1
            ),
            public_base_url=env.optional("LRS_PUBLIC_BASE_URL"),
            authority_home_page=env.optional("LRS_AUTHORITY_HOME_PAGE"),
            statement_page_size=env.integer("LRS_STATEMENT_PAGE_SIZE", cls.statement_page_size),
            max_statement_page_size=env.integer(
                "LRS_MAX_STATEMENT_PAGE_SIZE", cls.max_statement_page_size
            ),
            max_request_bytes=env.integer("LRS_MAX_REQUEST_BYTES", cls.max_request_bytes),
            max_batch_size=env.integer("LRS_MAX_BATCH_SIZE", cls.max_batch_size),
            max_attachment_bytes=env.integer("LRS_MAX_ATTACHMENT_BYTES", cls.max_attachment_bytes),
            max_attachments=env.integer("LRS_MAX_ATTACHMENTS", cls.max_attachments, minimum=0),
            cors_origins=env.text("LRS_CORS_ORIGINS", cls.cors_origins),
            default_xapi_version=env.text("LRS_DEFAULT_XAPI_VERSION", cls.default_xapi_version),
            log_level=env.text("LRS_LOG_LEVEL", cls.log_level),
            body_timeout=env.number("LRS_BODY_TIMEOUT", cls.body_timeout),
            header_timeout=env.number("LRS_HEADER_TIMEOUT", cls.header_timeout),
            max_connections=env.integer("LRS_MAX_CONNECTIONS", cls.max_connections, minimum=1),
            statement_workers=env.integer("LRS_STATEMENT_WORKERS", -1),
            # lenient on purpose (anything else is false), as it always was
            with_worker=env.text("LRS_WITH_WORKER", "").lower() in ("1", "true", "yes"),
            query_token_key=env.optional("LRS_QUERY_TOKEN_KEY"),
            erasure_statements=env.choice(
                "LRS_ERASURE_STATEMENTS", cls.erasure_statements, ("pseudonymise", "delete")
            ),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (command-line flags win over the environment)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def public_base_url(settings: Settings) -> str:
    """The URL clients reach this LRS at (configured, or the bound address)."""
    return (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def authority_home_page(settings: Settings) -> str:
    """The homePage of the account Agents the LRS puts in `authority`."""
    return settings.authority_home_page or public_base_url(settings)
