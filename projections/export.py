"""Bulk export of the marketplace records: NDJSON or CSV, optionally gzipped, with a checksum.

Each exported item is a live record plus `version` and `updated_at` (UTC). Records come in
update order, so `--since` (records updated after a time) makes incremental exports: a delta.
A delta also carries the removals since that time, so a consumer applying deltas drops what
no longer exists (a voided completion): a removal is `{"member_id", "activity_id",
"removed": true, "version", "updated_at"}` in NDJSON, and in CSV a row with those cells,
`removed` true and the others empty (every CSV row has the last column `removed`). A full
export (no `since`) holds live records only. The CLI writes the file and `<file>.sha256`
(`sha256sum -c` format) and draws a progress bar on stderr; `GET /marketplace/v1/export`
streams the same bytes, or, asked with `Want-Repr-Digest: sha-256=...` (RFC 9530), gives
their SHA-256 in a `Repr-Digest` header (`spooled_export`).

CSV flattens a record: the score's parts get their own columns, badges and provenance are
JSON in one column each.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from projections.pseudonyms import Disclosure, disclose_record
from projections.store.base import AggregateStore, StoredRecord
from projections.transforms import format_datetime

FORMATS = ("ndjson", "csv")
CSV_COLUMNS = (
    "member_id",
    "activity_id",
    "email",
    "learning_completed",
    "completed_at",
    "success",
    "score",
    "score_raw",
    "score_min",
    "score_max",
    "score_scaled",
    "latest_score",
    "enrollment_state",
    "certificate_ref",
    "last_activity_at",
    "employment_status",
    "badge_awarded",
    "provenance",
    "mapping_version",
    "version",
    "updated_at",
    "removed",
)
_PAGE = 500
_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # bytes of a digested export held in memory, then a file


def export_item(stored: StoredRecord, public_id: str | None = None) -> dict[str, Any]:
    """A record as exported (and as the API returns it), under the member's public id (a
    pseudonym for the worker types `LRS_PSEUDONYMOUS_WORKER_TYPES` names); a removed one
    as its tombstone (`removal_item`)."""
    if stored.record is None:
        return removal_item(stored, public_id)
    return {
        **(disclose_record(stored.record, public_id or stored.member_id) or {}),
        "version": stored.version,
        "updated_at": format_datetime(stored.updated_us),
    }


def removal_item(stored: StoredRecord, public_id: str | None = None) -> dict[str, Any]:
    """A removed record's tombstone: which record, `removed`, its last version and when."""
    return {
        "member_id": public_id or stored.member_id,
        "activity_id": stored.activity_id,
        "removed": True,
        "version": stored.version,
        "updated_at": format_datetime(stored.updated_us),
    }


def csv_row(item: dict[str, Any]) -> list[Any]:
    """One CSV row for an exported item."""
    score = item.get("score") or {}
    flat = {
        **item,
        "score": score.get("value"),
        "score_raw": score.get("raw"),
        "score_min": score.get("min"),
        "score_max": score.get("max"),
        "score_scaled": score.get("scaled"),
        "latest_score": (score.get("latest") or {}).get("value"),
        "badge_awarded": orjson.dumps(item.get("badge_awarded") or []).decode(),
        "provenance": orjson.dumps(item.get("provenance") or {}).decode(),
        "removed": bool(item.get("removed")),
    }
    if flat["removed"]:
        return ["" if c not in item else _cell(flat[c]) for c in CSV_COLUMNS]
    return ["" if flat.get(c) is None else _cell(flat.get(c)) for c in CSV_COLUMNS]


