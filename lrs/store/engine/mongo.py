"""The MongoDB side of the engine: the database handle other packages' stores are built on, and
driver errors → StoreUnavailable, for every MongoDB store of every package.

A client sees one error for a store that cannot answer (503); what the driver said goes to
the log. Duplicate keys are usually an answer, not a failure (an id already taken, a nonce
already used), so a store that handles them lets them through (`pass_duplicates=True`).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pymongo.errors import DuplicateKeyError, PyMongoError

from lrs.errors import StoreUnavailable

if TYPE_CHECKING:  # motor itself is imported by the core MongoDB backend, which opens it
    from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase

log = logging.getLogger(__name__)
T = TypeVar("T")


class MongoDatabase:
    """The LRS's MongoDB database, as the stores of every package see it: collections by name."""

    def __init__(self, db: AsyncIOMotorDatabase[Any]) -> None:
        self.db = db

    def __getitem__(self, name: str) -> AsyncIOMotorCollection[Any]:
        """The collection called `name`."""
        return self.db[name]


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


def translates_errors(cls: type[T]) -> type[T]:
    """Class decorator: run every public coroutine method inside `translate_errors("answer")`,
    for stores that handle the duplicate keys they expect inside each method."""

    def wrap(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            with translate_errors("answer"):
                return await method(*args, **kwargs)

        return guarded

    for name, member in list(vars(cls).items()):
        if inspect.iscoroutinefunction(member) and not name.startswith("_"):
            setattr(cls, name, wrap(member))
    return cls
