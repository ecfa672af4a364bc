"""`lrs hris sources` through the CLI entry point, on a SQLite data dir; the secret it prints
signs events the server accepts, and is found nowhere in the data directory or the audit log."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.cli import main
from lrs.settings import Settings
from lrs.store.sqlite import SQLiteBackend
from projections.hris_errors import BadSignature
from projections.service import open_projection
from projections.settings import ProjectionSettings
from projections.webhook_verify import sign
from tests.projections.hris_support import event


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.delenv("LRS_MARKETPLACE_MASTER_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    assert main([*argv, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def receive(data_dir: Path, source: str, secret: str, payload: Any) -> dict[str, Any]:
    """Hand a signed body to the server's HRIS service, as POST /hris/v1/events does."""

    async def go() -> dict[str, Any]:
        backend = SQLiteBackend(data_dir)
        try:
            projection = await open_projection(
                backend, Settings(data_dir=data_dir), ProjectionSettings()
            )
            body = orjson.dumps(payload)
            header = sign(secret, int(time.time()), body)
            return (await projection.hris.receive(source, header, body)).to_json()
        finally:
            await backend.close()

    return asyncio.run(go())


def files_holding(data_dir: Path, text: str) -> list[str]:
    return [p.name for p in data_dir.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_create_list_rotate_revoke(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    created = run(capsys, "hris", "sources", "create", "workday")
    assert created["name"] == "workday" and created["secret"].startswith("hrsec_")
    hire = event("e1", "hire", "2026-03-01", email="ada@example.com")
    assert receive(data_dir, "workday", created["secret"], hire)["status"] == "applied"
    listed = run(capsys, "hris", "sources", "list")
    assert [(s["name"], s["state"]) for s in listed] == [("workday", "active")]
    assert "secret" not in listed[0]
    rotated = run(capsys, "hris", "sources", "rotate", "workday")
    assert rotated["secret"] != created["secret"] and rotated["rotated_at"]
    change = event("e2", "change", "2026-04-01", name="Ada")
    with pytest.raises(BadSignature, match="does not match"):
        receive(data_dir, "workday", created["secret"], change)
    assert receive(data_dir, "workday", rotated["secret"], change)["status"] == "applied"
    revoked = run(capsys, "hris", "sources", "revoke", "workday")
    assert revoked["state"] == "revoked"
    for secret in (created["secret"], rotated["secret"]):
        assert files_holding(data_dir, secret) == []
    audit = run(capsys, "audit", "--type", "hris.source.created")
    assert [a["subject"] for a in audit] == ["workday"]
    every = json.dumps(run(capsys, "audit", "--limit", "100"))
    assert "hris.source.rotated" in every and "hris.source.revoked" in every
    assert created["secret"] not in every and rotated["secret"] not in every


def test_mistakes_exit_1_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "hris", "sources", "create", "workday")
    assert run(capsys, "hris", "sources", "create", "workday", code=1)["error"] == "source_exists"
    assert run(capsys, "hris", "sources", "rotate", "nope", code=1)["error"] == "source_not_found"
    assert run(capsys, "hris", "sources", "revoke", "nope", code=1)["error"] == "source_not_found"
    bad = run(capsys, "hris", "sources", "create", "no spaces", code=1)
    assert bad["error"] == "invalid_source_name"
    assert main(["hris", "sources", "create", "adp"]) == 0
    out = capsys.readouterr().out
    assert "secret: hrsec_" in out and "shown only now" in out
    assert main(["hris", "sources", "list"]) == 0
    assert "adp" in capsys.readouterr().out
