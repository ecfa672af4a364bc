"""The streaming readers: the JSON array splitter, NDJSON lines, format and gzip detection."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from lrs.migration.input import (
    ArraySplitter,
    Element,
    ExportReader,
    ImportFileError,
    LineSplitter,
)

TRICKY = [
    {"a": 'quote " inside', "b": "brace } and { and ] and [ inside"},
    {"c": "backslash at end \\", "d": 'escaped \\" quote then }'},
    {"nested": {"deep": [{"x": 1}, {"y": {"z": "}}}"}}]}, "e": "é ü 字 🎉"},
    {"u": "\u005c\u0022 unicode escapes \\u007d"},
]


def split(data: bytes, sizes: int | list[int]) -> list[Element]:
    """Feed `data` in chunks of the given size(s), then close."""
    splitter = ArraySplitter()
    out: list[Element] = []
    pos = 0
    widths = [sizes] if isinstance(sizes, int) else sizes
    turn = 0
    while pos < len(data):
        width = widths[turn % len(widths)]
        out.extend(splitter.feed(data[pos : pos + width]))
        pos += width
        turn += 1
    splitter.close()
    return out


def parsed(elements: list[Element]) -> list[object]:
    return [json.loads(e.text) for e in elements]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 100_000])
def test_every_chunk_boundary_gives_the_same_objects(size: int) -> None:
    data = json.dumps(TRICKY, ensure_ascii=False).encode()
    assert parsed(split(data, size)) == TRICKY


def test_boundaries_at_every_byte_of_a_string_with_escapes() -> None:
    data = b'[{"k": "a\\\\\\"}{[\\\\"}, {"k": 2}]'
    expected = json.loads(data)
    for cut in range(1, len(data)):
        splitter = ArraySplitter()
        got = splitter.feed(data[:cut]) + splitter.feed(data[cut:])
        splitter.close()
        assert parsed(got) == expected, cut


def test_whitespace_everywhere_and_line_numbers() -> None:
    data = b'\n  [\r\n\t{"a":\n 1}\n ,\n\n  {"b": "x\\ny"}  ,{"c":{}}\n ]  \n\n'
    elements = split(data, 4)
    assert parsed(elements) == [{"a": 1}, {"b": "x\ny"}, {"c": {}}]
    assert [e.line for e in elements] == [3, 7, 7]
    assert [e.index for e in elements] == [0, 1, 2]


def test_objects_keep_their_exact_bytes() -> None:
    data = b'[ {"b" : 1,  "a":[ ]} ]'
    assert [e.text for e in split(data, 3)] == [b'{"b" : 1,  "a":[ ]}']


def test_an_empty_array() -> None:
    assert split(b"[]", 1) == []
    assert split(b" [ \n ] \n", 2) == []


@pytest.mark.parametrize(
    "data",
    [
        b'[{"a": 1}',  # no closing bracket
        b'[{"a": 1},',  # ends after a comma
        b'[{"a": "unterminated',  # inside a string
        b'[{"a": "x\\',  # right after a backslash
        b'[{"a": {"b": 1}',  # inside a nested object
        b"[",
    ],
)
def test_truncated_input_is_an_error(data: bytes) -> None:
    splitter = ArraySplitter()
    splitter.feed(data)
    with pytest.raises(ImportFileError, match="truncated"):
        splitter.close()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1}', "expected a JSON array"),
        (b'[{"a": 1}] x', "after the end of the array"),
        (b'[{"a": 1} {"b": 2}]', "expected `,` or `]`"),
        (b'[{"a": 1},]', "statement 2 is not a JSON object"),
        (b'[1, {"a": 1}]', "statement 1 is not a JSON object"),
        (b'[{"a": 1}, "s"]', "statement 2 is not a JSON object"),
    ],
)
def test_malformed_arrays_are_errors(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        split(data, 3)


def test_an_element_larger_than_the_limit_is_an_error() -> None:
    splitter = ArraySplitter(max_element_bytes=50)
    splitter.feed(b'[{"a": "' + b"x" * 30)
    with pytest.raises(ImportFileError, match="larger than 50 bytes"):
        splitter.feed(b"y" * 30)


def test_a_malformed_object_is_passed_on_for_the_caller_to_reject() -> None:
    elements = split(b'[{"a": }, {"b": 1}]', 4)
    assert [e.text for e in elements] == [b'{"a": }', b'{"b": 1}']


def test_lines_across_chunks_skip_blank_lines_and_keep_numbers() -> None:
    splitter = LineSplitter()
    data = b'{"a": 1}\r\n\n  \n{"b":\n{"c": 3}'
    got = []
    for i in range(0, len(data), 3):
        got += splitter.feed(data[i : i + 3])
    got += splitter.close()
    assert [(e.text, e.line, e.index) for e in got] == [
        (b'{"a": 1}', 1, 0),
        (b'{"b":', 4, 1),
        (b'{"c": 3}', 5, 2),
    ]


def test_a_line_longer_than_the_limit_is_an_error() -> None:
    splitter = LineSplitter(max_element_bytes=10)
    with pytest.raises(ImportFileError, match="line 2 is longer than 10 bytes"):
        splitter.feed(b"{}\n" + b"x" * 11)


def read_all(path: Path) -> tuple[str, list[object]]:
    reader = ExportReader(path)
    try:
        items = [json.loads(e.text) for e in reader.elements()]
        assert reader.bytes_read == reader.total_bytes
        return reader.format, items
    finally:
        reader.close()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["export.json", "export.gz", "noext"])
def test_format_and_compression_come_from_the_content(
    tmp_path: Path, compress: bool, name: str
) -> None:
    items = [{"n": 1}, {"n": 2}]
    as_array = json.dumps(items).encode()
    as_lines = b"\n".join(json.dumps(i).encode() for i in items)
    for data, fmt in ((as_array, "array"), (b"\xef\xbb\xbf" + as_lines, "ndjson")):
        path = tmp_path / name
        path.write_bytes(gzip.compress(data) if compress else data)
        assert read_all(path) == (fmt, items)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b" \n\t\n", "is empty"),
        (gzip.compress(b""), "is empty"),
        (b"hello, world", "is not JSON: the file starts with b'h'"),
        (b"<xml/>", "is not JSON"),
        (gzip.compress(b"id,verb\n1,x\n"), "is not JSON: the gzip-compressed file"),
        (b"\x1f\x8b\x08\x00garbage", "is not a valid gzip file"),
        (gzip.compress(b'{"a": 1}\n' * 1000)[:-30], "is not a valid gzip file"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "export.ndjson"
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=message):
        read_all(path)


def test_a_file_named_gz_that_is_not_gzip_nor_json_says_so(tmp_path: Path) -> None:
    path = tmp_path / "export.ndjson.gz"
    path.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ImportFileError, match=r"name ends in \.gz, but it is not gzip"):
        read_all(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="cannot read"):
        ExportReader(tmp_path / "nope.ndjson")


_ALPHABET = 'ab{}[]",:\\ \n\té字'


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(6 if depth < 3 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-1000, 1000)
    if kind in (2, 3):
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(12)))
    if kind == 4:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        str(_random_json(rng, 3)): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))
    }


@pytest.mark.parametrize("seed", range(200))
def test_any_array_of_objects_in_any_chunks(seed: int) -> None:
    rng = random.Random(seed)
    items = [
        {str(_random_json(rng, 3)): _random_json(rng, 1) for _ in range(rng.randrange(4))}
        for _ in range(rng.randrange(6))
    ]
    data = json.dumps(items, indent=rng.choice([None, 0, 2]), ensure_ascii=False).encode()
    sizes = [rng.randint(1, 9) for _ in range(rng.randint(1, 4))]
    assert parsed(split(data, sizes)) == items
