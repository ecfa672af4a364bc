"""`lrs serve`'s HTTP server: aiohttp's runner with a bound on connections and slow headers.

Why not `web.run_app`: it offers no bound on concurrent connections, and a few hundred clients
that open connections and trickle bytes would otherwise hold sockets and memory for as long as
they like. So the server runs aiohttp's `AppRunner` behind a site of its own whose protocol
factory counts the connections the aiohttp server holds: beyond `LRS_MAX_CONNECTIONS` a new
connection gets a short 503 and is closed at once, before anything is read from it.

The other two limits on slow clients: request headers must arrive within `LRS_HEADER_TIMEOUT` of
the connection's opening or of the previous response (aiohttp's keep-alive timer, which also
closes a connection that is idle that long between requests), and a body within
`LRS_BODY_TIMEOUT` (`lrs.middlewares.body_timeout_middleware`, 408). Shutdown is as with
`run_app`: on SIGINT / SIGTERM the sites stop, in-flight requests get up to 60 s, then the app's
cleanup contexts close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from aiohttp import web

from lrs.access_log import AccessLog
from lrs.settings import Settings

log = logging.getLogger(__name__)

_REFUSED_BODY = orjson.dumps(
    {"error": "service_unavailable", "message": "too many connections; retry shortly"}
)
REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_REFUSED_BODY)).encode() + b"\r\n\r\n" + _REFUSED_BODY
)
REFUSAL_LOG_INTERVAL_S = 60.0


class _Refused(asyncio.Protocol):
    """A connection beyond the limit: a 503, then closed without reading the request."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Answer 503 and close (the transport sends the bytes before it closes)."""
        assert isinstance(transport, asyncio.Transport)
        transport.write(REFUSED)
        transport.close()


class ConnectionLimit:
    """A protocol factory: the aiohttp server's handler while it holds fewer than `limit`
    connections, a refusal beyond."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self._limit = limit
        self._refused = 0
        self._last_log = -REFUSAL_LOG_INTERVAL_S

    def __call__(self) -> asyncio.Protocol:
        """The protocol for one new connection."""
        if len(self._server.connections) < self._limit:
            return self._server()
        self._refused += 1
        now = time.monotonic()
        if now - self._last_log >= REFUSAL_LOG_INTERVAL_S:  # one line a minute, not a flood
            log.warning(
                "refusing connections: %d are open (LRS_MAX_CONNECTIONS); %d refused so far",
                self._limit,
                self._refused,
            )
            self._last_log = now
        return _Refused()


class LimitedSite(web.BaseSite):
    """A TCP site whose connections go through a `ConnectionLimit`."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._max_connections = max_connections

    @property
    def name(self) -> str:
        """The address, for logs."""
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        if self._server is not None:
            sockets = getattr(self._server, "sockets", None)
            if sockets:
                return int(sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        """Listen."""
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            ConnectionLimit(server, self._max_connections),
            self._host,
            self._port,
            backlog=self._backlog,
        )


def runner_for(
    app: web.Application, settings: Settings, *, handle_signals: bool = False
) -> web.AppRunner:
    """The runner with the header timeout (aiohttp's keep-alive timer) set, and an access log
    that keeps tokens out (`lrs.access_log`)."""
    return web.AppRunner(
        app,
        handle_signals=handle_signals,
        keepalive_timeout=settings.header_timeout,
        access_log_class=AccessLog,
    )


async def serve(app: web.Application, settings: Settings) -> None:
    """Serve `app` until cancelled (SIGINT / SIGTERM end `run`, which cancels this)."""
    runner = runner_for(app, settings, handle_signals=True)
    await runner.setup()
    try:
        site = LimitedSite(
            runner, settings.host, settings.port, max_connections=settings.max_connections
        )
        await site.start()
        log.info("serving on %s", site.name)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(app: web.Application, settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully (as `web.run_app` does)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(serve(app, settings))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError, web.GracefulExit):
                loop.run_until_complete(main)  # the runner's cleanup: in-flight requests finish
        rest = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in rest:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
