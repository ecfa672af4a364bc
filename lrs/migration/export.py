"""Exporting every stored statement as NDJSON, the format `lrs import-statements` reads.

One statement per line, exactly as the LRS returns it (format=exact, its `stored` and
`authority` included), in ascending stored order, voided statements and the statements voiding
them included: an export for migration must carry the whole record, and the importing LRS
re-applies the voiding. Pages come from `StatementStore.export_statements`, so memory stays
constant whatever the size of the store.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from lrs.store.base import StatementStore

PAGE_SIZE = 1000


def ndjson_line(raw: bytes) -> bytes:
    """A stored statement as one NDJSON line (re-serialised only if it holds a line break)."""
    if b"\n" in raw or b"\r" in raw:
        raw = orjson.dumps(orjson.loads(raw))
    return raw + b"\n"


async def write_statements(
    store: StatementStore,
    out: BinaryIO,
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    page_size: int = PAGE_SIZE,
) -> int:
    """Write every statement stored in the window to `out`; how many were written."""
    count = 0
    after: str | None = None
    while True:
        page = await store.export_statements(after, page_size, since_us=since_us, until_us=until_us)
        out.write(b"".join(ndjson_line(raw) for raw in page.statements))
        count += len(page.statements)
        if page.next_position is None:
            return count
        after = page.next_position


@contextlib.contextmanager
def export_target(output: Path | None, *, compress: bool) -> Iterator[BinaryIO]:
    """Where the export goes: stdout, or a file that appears only once it is complete.

    A file is written as `<name>.partial` beside it and renamed at the end, so an export that
    fails half-way never leaves a plausible-looking file. Gzip output has no name and no time
    in its header, so the same statements always give the same bytes.
    """
    if output is None:
        sys.stdout.flush()
        sink: BinaryIO = sys.stdout.buffer
        if compress:
            with gzip.GzipFile(fileobj=sink, mode="wb", filename="", mtime=0) as packed:
                yield packed  # type: ignore[misc]
        else:
            yield sink
        sink.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as raw:
            if compress:
                with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as packed:
                    yield packed  # type: ignore[misc]
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
