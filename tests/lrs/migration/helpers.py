"""Helpers for the migration tests: statements, export files, and the `lrs` command."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from lrs.services.factory import statement_service
from lrs.settings import Settings
from lrs.store.sqlite import SQLiteBackend
from tests.factories import make_statement

NAMESPACE = uuid.UUID("0f8b1f7e-7f3e-4f43-9a0e-9d7c2b6c1a55")
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def sid(n: int) -> str:
    """The id of test statement `n`."""
    return str(uuid.uuid5(NAMESPACE, str(n)))


def statement(n: int, **overrides: Any) -> dict[str, Any]:
    """A valid statement with a fixed id and a body that says which one it is."""
    activity = {"objectType": "Activity", "id": f"http://example.com/activities/{n}"}
    return make_statement(**{"id": sid(n), "object": activity, **overrides})


def voiding(n: int, target: int) -> dict[str, Any]:
    """Statement `n`, voiding statement `target`."""
    return statement(
        n,
        verb={"id": VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": sid(target)},
    )


def ndjson(statements: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(s).encode() + b"\n" for s in statements)


def write(path: Path, data: bytes, *, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def lrs(*args: str) -> int:
    """Run the `lrs` command in this process; its exit status."""
    return main(list(args))


def rows(path: Path) -> list[dict[str, Any]]:
    """The lines of an NDJSON file, parsed."""
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def stored_ids(data_dir: Path) -> list[str]:
    """Every statement id in the store, voided or not, in export order."""
    return [s["id"] for s in stored(data_dir)]


def stored(data_dir: Path) -> list[dict[str, Any]]:
    """Every statement in the store, voided or not, in export order."""

    async def read() -> list[dict[str, Any]]:
        backend = SQLiteBackend(data_dir)
        try:
            page = await backend.statements.export_statements(None, 100_000)
        finally:
            await backend.close()
        return [json.loads(raw) for raw in page.statements]

    return asyncio.run(read())


def voided_ids(data_dir: Path, ids: list[str]) -> set[str]:
    """Those of `ids` stored voided."""

    async def read() -> set[str]:
        backend = SQLiteBackend(data_dir)
        try:
            found = await backend.statements.get_statements(ids)
        finally:
            await backend.close()
        return {sid for sid, s in found.items() if s.voided}

    return asyncio.run(read())


def seed(data_dir: Path, *batches: list[dict[str, Any]]) -> None:
    """Store statements through the service, one call per batch, as an LRS client would."""

    async def store() -> None:
        backend = SQLiteBackend(data_dir)
        service = statement_service(backend, Settings(data_dir=data_dir))
        authority = {"objectType": "Agent", "mbox": "mailto:source-lrs@example.com"}
        try:
            for batch in batches:
                await service.store_statements(batch, authority=authority, version="1.0.3")
        finally:
            await backend.close()

    asyncio.run(store())


def many(count: int, *, start: int = 0) -> Iterator[dict[str, Any]]:
    """`count` statements with varied content, generated lazily."""
    for n in range(start, start + count):
        yield statement(
            n,
            actor={"objectType": "Agent", "mbox": f"mailto:learner{n % 97}@example.com"},
            result={"score": {"scaled": (n % 10) / 10}, "response": "x" * (n % 50)},
            timestamp="2024-01-02T03:04:05.678Z",
        )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory that the `lrs` command uses."""
    path = tmp_path / "lrs-data"
    path.mkdir()
    for name in ISOLATED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LRS_DATA_DIR", str(path))
    return path


# Settings the tests expect at their defaults, whatever the environment running them says.
ISOLATED = (
    "LRS_MONGODB_URI",
    "LRS_HOST",
    "LRS_PORT",
    "LRS_PUBLIC_BASE_URL",
    "LRS_AUTHORITY_HOME_PAGE",
    "LRS_MAX_BATCH_SIZE",
    "LRS_DEFAULT_XAPI_VERSION",
)
