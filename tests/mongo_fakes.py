"""A collection double for what mongomock cannot express: a real server's errors and stale reads.

`FakeCollection` wraps a mongomock-motor collection; everything goes to it, except that the
next calls of a method can raise given exceptions (the real pymongo / bson classes, as a real
server would raise them), and a method can be made to answer as a lagging secondary would.
Every call is recorded, so a test can check which operations a store decided to run.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class FakeCollection:
    """A mongomock-motor collection with scripted failures, stale answers and a call log."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._failures: dict[str, list[BaseException]] = defaultdict(list)
        self._stale: dict[str, Any] = {}
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def fail(self, method: str, *errors: BaseException) -> FakeCollection:
        """The next calls of `method` raise `errors`, one each, in order."""
        self._failures[method].extend(errors)
        return self

    def stale(self, method: str, answer: Any) -> FakeCollection:
        """Every call of `method` answers `answer`, as a lagging secondary would."""
        self._stale[method] = answer
        return self

    def names(self) -> list[str]:
        """The methods called so far, in order."""
        return [name for name, _args, _kwargs in self.calls]

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr) or name in ("find", "aggregate"):  # cursors: passed through
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if self._failures.get(name):
                raise self._failures[name].pop(0)
            if name in self._stale:
                return self._stale[name]
            return await attr(*args, **kwargs)

        return call
