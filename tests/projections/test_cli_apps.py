"""`lrs marketplace apps` and `lrs marketplace grants` through the CLI entry point (SQLite)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from lrs.store.sqlite import SQLiteBackend
from projections.store import open_stores
from projections.store.oauth import Grant


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def add_grant(data_dir: Path, grant: Grant) -> None:
    async def run() -> None:
        backend = SQLiteBackend(data_dir)
        try:
            await (await open_stores(backend)).oauth.add_grant(grant)
        finally:
            await backend.close()

    asyncio.run(run())


def test_apps_are_created_listed_and_revoked(capsys: pytest.CaptureFixture[str]) -> None:
    create = ["marketplace", "apps", "create", "--name", "Talent", "--scopes", "read:scores"]
    uris = ["--redirect-uri", "https://t.example/cb", "--redirect-uri", "http://127.0.0.1:9/cb"]
    confidential = run_json(capsys, *create, *uris)
    assert confidential["client_id"].startswith("app_") and len(confidential["client_secret"]) > 30
    assert confidential["redirect_uris"] == ["https://t.example/cb", "http://127.0.0.1:9/cb"]
    public = run_json(capsys, *create, "--redirect-uri", "https://t.example/cb", "--public")
    assert public["client_secret"] is None and public["public"]
    listed = run_json(capsys, "marketplace", "apps", "list")
    assert {a["client_id"] for a in listed} == {confidential["client_id"], public["client_id"]}
    assert all("client_secret" not in a and "secret_hash" not in a for a in listed)
    assert main(["marketplace", "apps", "revoke", public["client_id"]]) == 0
    assert main(["marketplace", "apps", "revoke", "app_nobody"]) == 1
    capsys.readouterr()
    states = {a["client_id"]: a["revoked"] for a in run_json(capsys, "marketplace", "apps", "list")}
    assert states == {confidential["client_id"]: False, public["client_id"]: True}


@pytest.mark.parametrize(
    "uri", ["http://t.example/cb", "https://*.t.example/cb", "https://t.example/cb#x"]
)
def test_a_bad_redirect_uri_is_refused(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["marketplace", "apps", "create", "--name", "x", "--scopes", "read:scores"]
    assert main([*argv, "--redirect-uri", uri]) == 2
    assert "redirect URI" in capsys.readouterr().err
    assert run_json(capsys, "marketplace", "apps", "list") == []


def test_grants_are_listed_and_revoked(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_grant(data_dir, Grant("grt_1", "app_1", "ada", ("read:scores",), 1_700_000_000_000_000))
    [listed] = run_json(capsys, "marketplace", "grants", "list")
    assert listed["grant_id"] == "grt_1" and listed["operator"] == "ada"
    assert listed["revoked_at"] is None
    assert main(["marketplace", "grants", "revoke", "grt_1"]) == 0
    assert main(["marketplace", "grants", "revoke", "grt_1"]) == 1  # no longer live
    capsys.readouterr()
    [after] = run_json(capsys, "marketplace", "grants", "list")
    assert after["revoked_reason"] == "operator" and after["revoked_at"]
    assert main(["marketplace", "grants", "list"]) == 0
    assert "revoked (operator)" in capsys.readouterr().out
    entries = run_json(capsys, "audit", "--type", "oauth.grant_revoked")
    assert "grt_1" in json.dumps(entries) and '"cli"' in json.dumps(entries)


def test_grants_are_listed_for_one_app(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n, app in enumerate(("app_1", "app_2", "app_1")):
        add_grant(data_dir, Grant(f"grt_{n}", app, "ada", ("read:scores",), 1_700_000_000 + n))
    listed = run_json(capsys, "marketplace", "grants", "list", "--app", "app_1")
    assert [g["grant_id"] for g in listed] == ["grt_2", "grt_0"]
    newest = run_json(capsys, "marketplace", "grants", "list", "--limit", "2")
    assert [g["grant_id"] for g in newest] == ["grt_2", "grt_1"]
    assert run_json(capsys, "marketplace", "grants", "list", "--app", "app_9") == []
