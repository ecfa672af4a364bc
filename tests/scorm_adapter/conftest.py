"""Fixtures of the SCORM endpoint tests: the whole app over HTTP, on every backend."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from lrs.app import create_app
from lrs.auth import create_credential
from lrs.config import Config
from lrs.settings import Settings
from lrs.store.base import Backend

COURSE = "https://lms.example.com/courses/CS204"
SCO = COURSE + "/lesson01"
LEARNER = {"account": {"homePage": "https://hr.example.com/", "name": "E-1001"}}


def basic(key: str, secret: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@dataclass
class ScormClient:
    """A test client, a credential with scope statements/write + statements/read, helpers."""

    http: TestClient
    auth: str
    backend: Backend
    data_dir: Path

    async def credential(self, *scopes: str) -> tuple[str, str]:
        """The Authorization header and key of a new credential with these scopes."""
        new = await create_credential(self.backend.credentials, "lms", list(scopes))
        return basic(new.credential.key, new.secret), new.credential.key

    async def open(self, expect: int = 201, **fields: Any) -> dict[str, Any]:
        """POST /scorm/v1/attempts; the JSON answer."""
        body = {"learner": LEARNER, "course": COURSE, "sco": SCO, "scormVersion": "1.2"}
        body.update(fields)
        response = await self.http.post(
            "/scorm/v1/attempts", json=body, headers={"Authorization": self.auth}
        )
        answer = await response.json()
        assert response.status == expect, answer
        return answer

    async def commit(
        self,
        url: str,
        data: Any,
        *,
        content_type: str = "application/json",
        expect: int = 200,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a commit (no Authorization header) to the commit URL; the JSON answer."""
        body = data if isinstance(data, str | bytes) else json.dumps(data)
        response = await self.http.post(
            urlsplit(url).path, data=body, headers={"Content-Type": content_type}, params=params
        )
        answer = await response.json()
        assert response.status == expect, answer
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        return answer

    async def statements(self, **params: str) -> list[dict[str, Any]]:
        """GET /xapi/statements with these parameters, every page."""
        headers = {"Authorization": self.auth, "X-Experience-API-Version": "1.0.3"}
        response = await self.http.get("/xapi/statements", params=params, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.json()
        found = list(page["statements"])
        while page.get("more"):
            response = await self.http.get(page["more"], headers=headers)
            page = await response.json()
            found.extend(page["statements"])
        return found

    async def document(self, path: str, **params: str) -> tuple[int, Any]:
        """GET an xAPI document resource; the status and the body (JSON when it is JSON)."""
        headers = {"Authorization": self.auth, "X-Experience-API-Version": "1.0.3"}
        response = await self.http.get(path, params=params, headers=headers)
        if response.status != 200:
            return response.status, None
        if response.content_type == "application/json":
            return 200, await response.json()
        return 200, await response.text()


@pytest.fixture
async def scorm(
    aiohttp_client: Callable, backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ScormClient]:
    """The app over HTTP on every backend, the signing key in a file of the data directory."""
    monkeypatch.delenv("LRS_SCORM_SIGNING_KEY", raising=False)
    monkeypatch.delenv("LRS_SCORM_KEY_FILE", raising=False)
    settings = Settings(data_dir=tmp_path, statement_page_size=50)
    client = await aiohttp_client(create_app(Config(core=settings), backend=backend))
    new = await create_credential(
        backend.credentials, "lms", ["statements/write", "statements/read", "state", "profile"]
    )
    yield ScormClient(client, basic(new.credential.key, new.secret), backend, tmp_path)
