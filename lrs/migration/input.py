"""Reading another LRS's statement export as a stream, in constant memory.

An export is NDJSON (one statement object per line) or one JSON array of statement objects,
either of them optionally gzip-compressed. Compression is recognised by the gzip magic bytes
and the format by the first byte that is not whitespace (`{` NDJSON, `[` array), never by the
file's name. Neither format is ever read whole: NDJSON goes line by line and an array through
`ArraySplitter`, which cuts the top-level array into its objects' bytes without parsing them.

Each element comes out as an `Element`: its text, the line of the file it starts on, and its
position among the file's statements. A malformed element is the caller's to reject; a
malformed *file* (empty, not JSON, a broken gzip stream, a truncated array, an element bigger
than `max_element_bytes`) raises `ImportFileError` at the point it is found.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lrs.errors import BadRequest

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 64 * 1024
MAX_ELEMENT_BYTES = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"

# Inside an object only braces outside strings matter. `_TO_BRACE` skips, in the regex engine,
# everything up to the next such brace (group 1), strings included; when a string is still
# open at the end of the chunk, group 1 is that string's start and group 2 is a backslash if
# the chunk ends right after one. `{` `}` `"` `\` are ASCII, and no byte of a multi-byte UTF-8
# sequence is ASCII, so scanning bytes is safe.
_STRING_BODY = rb'(?:[^"\\]++|\\.)*+'
_TO_BRACE = re.compile(
    rb'(?:[^"{}]++|"' + _STRING_BODY + rb'")*+([{}]|"' + _STRING_BODY + rb"(\\?)\Z|\Z)",
    re.DOTALL,
)
_STRING_REST = re.compile(_STRING_BODY + rb'("|\\?\Z)', re.DOTALL)


class ImportFileError(BadRequest):
    """The file as a whole cannot be read as a statement export."""

    code = "bad_import_file"


@dataclass(frozen=True)
class Element:
    """One statement's JSON text as found in the file (not yet parsed)."""

    text: bytes
    line: int  # 1-based line of the file on which it starts
    index: int  # 0-based position among the file's statements


# States of the array splitter.
_START, _FIRST, _NEXT, _AFTER, _OBJECT, _STRING, _ESCAPE, _END = range(8)


