"""LTI test fixtures: the whole app over HTTP on every backend, acting as LTI tools."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lrs.app import create_app
from lrs.auth import create_credential
from lrs.config import Config
from lrs.keys import lti_app_key
from lrs.settings import Settings
from lrs.store.base import Backend
from lti.keys import lti_stores_key, vault_key
from lti.registry import NewConsumer, register_consumer, register_tool
from lti.scopes import AGS_SCOPES
from lti.settings import LTISettings
from lti.store.base import Tool
from lti.vault import b64url
from tests.lrs.http.conftest import basic

BASE = "https://lrs.example"
TOKEN_URL = BASE + "/lti/token"
_KEYS: list[rsa.RSAPrivateKey] = []


def rsa_key(n: int = 0) -> rsa.RSAPrivateKey:
    """The n-th test RSA key (made once per test session: key generation is slow)."""
    while len(_KEYS) <= n:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[n]


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The PEM of a key's public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class ToolClient:
    """A registered tool and the private key it signs with."""

    tool: Tool
    key: rsa.RSAPrivateKey
    kid: str | None = None

    def assertion(self, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A signed client assertion; `claims` override (None removes) the defaults."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.tool.client_id,
            "sub": self.tool.client_id,
            "aud": TOKEN_URL,
            "iat": now - 5,
            "exp": now + 60,
            "jti": f"lti-service-token-{uuid.uuid4()}",
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"kid": self.kid} if self.kid else {}
        head.update(headers or {})
        return jwt.encode(body, self.key, algorithm="RS256", headers=head)

    def form(self, assertion: str | None = None, scope: str | None = None) -> dict[str, str]:
        """A token request form."""
        fields = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion or self.assertion(),
            "scope": " ".join(AGS_SCOPES) if scope is None else scope,
        }
        return fields


@dataclass
class LTIHarness:
    """The app over HTTP, its backend, and helpers to act as tools and read statements."""

    http: TestClient
    backend: Backend
    xapi_auth: str
    tools: list[ToolClient] = field(default_factory=list)

    @property
    def app(self) -> Any:
        """The LTI sub-app, which holds the LTI services (and the core ones the root set)."""
        return self.http.server.app[lti_app_key]

    @property
    def stores(self) -> Any:
        return self.app[lti_stores_key]

    async def add_tool(
        self, *, key_index: int = 0, scopes: tuple[str, ...] = AGS_SCOPES, **kw: Any
    ) -> ToolClient:
        """Register a tool with a registered public key."""
        key = rsa_key(key_index)
        kw.setdefault("public_key", None if "jwks_url" in kw else public_pem(key))
        tool = await register_tool(
            self.stores.registrations, name=kw.pop("name", "Quiz tool"), scopes=scopes, **kw
        )
        return ToolClient(tool=tool, key=key)

    async def add_consumer(self, **kw: Any) -> NewConsumer:
        """Register an LTI 1.1 consumer."""
        return await register_consumer(
            self.stores.registrations,
            self.app[vault_key],
            name=kw.pop("name", "Legacy tool"),
            **kw,
        )

    async def token(self, client: ToolClient, scope: str | None = None) -> str:
        """An access token for the tool."""
        response = await self.http.post("/lti/token", data=client.form(scope=scope))
        assert response.status == 200, await response.text()
        return (await response.json())["access_token"]

    async def statements(self, **params: str) -> list[dict[str, Any]]:
        """Every statement GET /xapi/statements returns for these parameters."""
        response = await self.http.get(
            "/xapi/statements",
            params={"limit": "500", **params},
            headers={"Authorization": self.xapi_auth, "X-Experience-API-Version": "1.0.3"},
        )
        assert response.status == 200, await response.text()
        return (await response.json())["statements"]


@pytest.fixture
def lti_settings() -> LTISettings:
    """LTI settings for tests: a fresh master key, small pages."""
    return LTISettings(master_key=b64url(secrets.token_bytes(32)), page_size=50)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """LRS settings with a public base URL."""
    return Settings(data_dir=tmp_path, public_base_url=BASE)


@pytest.fixture
async def lti(
    aiohttp_client: Callable, backend: Backend, settings: Settings, lti_settings: LTISettings
) -> AsyncIterator[LTIHarness]:
    """The app over HTTP with the LTI adapter, and an xAPI credential of scope `all`."""
    app = create_app(Config(core=settings, lti=lti_settings), backend=backend)
    client = await aiohttp_client(app)
    new = await create_credential(backend.credentials, "reader", ["all"])
    yield LTIHarness(http=client, backend=backend, xapi_auth=basic(new.credential.key, new.secret))
