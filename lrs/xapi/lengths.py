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
    MAX_EXTENSION_VALUE_BYTES serialised; extension values themselves are not searched."""
    stack: list[tuple[Any, str]] = [(statement, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((item, f"{where}[{n}]") for n, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            here = f"{where}.{key}" if where else key
            if key == "extensions" and isinstance(value, dict):
                _check_extensions(value, here)
            elif key in _IRI_PROPERTIES and isinstance(value, str):
                _check_iri(value, here)
            elif isinstance(value, dict | list):
                stack.append((value, here))


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
        raise ValidationError(f"{path}: an IRI is at most {MAX_IRI_CHARS} characters", path=path)
