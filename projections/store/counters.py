"""The storage seam of the operational counters that `/metrics` reads at scrape time.

    CounterStore  monotonic counters keyed by (name, series): a series is one label set, e.g.
                  a subscription id, or a subscription id and a histogram bucket

Why a store and not process memory: webhook deliveries and just-in-time provisioning happen
in the worker (`lrs worker`), which may be another process than the one `/metrics` is scraped
from (`lrs serve`), and several workers may run. Counters kept in the database are the same
whichever process is scraped and survive restarts, on both backends, without Prometheus's
multiprocess mode (which needs a shared directory on one machine). Each `add` is one atomic
increment per key (SQLite upsert; MongoDB `$inc` with upsert): no transaction is needed, and
concurrent workers add up correctly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

CounterKey = tuple[str, str]  # (counter name, series)


@runtime_checkable
class CounterStore(Protocol):
    """Named counters that only grow."""

    async def add(self, increments: Mapping[CounterKey, float]) -> None:
        """Add each amount to its counter (a new counter starts at 0)."""
        ...

    async def counters(self, prefix: str = "") -> dict[CounterKey, float]:
        """Every counter whose name starts with `prefix`."""
        ...
