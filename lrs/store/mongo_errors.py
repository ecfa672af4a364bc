"""Driver errors → StoreUnavailable, for every MongoDB store of every package.

A client sees one error for a store that cannot answer (503); what the driver said goes to
the log. Duplicate keys are usually an answer, not a failure (an id already taken, a nonce
already used), so a store that handles them lets them through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import DuplicateKeyError, PyMongoError

from lrs.errors import StoreUnavailable

log = logging.getLogger(__name__)


@contextmanager
def translate_errors(action: str, *, pass_duplicates: bool = False) -> Iterator[None]:
    """Run the block; a driver error becomes StoreUnavailable("the store could not <action>")."""
    try:
        yield
    except DuplicateKeyError:
        if pass_duplicates:
            raise
        log.warning("mongodb could not %s: duplicate key", action)
        raise StoreUnavailable(f"the store could not {action}") from None
    except PyMongoError as exc:
        log.warning("mongodb could not %s: %s: %s", action, type(exc).__name__, exc)
        raise StoreUnavailable(f"the store could not {action}") from exc
