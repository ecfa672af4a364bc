"""The CredentialStore contract, asserted on every backend (see conftest.py)."""

from __future__ import annotations

import pytest

from lrs.errors import LRSError
from lrs.model.credentials import Credential
from lrs.store.base import Backend


def credential(key: str, created_at: str = "2024-01-01T00:00:00Z", **changes: object) -> Credential:
    fields: dict[str, object] = {
        "key": key,
        "name": f"client {key}",
        "scopes": ("statements/write", "statements/read/mine"),
        "secret_hash": f"pbkdf2_sha256$600000$salt${key}",
        "created_at": created_at,
    }
    fields.update(changes)
    return Credential(**fields)  # type: ignore[arg-type]


async def test_add_then_get(backend: Backend) -> None:
    store = backend.credentials
    cred = credential("k1", scopes=("all/read", "statements/write", "define"))
    await store.add_credential(cred)
    assert await store.get_credential("k1") == cred
    assert await store.get_credential("k2") is None


async def test_a_credential_may_be_added_revoked(backend: Backend) -> None:
    store = backend.credentials
    cred = credential("k1", revoked=True, scopes=())
    await store.add_credential(cred)
    assert await store.get_credential("k1") == cred


async def test_list_is_oldest_first_then_by_key(backend: Backend) -> None:
    store = backend.credentials
    assert await store.list_credentials() == []
    added = [
        credential("b", "2024-03-01T00:00:00Z"),
        credential("c", "2024-01-01T00:00:00Z"),
        credential("a", "2024-03-01T00:00:00Z"),
        credential("d", "2024-02-01T00:00:00Z"),
    ]
    for cred in added:
        await store.add_credential(cred)
    listed = await store.list_credentials()
    assert [c.key for c in listed] == ["c", "d", "a", "b"]
    assert sorted(listed, key=lambda c: c.key) == sorted(added, key=lambda c: c.key)


async def test_revoke(backend: Backend) -> None:
    store = backend.credentials
    await store.add_credential(credential("k1"))
    await store.add_credential(credential("k2"))
    assert await store.revoke_credential("k1") is True
    assert await store.revoke_credential("k1") is True  # still a known key
    assert await store.revoke_credential("nope") is False
    got = await store.get_credential("k1")
    assert got is not None and got.revoked is True
    assert {c.key: c.revoked for c in await store.list_credentials()} == {"k1": True, "k2": False}


async def test_a_key_is_added_once(backend: Backend) -> None:
    store = backend.credentials
    first = credential("k1")
    await store.add_credential(first)
    with pytest.raises(LRSError):
        await store.add_credential(credential("k1", name="impostor", secret_hash="other"))
    assert await store.get_credential("k1") == first
    assert await store.list_credentials() == [first]
