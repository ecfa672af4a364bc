"""API test fixtures: the whole app over HTTP, on every backend, with ready credentials."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from lrs.app import create_app
from lrs.auth import create_credential
from lrs.config import Config
from lrs.settings import Settings
from lrs.store.base import Backend

V1 = {"X-Experience-API-Version": "1.0.3"}
V2 = {"X-Experience-API-Version": "2.0.0"}


def basic(key: str, secret: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@dataclass
class LRSClient:
    """A test client plus the Authorization header of a credential with scope `all`."""

    http: TestClient
    auth: str
    backend: Backend

    def headers(self, version: str = "1.0.3", **extra: str) -> dict[str, str]:
        """Headers for an authenticated xAPI request."""
        return {"Authorization": self.auth, "X-Experience-API-Version": version, **extra}

    async def credential(self, *scopes: str) -> str:
        """The Authorization header of a new credential with these scopes."""
        new = await create_credential(self.backend.credentials, "test", list(scopes))
        return basic(new.credential.key, new.secret)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test app on a temporary data directory."""
    return Settings(data_dir=tmp_path, statement_page_size=10)


@pytest.fixture
async def lrs(
    aiohttp_client: Callable, backend: Backend, settings: Settings
) -> AsyncIterator[LRSClient]:
    """The app over HTTP with a credential of scope `all`."""
    client = await aiohttp_client(create_app(Config(core=settings), backend=backend))
    new = await create_credential(backend.credentials, "suite", ["all"])
    yield LRSClient(http=client, auth=basic(new.credential.key, new.secret), backend=backend)
