"""Import and export on every backend (SQLite, MongoDB on mongomock, a real MongoDB if set).

The CLI tests run on SQLite, the default; these drive the same importer and exporter with the
`backend` fixture, so the MongoDB store's `export_statements` and the write path behind the
import are exercised too.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from lrs.importing import ImportCounts, NdjsonRejects, Progress, RejectLog, import_authority
from lrs.migration.export import write_statements
from lrs.migration.importer import StatementImporter
from lrs.migration.input import ExportReader
from lrs.services.factory import statement_service
from lrs.settings import Settings
from lrs.store.base import Backend
from tests.lrs.migration.helpers import ndjson, sid, statement, voiding

SOURCE = {"objectType": "Agent", "mbox": "mailto:old-lrs@example.com"}


def source_statements() -> list[dict[str, object]]:
    """An export with distinct stored times (so every backend orders it the same way)."""
    items = [statement(n) for n in range(1, 12)]
    items += [voiding(12, 2), statement(13, object={"objectType": "StatementRef", "id": sid(4)})]
    for minute, item in enumerate(items):
        item["stored"] = f"2023-03-04T05:{minute:02d}:00.000Z"
        item["timestamp"] = "2023-03-04T05:00:00.000Z"
        item["authority"] = SOURCE
    return items


async def run_import(backend: Backend, path: Path, rejects: io.BytesIO) -> ImportCounts:
    settings = Settings()
    progress = Progress(0, enabled=False)
    importer = StatementImporter(
        statement_service(backend, settings),
        authority=import_authority(settings, "lrs-import"),
        default_version="1.0.3",
        batch_size=4,
        keep_stored=True,
        keep_authority=True,
        rejects=RejectLog(NdjsonRejects(rejects), progress),
        progress=progress,
    )
    reader = ExportReader(path)
    try:
        return await importer.run(reader)
    finally:
        reader.close()


async def export(backend: Backend) -> bytes:
    out = io.BytesIO()
    await write_statements(backend.statements, out, page_size=5)
    return out.getvalue()


async def test_import_export_reimport_on_every_backend(backend: Backend, tmp_path: Path) -> None:
    items = source_statements()
    items.insert(5, statement(99, actor={"mbox": "bad"}))
    source = tmp_path / "source.ndjson"
    source.write_bytes(ndjson(items))
    rejects = io.BytesIO()

    counts = await run_import(backend, source, rejects)
    assert counts == ImportCounts(new=13, present=0, rejected=1)
    assert json.loads(rejects.getvalue())["id"] == sid(99)

    first = await export(backend)
    got = [json.loads(line) for line in first.splitlines()]
    assert [s["id"] for s in got] == [s["id"] for s in source_statements()]
    assert all(s["authority"] == SOURCE for s in got)
    assert [s["stored"] for s in got] == [s["stored"] for s in source_statements()]
    stored = await backend.statements.get_statements([sid(2), sid(12)])
    assert stored[sid(2)].voided and not stored[sid(12)].voided

    again = tmp_path / "again.ndjson"
    again.write_bytes(first)
    assert await run_import(backend, again, io.BytesIO()) == ImportCounts(present=13)
    assert await export(backend) == first
