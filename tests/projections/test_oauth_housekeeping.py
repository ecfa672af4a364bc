"""OAuth housekeeping where it runs: `lrs serve` without a worker forgets expired refresh
tokens as it starts (the worker's hourly job is tested with the service, the CLI's --once with
the CLI); a failing pass is logged and does not stop the server from starting."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lrs.app import create_app
from lrs.config import Config
from lrs.settings import Settings
from lrs.store.base import Backend
from projections.oauth_housekeeping import OAuthHousekeeping
from projections.store import open_stores
from projections.store.oauth import Forgotten, RefreshToken

FUTURE = 4_000_000_000_000_000


async def test_the_server_forgets_expired_refresh_tokens_as_it_starts(
    aiohttp_client: Callable[..., Any], backend: Backend, tmp_path: Path
) -> None:
    oauth = (await open_stores(backend)).oauth
    await oauth.add_refresh_token(RefreshToken("expired", "g1", 1, 2))
    await oauth.add_refresh_token(RefreshToken("live", "g1", 1, FUTURE))
    settings = Settings(data_dir=tmp_path)
    assert not settings.with_worker
    client = await aiohttp_client(create_app(Config(core=settings), backend=backend))
    assert (await client.get("/xapi/about")).status == 200
    assert await oauth.get_refresh_token("expired") is None
    assert await oauth.get_refresh_token("live") is not None


class Failing:
    async def forget_expired(self) -> Forgotten:
        raise RuntimeError("store down")


async def test_a_failed_pass_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    job = OAuthHousekeeping(Failing(), lambda: 0)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="projections.oauth_housekeeping"):
        await job.run_once()
    assert "OAuth housekeeping failed" in caplog.text
