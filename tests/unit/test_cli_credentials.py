"""The `lrs credentials` commands through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrs.cli import main


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
