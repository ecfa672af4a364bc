"""The LRS app over HTTP with the marketplace projection, for the API and end-to-end tests."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from lrs.auth import create_credential
from lrs.keys import marketplace_app_key
from lrs.store.base import Backend
from projections.keys import projection_key
from projections.service import Projection

TOKEN_PATH = "/marketplace/v1/oauth/token"


def basic(user: str, password: str) -> str:
    """An HTTP Basic Authorization value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Market:
    """A test client of the whole app, its projection, and helpers for credentials."""

    http: TestClient
    backend: Backend

    @property
    def projection(self) -> Projection:
        """The projection the app wired."""
        return self.http.app[marketplace_app_key][projection_key]

    async def client(self, *scopes: str, rate_limit: int | None = None) -> tuple[str, str]:
        """A new marketplace OAuth client: (id, secret)."""
        new = await self.projection.tokens.create_client(
            "test", list(scopes), rate_limit=rate_limit
        )
        return new.client.client_id, new.secret

    async def token(self, *scopes: str, rate_limit: int | None = None) -> str:
        """A bearer Authorization value for a new client with these scopes."""
        client_id, secret = await self.client(*scopes, rate_limit=rate_limit)
        response = await self.http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic(client_id, secret)},
        )
        assert response.status == 200, await response.text()
        return "Bearer " + (await response.json())["access_token"]

    async def xapi_auth(self) -> str:
        """A Basic Authorization value for an xAPI credential with scope `all`."""
        new = await create_credential(self.backend.credentials, "lms", ["all"])
        return basic(new.credential.key, new.secret)

    async def post_statements(self, statements: Any) -> list[str]:
        """POST statements through the xAPI API; their ids."""
        response = await self.http.post(
            "/xapi/statements",
            json=statements,
            headers={
                "Authorization": await self.xapi_auth(),
                "X-Experience-API-Version": "1.0.3",
            },
        )
        assert response.status == 200, await response.text()
        return await response.json()

    async def get(self, path: str, auth: str, **params: str) -> tuple[int, Any, Any]:
        """(status, JSON body, headers) of a GET."""
        response = await self.http.get(path, headers={"Authorization": auth}, params=params)
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, response.headers
