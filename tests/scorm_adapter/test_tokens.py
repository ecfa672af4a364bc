"""Commit-URL tokens: signed, expiring, verified in constant time; the key outside the database."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lrs.errors import ConfigError
from scorm_adapter.settings import ScormSettings
from scorm_adapter.tokens import (
    CommitClaims,
    TokenExpired,
    TokenInvalid,
    TokenSigner,
    load_signing_key,
)

KEY = b"k" * 32
CLAIMS = CommitClaims("attempt-1", "session-1", 2_000_000_000)


def test_round_trip() -> None:
    signer = TokenSigner(KEY)
    assert signer.verify(signer.sign(CLAIMS), now=1_900_000_000) == CLAIMS


def test_expired() -> None:
    signer = TokenSigner(KEY)
    with pytest.raises(TokenExpired) as error:
        signer.verify(signer.sign(CLAIMS), now=2_000_000_000)
    assert error.value.status == 401


@pytest.mark.parametrize("mutate", ["payload", "signature", "other key", "no dot", "junk"])
def test_forged(mutate: str) -> None:
    token = TokenSigner(KEY).sign(CLAIMS)
    payload, signature = token.split(".")
    forged = {
        "payload": TokenSigner(KEY)
        .sign(CommitClaims("attempt-2", "session-1", 2_000_000_000))
        .split(".")[0]
        + "."
        + signature,
        "signature": payload + "." + signature[::-1],
        "other key": TokenSigner(b"x" * 32).sign(CLAIMS),
        "no dot": payload,
        "junk": "%%%.***",
    }[mutate]
    with pytest.raises(TokenInvalid) as error:
        TokenSigner(KEY).verify(forged, now=0)
    assert error.value.status == 403


@pytest.mark.parametrize("token", ["\u00e9.AAAA", "\u00e9", "AAAA.\u00e9", "e30.\u200b"])
def test_non_ascii_tokens_are_malformed(token: str) -> None:
    with pytest.raises(TokenInvalid) as error:
        TokenSigner(KEY).verify(token, now=1_900_000_000)
    assert error.value.status == 403


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner(b"short")


def test_key_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "scorm-signing.key"
    first = load_signing_key(None, path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(None, path) == first
    assert [p.name for p in path.parent.iterdir()] == ["scorm-signing.key"]


def test_configured_key_wins_and_no_file_is_made(tmp_path: Path) -> None:
    path = tmp_path / "scorm-signing.key"
    assert load_signing_key("s" * 40, path) == b"s" * 40
    assert not path.exists()


def test_settings_from_env(tmp_path: Path) -> None:
    settings = ScormSettings.from_env(
        {"LRS_SCORM_TOKEN_TTL": "60", "LRS_SCORM_KEY_FILE": str(tmp_path / "k")}
    )
    assert settings.token_ttl_s == 60
    assert settings.key_path(Path("/elsewhere")) == tmp_path / "k"
    assert ScormSettings.from_env({}).key_path(tmp_path) == tmp_path / "scorm-signing.key"
    with pytest.raises(ConfigError):
        ScormSettings.from_env({"LRS_SCORM_SIGNING_KEY": "short"})
    with pytest.raises(ConfigError):
        ScormSettings.from_env({"LRS_SCORM_TOKEN_TTL": "soon"})


def test_a_world_readable_key_file_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "scorm-signing.key"
    load_signing_key(None, path)
    os.chmod(path, 0o644)
    load_signing_key(None, path)
    assert "readable by other users" in caplog.text
