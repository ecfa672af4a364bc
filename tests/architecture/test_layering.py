"""The layers of the xAPI core import only downwards: rules and values know no storage or HTTP.

Walks the source of `lrs/xapi`, `lrs/http` and `lrs/model` (every import, top-level or inside a
function) so that a storage or web import creeping into them fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import lrs

LRS_DIR = Path(lrs.__file__).parent

# package -> module prefixes none of its modules may import
FORBIDDEN = {
    "lrs.xapi": ("lrs.store", "lrs.http", "lrs.services", "aiohttp"),
    "lrs.http": ("lrs.store",),
    "lrs.model": ("lrs.store", "lrs.http", "lrs.services", "lrs.xapi", "lrs.auth", "aiohttp"),
}


def imported_names(source: str, module: str) -> Iterator[str]:
    """Every dotted name the imports of `source` (module `module`) reach, relative ones resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def violations(source: str, module: str, forbidden: tuple[str, ...]) -> list[str]:
    """The imports of `source` that fall under one of the `forbidden` prefixes."""
    return [
        name
        for name in imported_names(source, module)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    ]


def modules_of(package: str) -> list[tuple[str, Path]]:
    """(dotted name, path) of every module in an `lrs` subpackage."""
    folder = LRS_DIR.joinpath(*package.split(".")[1:])
    found = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(LRS_DIR).with_suffix("").parts
        found.append((".".join(("lrs", *parts)), path))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_or_beside_it(package: str) -> None:
    modules = modules_of(package)
    assert modules, f"no modules found for {package}"
    bad = {
        module: found
        for module, path in modules
        if (found := violations(path.read_text(encoding="utf-8"), module, FORBIDDEN[package]))
    }
    assert bad == {}


def test_the_check_sees_every_import_form() -> None:
    source = (
        "from lrs.store.base import StatementStore\n"
        "import aiohttp.web\n"
        "from lrs import store\n"
        "def f():\n"
        "    from ..http import documents\n"
        "from lrs.errors import BadRequest\n"
    )
    found = violations(source, "lrs.xapi.example", FORBIDDEN["lrs.xapi"])
    assert sorted(found) == [
        "aiohttp.web",
        "lrs.http.documents",
        "lrs.store",
        "lrs.store.base.StatementStore",
    ]
