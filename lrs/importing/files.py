"""An import file opened as text: gzip recognised by its content (the magic bytes), never by
its name; UTF-8 with a BOM skipped; and how many of its bytes were read, for the progress line.

A file that cannot be opened raises `ImportFileUnreadable` with a sentence naming the file and
the reason, for the command to print (never a traceback).
"""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO, cast

GZIP_MAGIC = b"\x1f\x8b"


class ImportFileUnreadable(Exception):
    """The file is missing, a directory, not readable, or a broken gzip stream."""


@dataclass(frozen=True)
class OpenedText:
    """The text of an import file, its size on disk and a function telling the bytes read."""

    text: TextIO
    total_bytes: int
    bytes_read: Callable[[], int]
    compressed: bool


@contextlib.contextmanager
def open_import_text(path: Path) -> Iterator[OpenedText]:
    """Open `path` for reading rows (see the module docstring)."""
    try:
        raw = path.open("rb")
        total = path.stat().st_size
    except IsADirectoryError:
        raise ImportFileUnreadable(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise ImportFileUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            yield OpenedText(text, total, raw.tell, compressed)
        finally:
            text.detach()
