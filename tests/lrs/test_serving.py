"""Item 14.11: `lrs serve`'s server bounds its connections and closes slow-header connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from lrs.serving import REFUSED, LimitedSite, runner_for
from lrs.settings import Settings

DEADLINE_S = 10.0


async def _ok(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[LimitedSite]:
    app = web.Application()
    app.router.add_get("/health", _ok)
    runner = runner_for(app, settings)
    await runner.setup()
    site = LimitedSite(runner, "127.0.0.1", 0, max_connections=settings.max_connections)
    await site.start()
    try:
        yield site
    finally:
        await runner.cleanup()


async def _connect(site: LimitedSite) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", site.port)


async def _get_health(site: LimitedSite) -> bytes:
    reader, writer = await _connect(site)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), DEADLINE_S)
    writer.close()
    return answer


async def test_connections_beyond_the_limit_get_503_and_are_closed(tmp_path: Path) -> None:
    async with _serving(Settings(data_dir=tmp_path, max_connections=2)) as site:
        held = [await _connect(site) for _ in range(2)]
        for _reader, writer in held:  # both are being served: a request line is on its way
            writer.write(b"GET /health HTTP/1.1\r\n")
            await writer.drain()
        assert await _get_health(site) == REFUSED
        held[0][1].close()
        # once a held connection is gone, new ones are served again (poll with a deadline)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        answer = await _get_health(site)
        while answer == REFUSED and loop.time() < deadline:
            await asyncio.sleep(0.02)
            answer = await _get_health(site)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        held[1][1].close()


async def test_a_connection_whose_headers_never_complete_is_closed(tmp_path: Path) -> None:
    async with _serving(Settings(data_dir=tmp_path, header_timeout=0.3)) as site:
        reader, writer = await _connect(site)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""  # closed by the server
        writer.close()
        assert (await _get_health(site)).startswith(b"HTTP/1.1 200 OK")


async def test_an_idle_connection_is_closed_after_the_header_timeout(tmp_path: Path) -> None:
    async with _serving(Settings(data_dir=tmp_path, header_timeout=0.3)) as site:
        reader, writer = await _connect(site)
        assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
        writer.close()


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("LRS_BODY_TIMEOUT", "2.5", "body_timeout", 2.5),
        ("LRS_HEADER_TIMEOUT", "7", "header_timeout", 7.0),
        ("LRS_MAX_CONNECTIONS", "12", "max_connections", 12),
    ],
)
def test_the_limits_come_from_the_environment(
    name: str, value: str, field: str, expected: float
) -> None:
    assert getattr(Settings.from_env({name: value}), field) == expected


def test_the_limits_have_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.body_timeout, settings.header_timeout, settings.max_connections) == (
        60.0,
        60.0,
        1000,
    )


async def _get(site: LimitedSite, target: str) -> bytes:
    reader, writer = await _connect(site)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), DEADLINE_S)
    writer.close()
    return answer


async def test_the_access_log_keeps_tokens_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="aiohttp.access")
    async with _serving(Settings(data_dir=tmp_path)) as site:
        await _get(site, "/health?token=s3cr3t-link-token&x=1")
        await _get(site, "/health?more=abc")
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 2
    assert "s3cr3t" not in lines[0] and '"GET /health?[redacted] HTTP/1.1" 200' in lines[0]
    assert '"GET /health?more=abc HTTP/1.1" 200' in lines[1]  # other lines as aiohttp's
