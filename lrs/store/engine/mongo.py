"""The MongoDB side of the engine: the database handle other packages' stores are built on, the
options every connection uses, and the one translation of driver errors for every MongoDB store.

Options (`database_options`, `client_options`), whatever the connection string says
    reads   primary, read concern `majority`: a store decides from what it reads (is this batch
            committed? which revision is current?), and a lagging secondary would make it decide
            wrong (abort a committed batch, answer 412 to a valid precondition...).
    writes  `w: majority`, `j: true`, `wtimeout` bounded (`LRS_MONGODB_WRITE_TIMEOUT_MS`): a
            write is acknowledged once durable on a majority, and with a majority lost it fails
            (503) instead of blocking forever.
    server selection  bounded (`LRS_MONGODB_SERVER_SELECTION_MS`): in an outage a request
            answers 503 quickly instead of waiting the driver's default 30 s.

Errors (`translate_errors`), the exception tree as a client sees it
    StoreUnavailable (503 + Retry-After)  the store cannot answer now and a retry may succeed:
        connection and network errors, server selection, not primary, timeouts (`maxTimeMS`,
        `wtimeout`), errors the server labels retryable, and the server codes of elections,
        shutdowns and interrupted operations;
    PayloadTooLarge (413)  a document over the 16 MiB BSON limit (`DocumentTooLarge`, a
        `bson.errors.InvalidDocument` and not a `PyMongoError`, or the server's codes for it);
    BadRequest (400)  an integer outside BSON's 64 bits (`OverflowError` from the encoder);
    StoreError (500, logged with the server's code)  every other driver error: an index
        conflict, a bad query, an unexpected duplicate key... retrying would fail the same way.
Duplicate keys are usually an answer, not a failure (an id already taken, a nonce already
used), so a store that handles them lets them through (`pass_duplicates=True`).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from bson.errors import InvalidDocument
from pymongo import ReadPreference, WriteConcern
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WaitQueueTimeoutError,
    WTimeoutError,
)
from pymongo.read_concern import ReadConcern

from lrs.errors import BadRequest, PayloadTooLarge, StoreError, StoreUnavailable

if TYPE_CHECKING:  # motor itself is imported by the core MongoDB backend, which opens it
    from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase

log = logging.getLogger(__name__)
T = TypeVar("T")

# Server codes of a state that passes: network, elections, shutdown, interruption, time limits,
# write concern timeout, write conflicts (from the server's error_codes.yml).
RETRYABLE_CODES = frozenset(
    {6, 7, 50, 64, 89, 91, 112, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}
)
# BSONObjectTooLarge, and an update whose result would pass the 16 MiB limit.
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})
# ConnectionFailure covers AutoReconnect, NotPrimaryError, NetworkTimeout, server selection.
_UNAVAILABLE = (ConnectionFailure, ExecutionTimeout, WTimeoutError, WaitQueueTimeoutError)
_RETRY_LABELS = ("RetryableWriteError", "TransientTransactionError", "RetryableError")


class MongoDatabase:
    """The LRS's MongoDB database, as the stores of every package see it: collections by name."""

    def __init__(self, db: AsyncIOMotorDatabase[Any]) -> None:
        self.db = db

    def __getitem__(self, name: str) -> AsyncIOMotorCollection[Any]:
        """The collection called `name`."""
        return self.db[name]


def client_options(server_selection_ms: int) -> dict[str, Any]:
    """Options of the client, winning over the connection string's (see the module docstring)."""
    return {"serverSelectionTimeoutMS": server_selection_ms}


def database_options(write_timeout_ms: int) -> dict[str, Any]:
    """Options of the database every store uses, winning over the connection string's."""
    return {
        "read_preference": ReadPreference.PRIMARY,
        "read_concern": ReadConcern("majority"),
        "write_concern": WriteConcern(w="majority", j=True, wtimeout=write_timeout_ms),
    }


def _codes(exc: PyMongoError) -> list[int]:
    """The server's error codes: the error's own, or each of a bulk write's."""
    if isinstance(exc, BulkWriteError):
        details = exc.details or {}
        errors = [*(details.get("writeErrors") or []), *(details.get("writeConcernErrors") or [])]
        return [int(e.get("code") or 0) for e in errors]
    code = getattr(exc, "code", None)
    return [code] if isinstance(code, int) else []


def is_retryable(exc: PyMongoError) -> bool:
    """Whether the error says the store cannot answer now, rather than that it never will."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    if exc.timeout or any(exc.has_error_label(label) for label in _RETRY_LABELS):
        return True
    codes = _codes(exc)
    return bool(codes) and any(code in RETRYABLE_CODES for code in codes)


def _too_large(exc: BaseException) -> bool:
    if isinstance(exc, DocumentTooLarge):
        return True
    return isinstance(exc, OperationFailure) and any(c in TOO_LARGE_CODES for c in _codes(exc))


def raise_translated(action: str, exc: BaseException) -> NoReturn:
    """Raise the LRS error `exc` (a driver or BSON error) stands for (module docstring)."""
    if _too_large(exc):
        raise PayloadTooLarge(
            f"the store could not {action}: a document would pass MongoDB's 16 MiB limit"
        ) from exc
    if isinstance(exc, OverflowError):
        raise BadRequest(f"the store could not {action}: a number does not fit in 64 bits") from exc
    if isinstance(exc, PyMongoError) and is_retryable(exc):
        log.warning("mongodb could not %s: %s: %s", action, type(exc).__name__, exc)
        raise StoreUnavailable(f"the store could not {action}; retry later") from exc
    codes = _codes(exc) if isinstance(exc, PyMongoError) else []
    name = type(exc).__name__
    log.error("mongodb refused to %s: %s (codes %s): %s", action, name, codes, exc)
    raise StoreError(
        f"the store refused to {action}", driver_error=name, server_codes=codes
    ) from exc


@contextmanager
def translate_errors(action: str, *, pass_duplicates: bool = False) -> Iterator[None]:
    """Run the block; a driver or BSON error becomes the LRS error it stands for."""
    try:
        yield
    except DuplicateKeyError as exc:
        if pass_duplicates:
            raise
        raise_translated(action, exc)
    except (PyMongoError, InvalidDocument, OverflowError) as exc:
        raise_translated(action, exc)


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
