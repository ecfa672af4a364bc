"""A wake-up call between the loops of one process: new statements → worker → dispatcher.

The projection worker and the webhook dispatcher each loop: do what there is, then wait. In
one process they need not wait a whole poll interval for news: the statement service calls
its listeners when statements commit (`StatementService.add_listener`), which set the
worker's `Wakeup`; the worker sets the dispatcher's when it has applied statements (their
change events are in the outbox by then). The poll interval remains for what no call
announces: statements written by another process, retries falling due, a lost call.
"""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """A latch: `set()` from anywhere in the loop, `wait()` until set, stopped or timed out.

    A loop clears it (`clear()`) before it looks for work, so a call arriving while it works
    makes the next `wait` return at once: nothing announced is slept through.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Wake the waiting loop (or the next wait)."""
        self._event.set()

    def clear(self) -> None:
        """Forget earlier calls: the loop is about to look for work."""
        self._event.clear()

    def is_set(self) -> bool:
        """Whether a call is pending."""
        return self._event.is_set()

    async def wait(self, stop: asyncio.Event, timeout_s: float) -> None:
        """Until `set()`, `stop` is set, or `timeout_s` seconds have passed."""
        if self._event.is_set() or stop.is_set():
            return
        waits = [asyncio.ensure_future(self._event.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waits, timeout=max(0.0, timeout_s), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
            for waiting in waits:
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds` whatever wakes arrive, unless `stop` is set first.

    A loop woken by every commit or every finished delivery would otherwise run once per
    event, paying its fixed cost (claims, checkpoints, lookups) each time; after a round that
    found work it pauses this long, and what arrived meanwhile is taken in one round.
    """
    if seconds > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
