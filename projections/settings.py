"""Settings of the marketplace projection, from `LRS_*` environment variables.

They sit beside the core `lrs.settings.Settings` (which holds the data directory and whether
`lrs serve` runs the worker) and are read once, when the projection is wired.

| variable | default | meaning |
| --- | --- | --- |
| `LRS_HRIS_HOME_PAGE` | unset | `account.homePage` whose `name` is the HRIS employee id |
| `LRS_EMAIL_DOMAIN_ALIASES` | unset | `alias=canonical` pairs, comma-separated |
| `LRS_MARKETPLACE_MAPPING` | `spec/marketplace-mapping.csv` | the field-mapping CSV |
| `LRS_MARKETPLACE_VERBS` | `spec/marketplace-verbs.csv` | the verb table |
| `LRS_MARKETPLACE_MASTER_KEY` | unset | 32 bytes base64url; else a key file in the data dir |
| `LRS_MARKETPLACE_TOKEN_TTL` | `900` | access token lifetime in seconds |
| `LRS_MARKETPLACE_RATE_LIMIT` | `600` | default requests per minute per client |
| `LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT` | `10` | failed logins a minute per client id |
| `LRS_MARKETPLACE_TOKEN_FAILURES_PER_ADDRESS` | `30` | failed logins a minute per address |
| `LRS_WORKER_BATCH` | `1000000` | statements whose records a worker rebuilds together |
| `LRS_WORKER_MAPPING_PROCESSES` | `1` | processes mapping large slices (`0`: none; one core: 0) |
| `LRS_WORKER_LEASE` | `60` | seconds a claim lasts before another worker may take it |
| `LRS_WORKER_POLL` | `0.1` | seconds a worker or dispatcher waits at most when there is no work |
| `LRS_WEBHOOK_MAX_ATTEMPTS` | `8` | deliveries tried before a dead letter |
| `LRS_WEBHOOK_TIMEOUT` | `10` | seconds a receiver has to answer |
| `LRS_WEBHOOK_CONCURRENCY` | `8` | deliveries of one subscription in flight at once |
| `LRS_WEBHOOK_ALLOW_INTERNAL` | `0` | `1`: webhooks may go to http:// and internal addresses |
| `LRS_RETENTION_DAILY` | `0` | `1`: the worker applies the mapping's retention periods once a day |
| `LRS_METRICS_TOKEN` | unset | bearer token a scraper sends for `/metrics` (16+ characters) |
| `LRS_METRICS_PUBLIC` | `0` | `1`: `/metrics` needs no credential (a private network only) |
| `LRS_RECONCILE_DAILY` | `0` | `1`: the worker reconciles and fixes daily, recording each run |
| `LRS_PSEUDONYMOUS_WORKER_TYPES` | `contractor,alumni` | worker types seen only by pseudonym |
| `LRS_IDENTITY_MAX_TERMINATE_SHARE` | `0.1` | share of members a full import may terminate |
| `LRS_UNKNOWN_LEARNERS` | `hold` | `hold`, or `provision`: a provisional member per new learner |

`/metrics` answers a scraper that sends `Authorization: Bearer <LRS_METRICS_TOKEN>` or a
marketplace access token with the `admin` scope; with `LRS_METRICS_PUBLIC=1`, anyone.

Failed logins are failed client authentications at the OAuth endpoints; beyond the limit they
are answered 429 (0: no limit).

The poll is short because it is cheap (an idle round reads a few index entries, writes
nothing) and only matters for news from other processes: in `lrs serve --with-worker`, new
statements wake the worker and applied ones the dispatcher at once (`projections.wakeup`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lrs.env import Env
from lrs.errors import ConfigError

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"


def parse_aliases(raw: str) -> dict[str, str]:
    """`googlemail.com=gmail.com,corp.example=example.com` as a dict, lower-cased."""
    aliases: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        alias, sep, canonical = pair.partition("=")
        if not sep or not alias.strip() or not canonical.strip():
            raise ConfigError(f"LRS_EMAIL_DOMAIN_ALIASES: {pair!r} is not alias=canonical")
        aliases[alias.strip().lower()] = canonical.strip().lower()
    return aliases


WORKER_TYPES = ("employee", "contractor", "alumni", "unknown")  # unknown: provisional members
UNKNOWN_LEARNER_POLICIES = ("hold", "provision")


def parse_worker_types(raw: str) -> frozenset[str]:
    """`contractor,alumni` as a set; empty: nobody is pseudonymised."""
    types = frozenset(t.strip().lower() for t in raw.split(",") if t.strip())
    unknown = sorted(types - set(WORKER_TYPES))
    if unknown:
        raise ConfigError(
            f"LRS_PSEUDONYMOUS_WORKER_TYPES: unknown worker type(s) {', '.join(unknown)}; "
            f"known: {', '.join(WORKER_TYPES)}"
        )
    return types


def _policy(raw: str) -> str:
    policy = raw.strip().lower()
    if policy not in UNKNOWN_LEARNER_POLICIES:
        raise ConfigError(
            f"LRS_UNKNOWN_LEARNERS: {raw!r} is not one of {', '.join(UNKNOWN_LEARNER_POLICIES)}"
        )
    return policy


MIN_METRICS_TOKEN = 16


def _metrics_token(raw: str | None) -> str | None:
    if raw is not None and len(raw.strip()) < MIN_METRICS_TOKEN:
        raise ConfigError(f"LRS_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters")
    return raw.strip() if raw is not None else None


def _default_mapping_processes() -> int:
    """One child maps large slices (`projections.mapping_process`) when a second core can run
    it; on one core it would only add the hand-off."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def _share(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}: {value} is not a share between 0 and 1")
    return value


