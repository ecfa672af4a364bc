"""The `lrs credentials` commands (and how `lrs serve` sets up its process) through the CLI
entry point."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from lrs.cli import main
from lrs.gc_tuning import SERVING_GC_THRESHOLDS


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    return tmp_path


def test_create_list_revoke(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert (
        main(["credentials", "create", "--name", "lms", "--scopes", "statements/write", "--json"])
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["scopes"] == ["statements/write"]
    assert len(created["secret"]) >= 32
    # only a salted hash of the secret is stored
    assert created["secret"].encode() not in (data_dir / "lrs.sqlite3").read_bytes()
    assert main(["credentials", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["key"] == created["key"]
    assert "secret" not in listed and not listed["revoked"]
    assert main(["credentials", "revoke", created["key"]]) == 0
    capsys.readouterr()
    assert main(["credentials", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked"] is True


def test_unknown_scope_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credentials", "create", "--name", "x", "--scopes", "everything"]) == 2
    assert "unknown scope" in capsys.readouterr().err


def test_revoking_unknown_key_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credentials", "revoke", "nope"]) == 1


@pytest.mark.parametrize("command", [[], ["serve"], ["credentials"], ["credentials", "create"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: lrs" in capsys.readouterr().out


def test_serve_runs_the_app_at_the_serving_gc_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr("lrs.cli.run_server", lambda *_args, **_kw: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    try:
        assert main(["serve", "--port", "8999"]) == 0
    finally:
        gc.set_threshold(*before)
    assert seen == [SERVING_GC_THRESHOLDS] and before != SERVING_GC_THRESHOLDS
