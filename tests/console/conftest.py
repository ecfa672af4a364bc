"""The whole app over HTTP with the console, operators made through the accounts service, and a
browser-like login (form token, CSRF token read from the page)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from console.accounts import Accounts
from console.keys import accounts_key, sessions_key
from console.store.base import SessionStore
from lrs.keys import console_app_key
from lrs.store.base import Backend
from tests.console.browser import Server, new_browser

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


@dataclass
class Console:
    """A test client of the whole app, and helpers to make operators and sign in."""

    http: TestClient
    backend: Backend

    @property
    def backend_sessions(self) -> SessionStore:
        """The session store the app opened."""
        return self.http.app[console_app_key][sessions_key].store

    @property
    def accounts(self) -> Accounts:
        """The accounts service the app wired."""
        return self.http.app[console_app_key][accounts_key]

    async def operator(self, name: str, role: str = "admin", password: str = PASSWORD) -> None:
        """An operator with a password, made as `lrs operators create` and the link would."""
        link = await self.accounts.create(name, role, actor="cli")
        await self.accounts.set_password(link.token, password)

    async def login(self, name: str, password: str = PASSWORD) -> Any:
        """Sign in through the login form; the response (303 on success)."""
        page = await (await self.http.get("/console/login")).text()
        return await self.http.post(
            "/console/login",
            data={"csrf_token": csrf_of(page), "name": name, "password": password},
            allow_redirects=False,
        )

    async def page(self, path: str) -> tuple[int, str]:
        """(status, HTML) of a GET, redirects not followed."""
        response = await self.http.get(path, allow_redirects=False)
        return response.status, await response.text()

    async def post_form(self, path: str, data: dict[str, Any], *, from_page: str) -> Any:
        """POST a form with the CSRF token of `from_page`, as a browser would."""
        _, page = await self.page(from_page)
        return await self.http.post(
            path, data={"csrf_token": csrf_of(page), **data}, allow_redirects=False
        )


@pytest.fixture
async def console(aiohttp_client: Callable[..., Any], backend: Backend, tmp_path: Path) -> Console:
    """The whole app over HTTP on the test backend."""
    from lrs.app import create_app
    from lrs.config import Config
    from lrs.settings import Settings

    app = create_app(Config(core=Settings(data_dir=tmp_path)), backend=backend)
    return Console(http=await aiohttp_client(app), backend=backend)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`lrs serve` on a fresh data directory, for a browser test module."""
    running = Server(tmp_path_factory.mktemp("console-data"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for a browser test module (starting one per test costs seconds)."""
    driver = new_browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a browser test writes its 1366x768 screenshots: `LRS_CONSOLE_SCREENSHOTS` when set
    (to refresh docs/console/ by hand), else a temporary directory."""
    chosen = os.environ.get("LRS_CONSOLE_SCREENSHOTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("screens")
