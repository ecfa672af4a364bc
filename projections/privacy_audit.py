"""The one call through which privacy operations (reveal, key rotation, retention) are audited.

It is a no-op for now: the append-only, hash-chained audit log (`projections.audit`) is built
beside this code, and this function is where it is wired, so that every reveal of a
pseudonym, every rotation of the pseudonym key and every retention run leaves one entry.
Details never hold personal data: counts and key versions, not member ids or addresses (a
reveal names the pseudonym asked about, which is not personal data without the key).
"""

from __future__ import annotations

from typing import Any


async def audit_privacy_event(
    action: str, *, subject: str, actor: str = "cli", details: dict[str, Any] | None = None
) -> None:
    """Record a privacy operation in the audit log (a no-op until the log is wired)."""
    # TODO(projections.audit): append {action, actor, subject, details} to the hash-chained
    # audit log of projections.audit once that module is merged.
    return None
