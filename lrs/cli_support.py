"""Helpers every package's `lrs` subcommands share (the `lrs.cli` entry point imports them).

Command modules import this, never `lrs.cli`, so the entry point is imported by nobody else.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.store.factory import open_backend


def with_backend(settings: Settings, job: Callable[[Backend], Awaitable[int]]) -> int:
    """Run `job` on the configured backend, opened for it and closed after; its exit code."""

    async def run() -> int:
        backend = await open_backend(settings)
        try:
            return await job(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (batch sizes and the like)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
