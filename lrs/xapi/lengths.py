"""Maximum lengths of IRIs and extension values in a statement (beyond what the schema says).

Why: the schema bounds neither, so a 5 MB activity IRI was stored, indexed and copied into
every query key. The limits are generous on purpose: no real IRI comes near 8192 characters
(browsers and servers commonly stop at 2-8 KB), and the ADL conformance suite's long values
stay far below both. One extension value (any JSON) is bounded by its serialised size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from lrs.errors import ValidationError

MAX_IRI_CHARS = 8192
MAX_EXTENSION_VALUE_BYTES = 1024 * 1024

# Properties whose string value is an IRI (or an IRL, a mailto IRI) wherever they appear.
_IRI_PROPERTIES = frozenset(
    {"id", "homePage", "openid", "mbox", "fileUrl", "usageType", "type", "moreInfo"}
)


def check_lengths(statement: Mapping[str, Any], path: str = "") -> None:
    """A 400 naming the path of an IRI over MAX_IRI_CHARS or an extension value over
    MAX_EXTENSION_VALUE_BYTES serialised; extension values themselves are not searched.

    Every statement passes here, so the walk is skipped when nothing can be too long: a
    statement whose JSON is at most MAX_IRI_CHARS bytes holds no longer string (a character is
    at least one byte of UTF-8) and no larger extension value. In the walk, paths are carried
    as tuples and joined only for an error."""
    try:
        if len(orjson.dumps(statement)) <= MAX_IRI_CHARS:
            return
    except orjson.JSONEncodeError:  # not JSON (an in-process caller's value): walk it
        pass
    _walk(statement, (path,) if path else ())


def _walk(node: Any, where: tuple[str, ...]) -> None:
    if isinstance(node, list):
        for number, item in enumerate(node):
            if isinstance(item, dict | list):
                _walk(item, (*where, f"[{number}]"))
        return
    for key, value in node.items():
        if isinstance(value, str):
            if key in _IRI_PROPERTIES and len(value) > MAX_IRI_CHARS:
                _too_long_iri(_joined((*where, key)))
        elif isinstance(value, dict):
            if key == "extensions":
                _check_extensions(value, _joined((*where, key)))
            else:
                _walk(value, (*where, key))
        elif isinstance(value, list):
            _walk(value, (*where, key))


def _joined(parts: tuple[str, ...]) -> str:
    """`a.b[2].c` from ("a", "b", "[2]", "c")."""
    joined = ""
    for part in parts:
        joined += part if not joined or part.startswith("[") else "." + part
    return joined


def _check_extensions(extensions: Mapping[str, Any], path: str) -> None:
    for key, value in extensions.items():
        _check_iri(key, f"{path} key")
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError:  # not JSON (an in-process caller's value): unchecked
            continue
        if size > MAX_EXTENSION_VALUE_BYTES:
            raise ValidationError(
                f"{path}.{key}: an extension value is at most {MAX_EXTENSION_VALUE_BYTES} "
                "bytes of JSON",
                path=f"{path}.{key}",
            )


def _check_iri(value: str, path: str) -> None:
    if len(value) > MAX_IRI_CHARS:
        _too_long_iri(path)


def _too_long_iri(path: str) -> None:
    raise ValidationError(f"{path}: an IRI is at most {MAX_IRI_CHARS} characters", path=path)
