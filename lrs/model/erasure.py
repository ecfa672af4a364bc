"""What erasing a person from the xAPI data reports: counts only, never personal data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

# A stored statement's JSON with the person's agents replaced, or None when it names them in
# no agent place (`lrs.xapi.erasure.erase_agents_raw` with the keys and replacement bound).
StatementRewrite = Callable[[bytes], "bytes | None"]


class ErasurePolicy(StrEnum):
    """What happens to the statements that name an erased person (LRS_ERASURE_STATEMENTS)."""

    PSEUDONYMISE = "pseudonymise"
    DELETE = "delete"


@dataclass(frozen=True)
class ErasedPage:
    """One page of erasure in a statement store.

    `unlinked`: statements that only inherited the person's keys (through a StatementRef to one
    of their statements) and no longer answer to them. `done`: nothing posted under the
    person's keys remains.
    """

    pseudonymised: int = 0
    deleted: int = 0
    unlinked: int = 0
    done: bool = True


@dataclass(frozen=True)
class ErasureCounts:
    """What one erasure changed, for the caller's audit entry."""

    statements_pseudonymised: int = 0
    statements_deleted: int = 0
    statements_unlinked: int = 0
    documents_deleted: int = 0