class ArraySplitter:
    """Splits a top-level JSON array of objects, fed in chunks, into each object's bytes.

    It tracks only what it must to find where each object ends: whether it is inside a string,
    after a backslash, and the depth of braces. The objects themselves are parsed (and their
    errors reported) by the caller. `feed` returns the objects completed by a chunk; `close`
    says whether the array ended properly.
    """

    def __init__(self, max_element_bytes: int = MAX_ELEMENT_BYTES) -> None:
        self._max = max_element_bytes
        self._state = _START
        self._depth = 0
        self._parts: list[bytes] = []  # the current object's bytes from earlier chunks
        self._size = 0
        self._line = 1  # the line at `_counted` in the current chunk
        self._start_line = 1
        self._count = 0

    def feed(self, chunk: bytes) -> list[Element]:
        """The objects that end in this chunk, in order."""
        out: list[Element] = []
        self._counted = 0
        begin = 0 if self._state in (_OBJECT, _STRING, _ESCAPE) else -1
        i, n = 0, len(chunk)
        while i < n:
            state = self._state
            if state == _STRING:
                found = _STRING_REST.match(chunk, i)
                assert found is not None  # the pattern matches at any position
                i = found.end()
                end = found.group(1)
                self._state = _OBJECT if end == b'"' else _ESCAPE if end else _STRING
            elif state == _ESCAPE:
                i += 1
                self._state = _STRING
            elif state == _OBJECT:
                found = _TO_BRACE.match(chunk, i)
                assert found is not None  # the pattern matches at any position
                i = found.end()
                brace = found.group(1)
                if brace == b"}":
                    self._depth -= 1
                    if self._depth == 0:
                        out.append(self._finish(chunk[begin:i]))
                        begin = -1
                elif brace == b"{":
                    self._depth += 1
                elif brace:  # a string goes on in the next chunk
                    self._state = _ESCAPE if found.group(2) else _STRING
            else:
                if self._structural(chunk, i):
                    begin = i
                i += 1
        if begin >= 0:
            self._keep(chunk[begin:])
        self._line += chunk.count(b"\n", self._counted)
        return out

    def close(self) -> None:
        """Raise ImportFileError unless the input was one complete array."""
        if self._state == _END:
            return
        if self._state == _START:
            raise ImportFileError("the file holds no JSON array")
        if self._state in (_OBJECT, _STRING, _ESCAPE):
            raise ImportFileError(
                f"the file ends inside statement {self._count + 1} (from line "
                f"{self._start_line}): it is truncated"
            )
        raise ImportFileError(
            f"the file ends after {self._count} statements without closing the array "
            "(no final `]`): it is truncated"
        )

    def _structural(self, chunk: bytes, i: int) -> bool:
        """Handle one byte between elements; True when it opens an object."""
        byte = chunk[i : i + 1]
        state = self._state
        if byte in _WHITESPACE:
            return False
        if state == _START and byte == b"[":
            self._state = _FIRST
        elif state in (_FIRST, _NEXT) and byte == b"{":
            self._state, self._depth = _OBJECT, 1
            self._start_line = self._line_at(chunk, i)
            return True
        elif state in (_FIRST, _AFTER) and byte == b"]":
            self._state = _END
        elif state == _AFTER and byte == b",":
            self._state = _NEXT
        else:
            raise ImportFileError(self._unexpected(byte, self._line_at(chunk, i)))
        return False

    def _unexpected(self, byte: bytes, line: int) -> str:
        shown = byte.decode("latin-1")
        where = f"line {line}"
        if self._state == _START:
            return f"{where}: expected a JSON array `[`, found {shown!r}"
        if self._state == _END:
            return f"{where}: unexpected {shown!r} after the end of the array"
        if self._state == _AFTER:
            return f"{where}: expected `,` or `]` after statement {self._count}, found {shown!r}"
        return f"{where}: statement {self._count + 1} is not a JSON object (starts with {shown!r})"

    def _line_at(self, chunk: bytes, i: int) -> int:
        """The line of byte `i` of the current chunk (called with increasing `i`)."""
        self._line += chunk.count(b"\n", self._counted, i)
        self._counted = i
        return self._line

    def _keep(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._max:
            raise ImportFileError(
                f"statement {self._count + 1} (from line {self._start_line}) is larger than "
                f"{self._max} bytes; is the file really a JSON array of statements?"
            )
        self._parts.append(piece)

    def _finish(self, tail: bytes) -> Element:
        self._keep(tail)
        text = b"".join(self._parts)
        self._parts, self._size = [], 0
        self._state = _AFTER
        element = Element(text=text, line=self._start_line, index=self._count)
        self._count += 1
        return element


class LineSplitter:
    """Splits NDJSON, fed in chunks, into its non-blank lines."""

    def __init__(self, max_element_bytes: int = MAX_ELEMENT_BYTES) -> None:
        self._max = max_element_bytes
        self._parts: list[bytes] = []
        self._size = 0
        self._line = 1
        self._count = 0

    def feed(self, chunk: bytes) -> list[Element]:
        """The lines that end in this chunk."""
        out: list[Element] = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            self._keep(chunk[start:end])
            self._emit(out)
            start = end + 1
        self._keep(chunk[start:])
        return out

    def close(self) -> list[Element]:
        """The last line, when the file does not end with a newline."""
        out: list[Element] = []
        self._emit(out)
        return out

    def _keep(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._max:
            raise ImportFileError(
                f"line {self._line} is longer than {self._max} bytes; is the file really "
                "NDJSON (one statement per line)?"
            )
        if piece:
            self._parts.append(piece)

    def _emit(self, out: list[Element]) -> None:
        text = b"".join(self._parts).strip()
        if text:
            out.append(Element(text=text, line=self._line, index=self._count))
            self._count += 1
        self._parts, self._size = [], 0
        self._line += 1


class ExportReader:
    """An opened export file: its elements, and how many of its bytes were read so far."""

    def __init__(self, path: Path, *, max_element_bytes: int = MAX_ELEMENT_BYTES) -> None:
        self.path = path
        self._max = max_element_bytes
        try:
            self._raw: io.BufferedReader = path.open("rb")
            self.total_bytes = path.stat().st_size
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        self.compressed = self._raw.read(2) == GZIP_MAGIC
        self._raw.seek(0)
        self._stream: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=self._raw, mode="rb") if self.compressed else self._raw
        )
        self.format = ""  # "ndjson" or "array", known once the first bytes are read

    @property
    def bytes_read(self) -> int:
        """Bytes of the file (compressed, if it is) consumed so far."""
        return self._raw.tell()

    def close(self) -> None:
        """Close the file."""
        self._stream.close()
        self._raw.close()

    def elements(self) -> Iterator[Element]:
        """Every statement element of the file, in order (see the module docstring)."""
        chunks = self._chunks()
        head = self._head(chunks)
        splitter: ArraySplitter | LineSplitter = (
            ArraySplitter(self._max) if self.format == "array" else LineSplitter(self._max)
        )
        yield from splitter.feed(head)
        for chunk in chunks:
            yield from splitter.feed(chunk)
        if isinstance(splitter, LineSplitter):
            yield from splitter.close()
        else:
            splitter.close()

    def _head(self, chunks: Iterator[bytes]) -> bytes:
        """The first bytes up to and including the first non-blank one, which name the format."""
        head = b""
        for chunk in chunks:
            head += chunk
            if head.startswith(_BOM):
                head = head[len(_BOM) :]
            if head.strip(_WHITESPACE) or len(head) > self._max:
                break
        first = head.lstrip(_WHITESPACE)[:1]
        if not first:
            raise ImportFileError(f"{self.path} is empty: there is nothing to import")
        if first not in (b"{", b"["):
            raise ImportFileError(self._not_json(first))
        self.format = "array" if first == b"[" else "ndjson"
        return head

    def _not_json(self, first: bytes) -> str:
        kind = "gzip-compressed file" if self.compressed else "file"
        note = ""
        if not self.compressed and self.path.name.lower().endswith(".gz"):
            note = " (its name ends in .gz, but it is not gzip-compressed)"
        return (
            f"{self.path} is not JSON{note}: the {kind} starts with {first!r}, not with `{{` "
            "(NDJSON, one statement per line) or `[` (a JSON array of statements)"
        )

    def _chunks(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = self._stream.read(CHUNK_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                # gzip.BadGzipFile is an OSError; a cut-off stream is an EOFError
                raise ImportFileError(f"{self.path} is not a valid gzip file: {exc}") from None
            if not chunk:
                return
            yield chunk
