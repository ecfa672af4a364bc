"""`lrs operators ...` through the CLI entry point, and the printed link used in the console."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from tests.console.conftest import csrf_of

LINK = re.compile(r"(http://\S+/console/set-password\?token=(\S+))")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    return tmp_path


async def run(*argv: str) -> int:
    """The CLI in a thread (it runs its own event loop), as from a shell beside the server."""
    return await asyncio.to_thread(main, list(argv))


async def create(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that prints a link; the link's token."""
    assert await run(*argv) == 0
    found = LINK.search(capsys.readouterr().out)
    assert found
    return found.group(2)


async def set_password(client: Any, token: str, password: str) -> Any:
    page = await (await client.get(f"/console/set-password?token={token}")).text()
    form = {"csrf_token": csrf_of(page), "token": token, "password": password, "confirm": password}
    return await client.post("/console/set-password", data=form, allow_redirects=False)


async def log_in(client: Any, name: str, password: str) -> int:
    page = await (await client.get("/console/login")).text()
    form = {"csrf_token": csrf_of(page), "name": name, "password": password}
    return (await client.post("/console/login", data=form, allow_redirects=False)).status


async def test_create_then_set_the_password_once_and_sign_in(
    capsys: pytest.CaptureFixture[str], data_dir: Path, aiohttp_client: Callable[..., Any]
) -> None:
    from lrs.app import create_app
    from lrs.config import Config
    from lrs.settings import Settings

    token = await create(capsys, "operators", "create", "ada", "--role", "admin")
    assert token.encode() not in (data_dir / "lrs.sqlite3").read_bytes()  # only its hash
    assert await run("operators", "create", "ada", "--role", "viewer") == 2  # the name is taken
    assert "exists" in capsys.readouterr().err
    client = await aiohttp_client(create_app(Config(core=Settings(data_dir=data_dir))))
    short = await set_password(client, token, "short")
    assert short.status == 400 and "at least 12" in await short.text()
    assert (await set_password(client, token, "a long enough password")).status == 200
    again = await set_password(client, token, "another long password")
    assert again.status == 400 and "not valid" in await again.text()  # single use
    assert await log_in(client, "ada", "a long enough password") == 303
    assert await log_in(client, "ada", "another long password") == 401
    await client.close()


async def test_reset_clears_the_password_and_disable_refuses_logins(
    capsys: pytest.CaptureFixture[str], data_dir: Path, aiohttp_client: Callable[..., Any]
) -> None:
    from lrs.app import create_app
    from lrs.config import Config
    from lrs.settings import Settings

    first = await create(capsys, "operators", "create", "ada", "--role", "operator")
    client = await aiohttp_client(create_app(Config(core=Settings(data_dir=data_dir))))
    await set_password(client, first, "the first password")
    second = await create(capsys, "operators", "reset", "ada")
    assert await log_in(client, "ada", "the first password") == 401
    await set_password(client, second, "the second password")
    assert await log_in(client, "ada", "the second password") == 303
    assert await run("operators", "disable", "ada") == 0
    assert await log_in(client, "ada", "the second password") == 401
    assert await run("operators", "disable", "nobody") == 2
    await client.close()


async def test_list_shows_roles_and_states_never_a_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    await create(capsys, "operators", "create", "ada", "--role", "admin")
    await create(capsys, "operators", "create", "vic", "--role", "viewer")
    assert await run("operators", "disable", "vic") == 0
    capsys.readouterr()
    assert await run("operators", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["role"], r["disabled"], r["password_set"]) for r in rows] == [
        ("ada", "admin", False, False),
        ("vic", "viewer", True, False),
    ]
    assert all("hash" not in key for row in rows for key in row)
    assert await run("operators", "list") == 0
    assert "vic" in capsys.readouterr().out


def test_a_bad_name_or_role_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["operators", "create", "bad name", "--role", "admin"]) == 2
    assert "operator name" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["operators", "create", "ada", "--role", "root"])
