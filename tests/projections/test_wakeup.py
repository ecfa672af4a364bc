"""The wake-up latch between the worker, the dispatcher and the statement service: a call ends
a wait at once, a call made while the loop worked is not slept through, `stop` ends it too.
Every wait here would last an hour if it were not ended; `wait_for` bounds the test."""

from __future__ import annotations

import asyncio

from projections.wakeup import Wakeup, pause

HOUR = 3600.0
BOUND = 10.0  # a failing test fails after this, rather than hanging for an hour


async def test_a_call_ends_a_wait() -> None:
    wake, stop = Wakeup(), asyncio.Event()
    waiting = asyncio.create_task(wake.wait(stop, HOUR))
    await asyncio.sleep(0)  # the wait has begun
    assert not waiting.done()
    wake.set()
    await asyncio.wait_for(waiting, BOUND)


async def test_a_call_made_before_the_wait_is_not_slept_through() -> None:
    wake, stop = Wakeup(), asyncio.Event()
    wake.set()  # while the loop was working
    await asyncio.wait_for(wake.wait(stop, HOUR), BOUND)
    assert wake.is_set()
    wake.clear()  # the loop looks for work again
    assert not wake.is_set()


async def test_stop_ends_a_wait_and_a_pause() -> None:
    wake, stop = Wakeup(), asyncio.Event()
    waiting = asyncio.create_task(wake.wait(stop, HOUR))
    pausing = asyncio.create_task(pause(stop, HOUR))
    await asyncio.sleep(0)
    wake_only = asyncio.create_task(pause(asyncio.Event(), 0))  # nothing to wait for
    await asyncio.wait_for(wake_only, BOUND)
    stop.set()
    await asyncio.wait_for(asyncio.gather(waiting, pausing), BOUND)


async def test_a_pause_ignores_calls() -> None:
    wake, stop = Wakeup(), asyncio.Event()
    pausing = asyncio.create_task(pause(stop, HOUR))
    wake.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not pausing.done()
    stop.set()
    await asyncio.wait_for(pausing, BOUND)
