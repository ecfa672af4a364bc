"""The audit log: its chain rules, two processes appending to one SQLite file, and `lrs audit`
(listing, `verify`, the `marketplace audit` alias) through the CLI, on SQLite and, through the
command's job, on every backend."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.store.engine.sqlite import SQLiteDatabase
from projections.audit import GENESIS, AuditLog, chain_bytes, entry_hash, seal
from projections.cli_audit import audit_verify
from projections.service import open_projection
from projections.store.audit import AuditRecord
from tests.projections.conftest import HRIS, projection_settings

ROOT = Path(__file__).resolve().parents[2]


# --- the chain's rules ----------------------------------------------------------------------


def test_the_hash_covers_every_field_but_itself() -> None:
    base = seal(AuditRecord(0, 10, "t", "a", "s", {"k": [1, 2]}, None, {"x": 1}), None)
    assert (base.seq, base.prev_hash) == (1, GENESIS)
    assert chain_bytes(base) == (
        b'{"actor":"a","after":{"x":1},"at_us":10,"before":null,"details":{"k":[1,2]},'
        b'"prev_hash":"' + GENESIS.encode() + b'","seq":1,"subject":"s","type":"t"}'
    )
    for change in (
        {"seq": 2},
        {"at_us": 11},
        {"type": "u"},
        {"actor": "b"},
        {"subject": "z"},
        {"details": {"k": [2, 1]}},
        {"before": {}},
        {"after": None},
        {"prev_hash": "1" * 64},
    ):
        assert entry_hash(AuditRecord(**{**base.__dict__, **change})) != base.hash, change
    assert seal(base, base).prev_hash == base.hash and seal(base, base).seq == 2


async def test_append_keeps_json_values_and_needs_a_type(tmp_path: Path) -> None:
    from lrs.store.sqlite import SQLiteBackend
    from projections.store import open_stores

    backend = SQLiteBackend(tmp_path)
    try:
        audit = AuditLog((await open_stores(backend)).audit, clock=lambda: 1.5)
        entry = await audit.append("t", actor="a", subject="s", details={"ids": ("E1", "E2")})
        assert entry.details == {"ids": ["E1", "E2"]} and entry.at_us == 1_500_000
        assert (await audit.entries())[0] == entry
        with pytest.raises(ValueError):
            await audit.append("", actor="a", subject="s")
        with pytest.raises(ValueError):
            await audit.append("t", actor=None, subject="s")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await audit.append("t", actor="a", subject="s", details={"at": {1, 2}})
        assert [e.seq for e in await audit.entries()] == [1]
    finally:
        await backend.close()


async def test_appends_waiting_together_are_written_in_one_run(tmp_path: Path) -> None:
    from lrs.store.sqlite import SQLiteBackend
    from projections.store import open_stores

    backend = SQLiteBackend(tmp_path)
    try:
        store = (await open_stores(backend)).audit
        runs: list[int] = []
        real_insert_run = store.insert_run

        async def counted(records: Any) -> int:
            runs.append(len(records))
            return await real_insert_run(records)

        store.insert_run = counted  # type: ignore[method-assign]
        audit = AuditLog(store)
        placed = await asyncio.gather(
            *(audit.append("t", actor="a", subject=str(n)) for n in range(20))
        )
        assert [e.subject for e in placed] == [str(n) for n in range(20)]  # in call order
        assert [e.seq for e in placed] == list(range(1, 21))
        assert runs == [20]  # one head read and one write for all that waited together
        assert (await audit.verify()).intact
    finally:
        await backend.close()


async def test_a_failed_run_fails_every_append_in_it(tmp_path: Path) -> None:
    from lrs.errors import StoreUnavailable
    from lrs.store.sqlite import SQLiteBackend
    from projections.store import open_stores

    backend = SQLiteBackend(tmp_path)
    try:
        store = (await open_stores(backend)).audit
        real_insert_run = store.insert_run

        async def failing(records: Any) -> int:
            raise StoreUnavailable("disk gone")

        store.insert_run = failing  # type: ignore[method-assign]
        audit = AuditLog(store)
        outcomes = await asyncio.gather(
            *(audit.append("t", actor="a", subject=str(n)) for n in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(o, StoreUnavailable) for o in outcomes)
        store.insert_run = real_insert_run  # type: ignore[method-assign]
        entry = await audit.append("t", actor="a", subject="after")
        assert entry.seq == 1 and (await audit.verify()).intact  # nothing half-written
    finally:
        await backend.close()


# --- two processes on one SQLite file -------------------------------------------------------

WRITER = """
import asyncio, sys
from pathlib import Path
from lrs.store.sqlite import SQLiteBackend
from projections.audit import AuditLog
from projections.store import open_stores