def _cell(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _csv_line(row: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue().encode()


async def items(
    aggregates: AggregateStore, since_us: int | None, disclosure: Disclosure | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every record updated after `since_us`, in update order, as exported: live records,
    and with a `since_us` the removals too (a delta)."""
    after = None
    while True:
        page = await aggregates.page_records(
            after=after, since_us=since_us, limit=_PAGE, include_removed=since_us is not None
        )
        public: dict[str, str] = {}
        if disclosure is not None:
            public = await disclosure.public_ids(r.member_id for r in page.records)
        for stored in page.records:
            yield export_item(stored, public.get(stored.member_id))
        if page.next_position is None:
            return
        after = page.next_position


def encode(item: dict[str, Any], fmt: str) -> bytes:
    """One exported item as an NDJSON or CSV line."""
    return _csv_line(csv_row(item)) if fmt == "csv" else orjson.dumps(item) + b"\n"


def header(fmt: str) -> bytes:
    """What precedes the records (the CSV header line)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    return _csv_line(list(CSV_COLUMNS)) if fmt == "csv" else b""


async def export_chunks(
    aggregates: AggregateStore,
    fmt: str,
    since_us: int | None,
    disclosure: Disclosure | None = None,
) -> AsyncIterator[bytes]:
    """The export's bytes, one record per chunk (the CSV header first)."""
    first = header(fmt)
    if first:
        yield first
    async for item in items(aggregates, since_us, disclosure):
        yield encode(item, fmt)


class ProgressBar:
    """`[#####.....] 512/1024 records` on a terminal stream, redrawn in place.

    Only a terminal gets the bar: redrawn with `\r`, it would fill a log file or a pipe with
    a hundred lines. Elsewhere nothing is drawn but one summary line at the end.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._tty = self._stream.isatty()

    def advance(self, n: int = 1) -> None:
        """Count n more and redraw (every 1% or so, and at the end) on a terminal."""
        self.done += n
        step = max(1, self.total // 100)
        if self._tty and (self.done % step == 0 or self.done >= self.total):
            self.draw()

    def draw(self) -> None:
        """Draw the bar."""
        done = min(self.done, self.total)  # a delta's removals are not in the total
        filled = self._width * done // self.total if self.total else self._width
        bar = "#" * filled + "." * (self._width - filled)
        self._stream.write(f"\r[{bar}] {self.done}/{self.total} records")
        self._stream.flush()

    def finish(self) -> None:
        """Final draw and newline on a terminal; elsewhere one summary line."""
        if self._tty:
            self.draw()
            self._stream.write("\n")
        else:
            self._stream.write(f"exported {self.done}/{self.total} records\n")
        self._stream.flush()


class _HashingFile:
    """A binary file that also hashes every byte written to it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


async def export_to_file(
    aggregates: AggregateStore,
    path: Path,
    *,
    fmt: str,
    compress: bool = False,
    since_us: int | None = None,
    progress: Callable[[int], ProgressBar] | None = None,
    disclosure: Disclosure | None = None,
) -> tuple[int, str]:
    """Write the export and its `.sha256`; (records written, hex SHA-256 of the file).

    The file appears whole: it is written as `<path>.partial` and renamed at the end.
    """
    bar = progress(await aggregates.count_records(since_us)) if progress else None
    count = 0
    draft = path.with_name(path.name + ".partial")
    with draft.open("wb") as raw:
        hashing = _HashingFile(raw)
        out: Any = gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) if compress else hashing
        out.write(header(fmt))
        async for item in items(aggregates, since_us, disclosure):
            out.write(encode(item, fmt))
            count += 1
            if bar:
                bar.advance()
        if compress:
            out.close()
        raw.flush()
    draft.replace(path)
    checksum = hashing.digest.hexdigest()
    Path(f"{path}.sha256").write_text(f"{checksum}  {path.name}\n")
    if bar:
        bar.finish()
    return count, checksum


async def spooled_export(
    chunks: AsyncIterator[bytes], *, compress: bool
) -> tuple[BinaryIO, int, str]:
    """The export held in a spooled file (memory, then disk), to send with its digest:
    (the file at its start, its size, `Repr-Digest` value `sha-256=:<base64>:`, RFC 9530).

    A digest header precedes the body, so the body is made first; gzipped here when the
    client accepts it (the digest is of the bytes sent: the representation, content coding
    included).
    """
    spool: Any = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    hashing = _HashingFile(spool)  # (returned open: the caller sends it, then closes it)
    out: Any = gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) if compress else hashing
    try:
        async for chunk in chunks:
            out.write(chunk)
        if compress:
            out.close()
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    return spool, size, f"sha-256=:{base64.b64encode(hashing.digest.digest()).decode()}:"
