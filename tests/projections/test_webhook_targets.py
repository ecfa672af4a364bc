"""Where webhooks may go: https only and no internal address unless allowed, never link-local or
metadata addresses; checked when subscribing (API, CLI) and after resolution at delivery."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lrs.cli import main
from projections.keyring import Keyring
from projections.store import ProjectionStores
from projections.webhook_targets import TargetPolicy, WebhookTargetRefused
from projections.webhooks import WebhookService
from projections.worker import ProjectionWorker
from tests.projections.api_support import Market
from tests.projections.conftest import HRIS, Writer, statement

P = "/marketplace/v1"
STRICT, INTERNAL = TargetPolicy(), TargetPolicy(allow_internal=True)

ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.10.1/hooks",
    "https://[fe80::1]/hooks",
    "https://[fd00:ec2::254]/hooks",
    "https://[::ffff:169.254.169.254]/hooks",
    "http://metadata.google.internal/computeMetadata/v1/",
    "https://metadata.google.internal./x",
    "https://100.100.100.200/x",
    "https://0.0.0.0/x",
]
INTERNAL_ONLY = [
    "http://hooks.example.com/h",
    "https://127.0.0.1/h",
    "https://localhost:8443/h",
    "https://10.1.2.3/h",
    "https://192.168.0.7/h",
    "https://172.16.0.1/h",
    "https://100.64.0.1/h",
    "https://[::1]/h",
    "https://[fd12::1]/h",
]


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_link_local_and_metadata_targets_are_always_refused(url: str) -> None:
    for policy in (STRICT, INTERNAL):
        with pytest.raises(WebhookTargetRefused):
            policy.check_url(url)


@pytest.mark.parametrize("url", INTERNAL_ONLY)
def test_http_and_internal_targets_need_the_setting(url: str) -> None:
    with pytest.raises(WebhookTargetRefused):
        STRICT.check_url(url)
    INTERNAL.check_url(url)


def test_public_https_targets_are_allowed() -> None:
    for url in (
        "https://hooks.example.com/h",
        "https://93.184.216.34/h",
        "https://[2606:4700::1]/",
    ):
        STRICT.check_url(url)


async def test_the_api_refuses_metadata_targets_even_when_internal_ones_are_allowed(
    market: Market,
) -> None:
    admin = await market.token("admin")
    for url in ("http://169.254.169.254/latest", "http://metadata.google.internal/"):
        response = await market.http.post(
            f"{P}/webhooks", json={"url": url}, headers={"Authorization": admin}
        )
        assert response.status == 400, url
        error = (await response.json())["error"]
        assert error["code"] == "webhook_target_refused" and error["details"]["field"] == "url"
    assert await market.projection.stores.deliveries.list_subscriptions() == []


def test_the_cli_refuses_http_and_internal_targets_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.delenv("LRS_WEBHOOK_ALLOW_INTERNAL", raising=False)
    for url in ("http://hooks.example.com/h", "https://10.0.0.8/h", "https://[fe80::2]/h"):
        assert main(["webhooks", "subscribe", "--url", url]) != 0, url
        assert "refused" in capsys.readouterr().err
    monkeypatch.setenv("LRS_WEBHOOK_ALLOW_INTERNAL", "1")
    assert main(["webhooks", "subscribe", "--url", "http://127.0.0.1:9/h"]) == 0
    assert main(["webhooks", "subscribe", "--url", "http://169.254.169.254/"]) != 0


def _resolving_to(address: str) -> Any:
    """A stand-in for `loop.getaddrinfo` that resolves every name to `address`."""

    async def getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.9.8.7"])
async def test_a_name_resolving_to_a_forbidden_address_is_refused_at_delivery(
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
    address: str,
) -> None:
    """DNS rebinding: the name was fine when subscribed, its address is checked when sent."""
    hooks = WebhookService(stores.deliveries, stores.aggregates, Keyring(b"t" * 32))
    await hooks.subscribe("https://hooks.example.com/h")
    await writer.store(statement("completed"))
    await worker.drain()
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _resolving_to(address))
    async with hooks.session() as session:
        assert await hooks.run_once(session) == 2  # fanned out, attempted
    [pending] = await stores.deliveries.claim_deliveries("t", 2**62, 1, 10)
    assert pending.attempts == 1 and pending.last_error is not None
    assert f"resolves to {address}" in pending.last_error


async def test_a_stored_target_the_policy_now_refuses_is_a_dead_letter(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    """A subscription made under a looser setting is not sent to once the setting is off."""
    loose = WebhookService(
        stores.deliveries, stores.aggregates, Keyring(b"t" * 32), targets=INTERNAL
    )
    await loose.subscribe("http://127.0.0.1:9/h")
    strict = WebhookService(stores.deliveries, stores.aggregates, Keyring(b"t" * 32))
    await writer.store(statement("completed"))
    await worker.drain()
    async with strict.session() as session:
        assert await strict.run_once(session) == 2
    [dead] = await stores.deliveries.dead_letters(10)
    assert dead.last_error is not None and dead.last_error.startswith("target refused")


async def test_a_redirect_is_not_followed(
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    aiohttp_server: Callable[..., Any],
) -> None:
    """A receiver answering 307 to elsewhere (a metadata address, say) is a failed attempt."""
    followed: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/h", redirect)
    app.router.add_post("/elsewhere", elsewhere)
    server = await aiohttp_server(app, host="127.0.0.1")
    hooks = WebhookService(
        stores.deliveries, stores.aggregates, Keyring(b"t" * 32), targets=INTERNAL
    )
    await hooks.subscribe(str(server.make_url("/h")))
    await writer.store(statement("completed"))
    await worker.drain()
    async with hooks.session() as session:
        assert await hooks.run_once(session) == 2
    assert followed == []
    [pending] = await stores.deliveries.claim_deliveries("t", 2**62, 1, 10)
    assert pending.last_error == "HTTP 307"
