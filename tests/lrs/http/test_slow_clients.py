"""Item 14.11: slow and vanishing clients, driven by a raw socket against a real server.

The server is the LRS app under `lrs serve`'s own runner and site (`lrs.serving`) on
127.0.0.1, not aiohttp's test server, which cancels handlers on disconnect where `lrs serve`
does not; the client is an asyncio stream that sends exactly the bytes a slow client would.
Every wait has a deadline far shorter than the body timeout in force, so "answered at once"
means "before the body timeout".
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from lrs.app import create_app
from lrs.auth import create_credential
from lrs.config import Config
from lrs.serving import LimitedSite, runner_for
from lrs.settings import Settings
from lrs.store.sqlite import SQLiteBackend

DEADLINE_S = 10.0  # far below the 60 s body timeout of the "answered at once" tests


@dataclass
class Server:
    """The server's port and an Authorization header of a credential with `all`."""

    port: int
    auth: str
    entered: asyncio.Event  # set when a request reaches the handlers

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw connection to the server."""
        return await asyncio.open_connection("127.0.0.1", self.port)


@asynccontextmanager
async def _server(tmp_path: Path, **settings: Any) -> AsyncIterator[Server]:
    """The LRS served as `lrs serve` serves it (its runner and site), on a free port."""
    config = Settings(data_dir=tmp_path, host="127.0.0.1", port=0, **settings)
    backend = SQLiteBackend(tmp_path)
    app = create_app(Config(core=config), backend=backend)
    entered = asyncio.Event()

    @web.middleware
    async def signal_entry(request: web.Request, handler: Handler) -> web.StreamResponse:
        entered.set()
        return await handler(request)

    app.middlewares.append(signal_entry)  # innermost: the request is being handled
    runner = runner_for(app, config)
    await runner.setup()
    try:
        site = LimitedSite(runner, "127.0.0.1", 0, max_connections=config.max_connections)
        await site.start()
        new = await create_credential(backend.credentials, "suite", ["all"])
        token = base64.b64encode(f"{new.credential.key}:{new.secret}".encode()).decode()
        yield Server(site.port, f"Basic {token}", entered)
    finally:
        await runner.cleanup()
        await backend.close()


@pytest.fixture
async def patient(tmp_path: Path) -> AsyncIterator[Server]:
    """A server whose body timeout (60 s) is far beyond every deadline of the tests."""
    async with _server(tmp_path, body_timeout=60.0) as server:
        yield server


@pytest.fixture
async def impatient(tmp_path: Path) -> AsyncIterator[Server]:
    """A server with a body timeout of half a second."""
    async with _server(tmp_path, body_timeout=0.5) as server:
        yield server


def _head(path: str, *headers: str, length: int = 1000) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and the body of the next response, within the deadline."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE_S)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length"))
    return status, await asyncio.wait_for(reader.readexactly(length), DEADLINE_S)


XAPI = ("Content-Type: application/json", "X-Experience-API-Version: 1.0.3")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/xapi/statements", XAPI, 401),
        ("/xapi/statements", (*XAPI, "Authorization: Basic bm9ib2R5Om5vdGhpbmc="), 401),
        ("/xapi/activities/state?activityId=x", XAPI, 401),
        ("/scorm/v1/commits/forged.token", ("Content-Type: application/json",), 403),
        ("/marketplace/v1/oauth/token", ("Content-Type: application/x-www-form-urlencoded",), 413),
    ],
    ids=["xapi-no-credential", "xapi-wrong-credential", "xapi-document", "scorm-token", "form"],
)
async def test_a_request_without_a_valid_credential_is_answered_before_its_body(
    patient: Server, path: str, headers: tuple[str, ...], status: int
) -> None:
    reader, writer = await patient.connect()
    # the form endpoint reads its (small) form first: a body larger than a form is refused
    length = 100_000 if "oauth" in path else 1000
    writer.write(_head(path, *headers, length=length) + b"{")  # then nothing more
    await writer.drain()
    got, body = await _response(reader)
    assert got == status, body
    writer.close()


async def test_a_slow_authenticated_body_gets_408_and_the_connection_is_closed(
    impatient: Server,
) -> None:
    reader, writer = await impatient.connect()
    writer.write(_head("/xapi/statements", *XAPI, f"Authorization: {impatient.auth}") + b"[")
    await writer.drain()
    status, body = await _response(reader)
    assert status == 408
    assert orjson.loads(body)["error"] == "request_timeout"
    assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""  # closed by the server
    writer.close()


async def test_a_slow_token_form_gets_408(impatient: Server) -> None:
    reader, writer = await impatient.connect()
    form = ("Content-Type: application/x-www-form-urlencoded",)
    writer.write(_head("/marketplace/v1/oauth/token", *form, length=100) + b"grant_type=")
    await writer.drain()
    status, _body = await _response(reader)
    assert status == 408
    assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
    writer.close()


async def test_a_whole_body_sent_in_time_is_served(impatient: Server) -> None:
    statement = orjson.dumps(
        {
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://example.com/a"},
        }
    )
    reader, writer = await impatient.connect()
    auth = f"Authorization: {impatient.auth}"
    writer.write(_head("/xapi/statements", *XAPI, auth, length=len(statement)) + statement)
    await writer.drain()
    status, body = await _response(reader)
    assert status == 200, body
    writer.close()


async def test_a_client_vanishing_mid_body_logs_one_info_line_and_no_error(
    patient: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _reader, writer = await patient.connect()
    writer.write(_head("/xapi/statements", *XAPI, f"Authorization: {patient.auth}") + b"[{")
    await writer.drain()
    await asyncio.wait_for(patient.entered.wait(), DEADLINE_S)  # being handled: now go
    writer.close()
    await writer.wait_closed()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not _disconnect_lines(caplog) and loop.time() < deadline:
        await asyncio.sleep(0.02)  # poll the log with a deadline
    assert len(_disconnect_lines(caplog)) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _disconnect_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.INFO and "client disconnected" in r.getMessage()
    ]
