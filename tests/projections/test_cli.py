"""The projection's `lrs` subcommands through the CLI entry point, on a SQLite data dir."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from lrs.services.statements import StatementService
from lrs.store.sqlite import SQLiteBackend
from projections.store import open_stores
from projections.store.oauth import RefreshToken
from tests.projections.conftest import (
    AUTHORITY,
    HRIS,
    hris_actor,
    hris_knows,
    mbox_actor,
    statement,
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    asyncio.run(_hris_knows(tmp_path))
    return tmp_path


async def _hris_knows(data_dir: Path) -> None:
    backend = SQLiteBackend(data_dir)
    try:
        await hris_knows(await open_stores(backend))
    finally:
        await backend.close()


def store(data_dir: Path, *statements: dict[str, Any]) -> None:
    async def run() -> None:
        backend = SQLiteBackend(data_dir)
        try:
            service = StatementService(backend.statements, backend.attachments, backend.activities)
            await service.store_statements(list(statements), authority=AUTHORITY, version="1.0.3")
        finally:
            await backend.close()

    asyncio.run(run())


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_worker_identities_and_reconcile(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(
        data_dir,
        statement("completed", actor=hris_actor("E1")),
        statement("passed", actor=mbox_actor("Grace+lms@Example.com")),
    )
    assert main(["worker", "--once"]) == 0
    assert "applied 2 statements" in capsys.readouterr().out
    report = run_json(capsys, "reconcile")
    assert report["drift"] == 0 and report["unmatched_statements"] == 1

    identities = data_dir / "hris.csv"
    identities.write_text(
        "employee_id,email,secondary_emails\nE2,grace@example.com,g.hopper@example.com\n"
    )
    loaded = run_json(capsys, "identities", "load", str(identities))  # `import --mode delta`
    assert (loaded["mode"], loaded["changes"], loaded["rejected"]) == ("delta", ["E2"], 0)
    assert loaded["statements_reprojected"] == 1 and loaded["statements_unmatched"] == 0
    assert run_json(capsys, "reconcile")["expected_records"] == 2
    assert main(["reconcile", "--fix"]) == 0
    assert "drift 0 (0.0%)" in capsys.readouterr().out

    identities.write_text("employee_id,email\nE3,not-an-email\n")
    assert main(["identities", "load", str(identities)]) == 1  # the row rejected
    assert "rejected line 2: email: 'not-an-email' is not an email address" in (
        capsys.readouterr().err
    )


def test_export_with_checksum_gzip_and_progress(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(data_dir, *(statement("completed", actor=hris_actor(f"E{n}")) for n in range(5)))
    assert main(["worker", "--once"]) == 0
    capsys.readouterr()
    assert main(["export", "--format", "ndjson", "--output", "out.ndjson"]) == 0
    captured = capsys.readouterr()
    assert "5/5 records" in captured.err and "wrote 5 records" in captured.out
    # stderr is no terminal here: one summary line, not a bar redrawn a hundred times
    assert captured.err == "exported 5/5 records\n"
    content = (data_dir / "out.ndjson").read_bytes()
    assert len(content.splitlines()) == 5
    digest, name = (data_dir / "out.ndjson.sha256").read_text().split()
    assert digest == hashlib.sha256(content).hexdigest() and name == "out.ndjson"

    assert main(["export", "--format", "ndjson", "--gzip", "--quiet", "--output", "out.gz"]) == 0
    compressed = (data_dir / "out.gz").read_bytes()
    assert gzip.decompress(compressed) == content
    assert (data_dir / "out.gz.sha256").read_text().split()[0] == (
        hashlib.sha256(compressed).hexdigest()
    )
    assert main(["export", "--format", "csv", "--quiet"]) == 0
    rows = (data_dir / "marketplace-records.csv").read_text().splitlines()
    assert rows[0].startswith("member_id,") and len(rows) == 6

    future = "2999-01-01T00:00:00Z"
    assert main(["export", "--since", future, "--quiet", "--output", "none.ndjson"]) == 0
    assert (data_dir / "none.ndjson").read_bytes() == b""
    assert main(["export", "--since", "whenever"]) == 2


def test_marketplace_clients_keys_and_audit(capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        capsys, "marketplace", "clients", "create", "--name", "m", "--scopes", "read:profile admin"
    )
    assert created["scopes"] == ["read:profile", "admin"] and len(created["client_secret"]) > 30
    [listed] = run_json(capsys, "marketplace", "clients", "list")
    assert listed["client_id"] == created["client_id"] and "client_secret" not in listed
    assert listed["rate_limit_per_min"] is None  # the global limit
    limited = ["marketplace", "clients", "create", "--name", "l", "--scopes", "admin"]
    assert main([*limited, "--rate-limit", "20"]) == 0
    capsys.readouterr()
    listing = run_json(capsys, "marketplace", "clients", "list")
    # clients made in the same second list in either order
    assert {c["name"]: c["rate_limit_per_min"] for c in listing} == {"m": None, "l": 20}
    assert main(["marketplace", "clients", "list"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert sorted("20/min" in line and "default" not in line for line in text) == [False, True]
    assert sum("600/min (default)" in line for line in text) == 1
    assert main(["marketplace", "keys", "rotate"]) == 0
    capsys.readouterr()
    [key] = run_json(capsys, "marketplace", "keys", "list")
    assert main(["marketplace", "keys", "retire", key["kid"]]) == 0
    assert main(["marketplace", "clients", "revoke", created["client_id"]]) == 0
    assert main(["marketplace", "clients", "revoke", "nobody"]) == 1
    capsys.readouterr()
    audit = run_json(capsys, "marketplace", "audit")
    assert [e["type"] for e in audit] == [
        "client.revoked",
        "key.retired",
        "key.rotated",
        "client.created",
        "client.created",
    ]
    assert created["client_secret"] not in json.dumps(audit)
    assert main(["marketplace", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["statements_awaiting_projection"] == 0
    assert main(["marketplace", "clients", "create", "--name", "x", "--scopes", "all"]) == 2


def test_webhook_commands(capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        capsys, "webhooks", "subscribe", "--url", "https://m.example/h", "--event", "badge.awarded"
    )
    assert created["secret"].startswith("whsec_")
    [listed] = run_json(capsys, "webhooks", "list")
    assert listed["event_types"] == ["badge.awarded"] and "secret" not in listed
    assert run_json(capsys, "webhooks", "dead-letters") == []
    assert main(["webhooks", "redeliver"]) == 2
    assert main(["webhooks", "redeliver", "--all"]) == 0
    assert "0 dead letters" in capsys.readouterr().out
    assert main(["webhooks", "delete", created["id"]]) == 0
    assert main(["webhooks", "delete", created["id"]]) == 1


def test_serve_announces_nothing_before_a_fatal_mapping_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = data_dir / "mapping.csv"
    shipped = Path(__file__).resolve().parents[2] / "spec" / "marketplace-mapping.csv"
    bad.write_text(shipped.read_text().replace("bool_from_verb", "bool_from_vibes"))
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(bad))
    assert main(["serve", "--port", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "bool_from_vibes" in captured.err


def test_a_bad_mapping_stops_the_command_naming_the_row(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = data_dir / "mapping.csv"
    shipped = Path(__file__).resolve().parents[2] / "spec" / "marketplace-mapping.csv"
    bad.write_text(shipped.read_text().replace("bool_from_verb", "bool_from_vibes"))
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(bad))
    assert main(["reconcile"]) == 2
    err = capsys.readouterr().err
    assert "mapping.csv row 11" in err and "bool_from_vibes" in err


@pytest.mark.parametrize(
    "command",
    [
        ["worker"],
        ["identities", "load"],
        ["identities", "import"],
        ["identities", "conflicts"],
        ["identities", "resolve"],
        ["identities", "link"],
        ["identities", "unmatched"],
        ["reconcile"],
        ["export"],
        ["marketplace", "clients"],
        ["webhooks", "subscribe"],
        ["webhooks", "replay"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: lrs" in capsys.readouterr().out


def test_rotating_a_client_secret(capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        capsys, "marketplace", "clients", "create", "--name", "m", "--scopes", "read:profile"
    )
    client_id = created["client_id"]
    rotated = run_json(capsys, "marketplace", "clients", "rotate-secret", client_id)
    assert rotated["client_id"] == client_id
    assert rotated["client_secret"] not in (created["client_secret"], "")
    assert rotated["previous_secret_valid_until"].endswith("Z")  # 24 hours by default
    assert main(["marketplace", "clients", "rotate-secret", client_id, "--grace", "0"]) == 0
    out = capsys.readouterr().out
    assert "client_secret:" in out and "the previous secret no longer works" in out
    assert main(["marketplace", "clients", "rotate-secret", "mkt_nobody"]) == 1
    with pytest.raises(SystemExit):
        main(["marketplace", "clients", "rotate-secret", client_id, "--grace", "soon"])
    capsys.readouterr()
    entries = run_json(capsys, "audit", "--type", "client.secret_rotated")
    assert [e["subject"] for e in entries] == [client_id, client_id]
    assert entries[0]["details"] == {"previous_secret_valid_until": None}
    assert rotated["client_secret"] not in json.dumps(entries)


def test_worker_once_forgets_expired_oauth_refresh_tokens(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed() -> None:
        backend = SQLiteBackend(data_dir)
        try:
            oauth = (await open_stores(backend)).oauth
            await oauth.add_refresh_token(RefreshToken("expired", "g1", 1, 2))
            await oauth.add_refresh_token(RefreshToken("live", "g1", 1, 2**62))
        finally:
            await backend.close()

    async def left() -> list[bool]:
        backend = SQLiteBackend(data_dir)
        try:
            oauth = (await open_stores(backend)).oauth
            return [await oauth.get_refresh_token(t) is not None for t in ("expired", "live")]
        finally:
            await backend.close()

    asyncio.run(seed())
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    assert "oauth: forgot 0 expired codes and 1 refresh tokens" in capsys.readouterr().out
    assert asyncio.run(left()) == [False, True]
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    assert "oauth:" not in capsys.readouterr().out  # nothing more to forget