@dataclass(frozen=True)
class ProjectionSettings:
    """Everything the marketplace projection can be configured with (see the table above)."""

    hris_home_page: str | None = None
    domain_aliases: dict[str, str] = field(default_factory=dict)
    mapping_path: Path = SPEC_DIR / "marketplace-mapping.csv"
    verbs_path: Path = SPEC_DIR / "marketplace-verbs.csv"
    master_key: str | None = None
    token_ttl_s: int = 900
    rate_limit_per_min: int = 600
    token_failures_per_client: int = 10
    token_failures_per_address: int = 30
    worker_batch: int = 1_000_000
    worker_mapping_processes: int = field(default_factory=_default_mapping_processes)
    worker_lease_s: float = 60.0
    worker_poll_s: float = 0.1
    webhook_max_attempts: int = 8
    webhook_timeout_s: float = 10.0
    webhook_concurrency: int = 8
    webhook_allow_internal: bool = False
    retention_daily: bool = False
    pseudonymous_worker_types: frozenset[str] = frozenset({"contractor", "alumni"})
    identity_max_terminate_share: float = 0.1
    unknown_learners: str = "hold"
    reconcile_daily: bool = False
    metrics_token: str | None = None
    metrics_public: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProjectionSettings:
        """Read the variables; a bad value is a ConfigError naming it."""
        env = Env(environ)
        return cls(
            hris_home_page=env.optional("LRS_HRIS_HOME_PAGE"),
            domain_aliases=parse_aliases(env.text("LRS_EMAIL_DOMAIN_ALIASES", "")),
            mapping_path=Path(env.optional("LRS_MARKETPLACE_MAPPING") or cls.mapping_path),
            verbs_path=Path(env.optional("LRS_MARKETPLACE_VERBS") or cls.verbs_path),
            master_key=env.optional("LRS_MARKETPLACE_MASTER_KEY"),
            token_ttl_s=int(env.number("LRS_MARKETPLACE_TOKEN_TTL", cls.token_ttl_s)),
            rate_limit_per_min=int(
                env.number("LRS_MARKETPLACE_RATE_LIMIT", cls.rate_limit_per_min)
            ),
            token_failures_per_client=env.integer(
                "LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT",
                cls.token_failures_per_client,
                minimum=0,
            ),
            token_failures_per_address=env.integer(
                "LRS_MARKETPLACE_TOKEN_FAILURES_PER_ADDRESS",
                cls.token_failures_per_address,
                minimum=0,
            ),
            worker_batch=int(env.number("LRS_WORKER_BATCH", cls.worker_batch)),
            worker_mapping_processes=env.integer(
                "LRS_WORKER_MAPPING_PROCESSES", _default_mapping_processes(), minimum=0
            ),
            worker_lease_s=env.number("LRS_WORKER_LEASE", cls.worker_lease_s),
            worker_poll_s=env.number("LRS_WORKER_POLL", cls.worker_poll_s),
            webhook_max_attempts=int(
                env.number("LRS_WEBHOOK_MAX_ATTEMPTS", cls.webhook_max_attempts)
            ),
            webhook_timeout_s=env.number("LRS_WEBHOOK_TIMEOUT", cls.webhook_timeout_s),
            webhook_concurrency=env.integer(
                "LRS_WEBHOOK_CONCURRENCY", cls.webhook_concurrency, minimum=1
            ),
            webhook_allow_internal=env.flag("LRS_WEBHOOK_ALLOW_INTERNAL"),
            retention_daily=env.flag("LRS_RETENTION_DAILY"),
            pseudonymous_worker_types=parse_worker_types(
                env.text("LRS_PSEUDONYMOUS_WORKER_TYPES", "contractor,alumni")
            ),
            identity_max_terminate_share=_share(
                "LRS_IDENTITY_MAX_TERMINATE_SHARE",
                env.number("LRS_IDENTITY_MAX_TERMINATE_SHARE", cls.identity_max_terminate_share),
            ),
            unknown_learners=_policy(env.text("LRS_UNKNOWN_LEARNERS", cls.unknown_learners)),
            reconcile_daily=env.flag("LRS_RECONCILE_DAILY"),
            metrics_token=_metrics_token(env.optional("LRS_METRICS_TOKEN")),
            metrics_public=env.flag("LRS_METRICS_PUBLIC"),
        )

    def with_overrides(self, **changes: object) -> ProjectionSettings:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]
