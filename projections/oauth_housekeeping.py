"""Delegated OAuth's housekeeping, run by the projection worker (`lrs worker`, and `lrs serve
--with-worker`) at its start and then every hour (`lrs serve` without a worker: once, as it
starts): codes and refresh tokens past their use are
dropped (`DelegatedOAuth.forget_expired` says which and why), so the two collections hold
what can still matter rather than every token ever issued.

Every worker that runs does it; a second pass finds nothing more to drop, so that is harmless,
and a failed pass is logged and tried again at the next check (`projections.daily.DailyJob`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from projections.daily import DailyJob
from projections.oauth_grants import DelegatedOAuth
from projections.store.oauth import Forgotten

log = logging.getLogger(__name__)

HOUR_US = 3600 * 1_000_000


class OAuthHousekeeping(DailyJob[Forgotten]):
    """Forget expired codes and refresh tokens, hourly."""

    name = "OAuth housekeeping"

    def __init__(
        self, grants: DelegatedOAuth, clock: Callable[[], int], every_us: int = HOUR_US
    ) -> None:
        super().__init__(grants.forget_expired, clock, every_us)

    async def run_once(self) -> None:
        """One pass now, reported; a failure is logged, never raised (a server still starts)."""
        try:
            self.report(await self._job())
        except Exception:  # the store's trouble shows elsewhere; housekeeping can wait
            log.exception("%s failed", self.name)

    def report(self, result: Forgotten) -> None:
        """A log line when something was dropped."""
        line = summary(result)
        if line:
            log.info("%s", line)


def summary(result: Forgotten | None) -> str | None:
    """What a pass dropped, in a line; None when it dropped nothing (or did not run)."""
    if result is None or not (result.codes or result.refresh_tokens):
        return None
    return f"oauth: forgot {result.codes} expired codes and {result.refresh_tokens} refresh tokens"
