"""CPython's cyclic garbage collector, paused while a projection batch is applied.

Why: a batch holds tens of thousands of objects alive at once (its statements, their facts, the
records it rebuilds, their events). With the collector on, every 700 allocations start a
collection of the youngest generation, which walks the survivors again and promotes them, and
as they pile up the older generations are walked again and again too: on the projection
benchmark (100,000 statements, batch 20000) that was about a quarter of the drain's CPU, the
SQLite reader threads' included (they allocate the facts they read). Nearly all of a batch's
objects are freed by reference counting when it ends; the few reference cycles it makes are
found by one collection of the youngest generation at its end, which then holds everything
allocated during the batch and still alive (while the collector is off nothing is promoted).

The pause is process-wide (the collector is): in `lrs serve --with-worker` the server's own
cycles made during a batch wait for that end-of-batch collection too, so the pause never
outlives a batch. Batches of several workers in one process may overlap: the collector comes
back when the last one ends, and only if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """How many batches are under way, and whether the collector was on before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False


_pauses = _Pauses()


@contextmanager
def collection_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off; collect the youngest generation after."""
    with _pauses.lock:
        if _pauses.depth == 0:
            _pauses.was_enabled = gc.isenabled()
            gc.disable()
        _pauses.depth += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.depth -= 1
            resume = _pauses.depth == 0 and _pauses.was_enabled
            if resume:
                gc.enable()
        if resume:
            gc.collect(0)
