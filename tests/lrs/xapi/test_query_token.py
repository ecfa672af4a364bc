"""The signed `more` token (issue 15): round trip, and every field checked on the way back."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from lrs.app import QUERY_TOKEN_KEY_FILE, load_query_token_key
from lrs.errors import BadRequest, ConfigError
from lrs.settings import Settings
from lrs.xapi.query import StatementQuery
from lrs.xapi.query_token import _b64, _mac, checked_fields, decode_query, encode_query

KEY = b"k" * 32


def signed(data: object, key: bytes = KEY) -> str:
    """A token for any JSON, signed with `key` (what only a key holder can make)."""
    payload = orjson.dumps(data)
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def test_round_trip() -> None:
    query = StatementQuery(
        agent="mbox:mailto:a@example.com",
        registration="0e6f0a4c-5a0b-4a56-9b8c-2d1c0f5e9a11",
        since_us=-5,
        limit=3,
        format="ids",
        ascending=True,
        after="1700000000000000:42",
    )
    assert decode_query(encode_query(query, KEY), KEY) == query


def test_another_key_is_refused() -> None:
    token = encode_query(StatementQuery(limit=1), KEY)
    with pytest.raises(BadRequest):
        decode_query(token, b"o" * 32)


@pytest.mark.parametrize(
    "data",
    [
        {"agent": {"$regex": ".*"}},
        {"verb": ["x"]},
        {"limit": "1"},
        {"limit": True},
        {"limit": -1},
        {"limit": 2**64 - 1},
        {"ascending": 1},
        {"since_us": 1.5},
        {"format": "everything"},
        {"registration": "not-a-uuid"},
        {"after": {"$gt": ""}},
        {"after": "1:2; DROP"},
        {"unknown": 1},
        [1, 2],
        "text",
    ],
)
def test_a_signed_token_with_a_bad_field_is_400(data: object) -> None:
    with pytest.raises(BadRequest):
        decode_query(signed(data), KEY)
    with pytest.raises(BadRequest):
        checked_fields(data)


def test_key_file_is_created_once_0600_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_query_token_key(settings)
    assert load_query_token_key(settings) == first
    mode = stat.S_IMODE((tmp_path / QUERY_TOKEN_KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_configured_key_wins_and_must_be_long(tmp_path: Path) -> None:
    key = "s" * 40
    assert load_query_token_key(Settings(data_dir=tmp_path, query_token_key=key)) == key.encode()
    assert not (tmp_path / QUERY_TOKEN_KEY_FILE).exists()
    with pytest.raises(ConfigError):
        load_query_token_key(Settings(data_dir=tmp_path, query_token_key="short"))
    assert Settings.from_env({"LRS_QUERY_TOKEN_KEY": key}).query_token_key == key
    assert key not in repr(Settings(query_token_key=key))
