"""A webhook receiver on 127.0.0.1 in a thread of its own, for tests that run the `lrs` command
(which runs its own event loop): it verifies every signature and keeps the events it accepts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from projections.webhook_verify import SIGNATURE_HEADER, WebhookVerificationError, verify_webhook


@dataclass
class ThreadedReceiver:
    """Verified events by arrival; `rejected` counts requests whose signature failed."""

    url: str = ""
    secret: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = verify_webhook(self.secret, body, request.headers.get(SIGNATURE_HEADER))
        except WebhookVerificationError:
            with self._lock:
                self.rejected += 1
            return web.Response(status=400)
        with self._lock:
            self.events.append(event)
        return web.Response(status=204)


@contextmanager
def threaded_receiver() -> Iterator[ThreadedReceiver]:
    """Serve a receiver at `<url>` until the block ends."""
    receiver = ThreadedReceiver()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}/hooks"

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(runner.cleanup())
        loop.close()
