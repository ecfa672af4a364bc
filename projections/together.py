"""Awaiting several independent store steps at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def together(*steps: Awaitable[Any]) -> list[Any]:
    """The steps' results, run at once. The first failure cancels the others and is raised
    as it is (not wrapped in a group, as `asyncio.TaskGroup` would: callers catch the store's
    own errors), once the others have ended: nothing a failed step started is left running."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