async def main(data_dir, name, count):
    backend = SQLiteBackend(Path(data_dir))
    try:
        audit = AuditLog((await open_stores(backend)).audit)
        print("ready", flush=True)
        sys.stdin.readline()  # every writer starts at once
        for n in range(count):
            await audit.append("race", actor=name, subject=str(n))
    finally:
        await backend.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_two_processes_append_to_one_chain(tmp_path: Path) -> None:
    # The two open the store one after the other (a fresh file's first open switches it to
    # WAL, which SQLite does not wait for), then append at the same time.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers: list[subprocess.Popen[str]] = []
    try:
        for name in ("p1", "p2"):
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(tmp_path), name, "40"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            writers.append(writer)
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.close()
        for writer in writers:
            assert writer.wait(timeout=120) == 0
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            if writer.stdout is not None:
                writer.stdout.close()
    with sqlite3.connect(tmp_path / "lrs.sqlite3") as conn:
        rows = conn.execute("SELECT seq, actor, subject FROM audit_log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(1, 81))
    for name in ("p1", "p2"):
        assert [int(s) for _seq, actor, s in rows if actor == name] == list(range(40))
    assert main(["audit", "verify"]) == 0


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def make_events(capsys: pytest.CaptureFixture[str]) -> str:
    """A client created and revoked, a key rotated: three audit entries. The client id."""
    created = run_json(
        capsys, "marketplace", "clients", "create", "--name", "m", "--scopes", "admin"
    )
    assert main(["marketplace", "keys", "rotate"]) == 0
    assert main(["marketplace", "clients", "revoke", created["client_id"]]) == 0
    capsys.readouterr()
    return str(created["client_id"])


def test_lrs_audit_lists_with_iso_times_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    client_id = make_events(capsys)
    entries = run_json(capsys, "audit")
    assert [e["type"] for e in entries] == ["client.revoked", "key.rotated", "client.created"]
    assert [e["seq"] for e in entries] == [3, 2, 1]
    assert entries[0]["subject"] == client_id and entries[2]["details"] == {"scopes": ["admin"]}
    assert entries[0]["at"].endswith("Z") and entries[0]["at"][:2] == "20"
    assert entries[0]["prev_hash"] == entries[1]["hash"]
    assert [e["type"] for e in run_json(capsys, "audit", "--type", "key.rotated")] == [
        "key.rotated"
    ]
    assert len(run_json(capsys, "audit", "--limit", "2")) == 2
    assert run_json(capsys, "audit", "--since", "2999-01-01T00:00:00Z") == []
    assert len(run_json(capsys, "audit", "--since", entries[1]["at"])) == 2
    assert main(["audit"]) == 0
    text = capsys.readouterr().out
    assert "client.revoked" in text and entries[0]["at"] in text
    assert str(entries[0]["at"]).startswith(text.split()[1][:4])  # no epoch numbers
    assert main(["marketplace", "audit", "--json"]) == 0  # the earlier name still works
    alias = capsys.readouterr()
    assert json.loads(alias.out) == entries and "now `lrs audit`" in alias.err


def test_bad_audit_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["audit", "--since", "yesterday"],
        ["audit", "--limit", "0"],
        ["audit", "verify", "--expect-head", "3"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "ISO 8601" in capsys.readouterr().err


def tamper(data_dir: Path, sql: str) -> None:
    """Edit the log behind the LRS's back, as someone with the database file could."""
    with sqlite3.connect(data_dir / "lrs.sqlite3") as conn:
        conn.executescript(sql)


SWAP_1_2 = """
UPDATE audit_log SET seq = -1 WHERE seq = 1;
UPDATE audit_log SET seq = 1 WHERE seq = 2;
UPDATE audit_log SET seq = 2 WHERE seq = -1;
"""


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", "entry 2:"),
        ("DELETE FROM audit_log WHERE seq = 2", "entry 2:"),
        (SWAP_1_2, "entry 1:"),
    ],
    ids=["changed", "deleted", "swapped"],
)
def test_lrs_audit_verify_names_the_tampered_entry(
    data_dir: Path, capsys: pytest.CaptureFixture[str], sql: str, named: str
) -> None:
    make_events(capsys)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "intact: 3 entries" in out
    head = out.split("head ")[1].split()[0]
    assert main(["audit", "verify", "--expect-head", head]) == 0
    tamper(data_dir, sql)
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"broken at {named}" in err
    assert main(["audit", "verify", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["intact"] is False and body["first_broken"]["seq"] == int(named[6])


def test_lrs_audit_verify_catches_a_cut_off_head(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_events(capsys)
    report = run_json(capsys, "audit", "verify")
    head = f"{report['head']['seq']}:{report['head']['hash']}"
    tamper(data_dir, "DELETE FROM audit_log WHERE seq = 3")
    assert main(["audit", "verify"]) == 0  # the chain alone cannot see its end cut off
    assert main(["audit", "verify", "--expect-head", head]) == 1
    assert "cut off" in capsys.readouterr().err


def test_the_legacy_log_is_kept_readable(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data dir written by an earlier version: its unchained lines move into the chain."""
    assert main(["audit"]) == 0  # creates the database
    capsys.readouterr()
    with sqlite3.connect(data_dir / "lrs.sqlite3") as conn:
        conn.execute(
            "CREATE TABLE marketplace_audit (seq INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, "
            "action TEXT NOT NULL, actor TEXT NOT NULL, subject TEXT NOT NULL, "
            "details TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO marketplace_audit (at_us, action, actor, subject, details) "
            "VALUES (1700000000000000, 'client.created', 'cli', 'mkt_old', '{\"scopes\":[]}')"
        )
    [entry] = run_json(capsys, "audit")
    assert (entry["type"], entry["subject"]) == ("client.created", "mkt_old")
    assert entry["at"] == "2023-11-14T22:13:20.000000Z"
    with sqlite3.connect(data_dir / "lrs.sqlite3") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "marketplace_audit" not in tables
    assert main(["audit", "verify"]) == 0


# --- `lrs audit verify`'s job on every backend ---------------------------------------------


async def test_verify_command_on_every_backend(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    projection = await open_projection(backend, Settings(data_dir=tmp_path), projection_settings())
    for n in range(3):
        await projection.audit.append("identity.merged", actor="ops", subject=f"E{n}")
    args = argparse.Namespace(expect_head=None, json=False)
    assert await audit_verify(projection, args) == 0
    engine = backend.engine
    if isinstance(engine, SQLiteDatabase):
        await engine.write(lambda c: c.execute("UPDATE audit_log SET type = 'x' WHERE seq = 2"))
    else:
        await engine["audit_log"].update_one({"_id": 2}, {"$set": {"type": "x"}})
    assert await audit_verify(projection, args) == 1
    assert "broken at entry 2: its content does not match its hash" in capsys.readouterr().err
