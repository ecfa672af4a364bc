"""docs/architecture.md draws the import graph of the code as it is."""

from __future__ import annotations

from pathlib import Path

from tests.architecture import import_graph


def test_the_documented_import_graph_is_the_current_one() -> None:
    regenerate = "python -m tests.architecture.import_graph --write"
    assert import_graph.documented() == import_graph.render(), (
        f"docs/architecture.md is out of date: run `{regenerate}`"
    )


def test_the_graph_sees_known_edges_and_resolves_relative_imports(tmp_path: Path) -> None:
    for package in import_graph.PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "lrs" / "xapi").mkdir()
    (tmp_path / "lrs" / "xapi" / "__init__.py").write_text("")
    (tmp_path / "lrs" / "xapi" / "rules.py").write_text("from ..errors import Bad\n")
    (tmp_path / "lrs" / "errors.py").write_text("class Bad(Exception): ...\n")
    (tmp_path / "lti" / "tool.py").write_text("import lrs.xapi.rules\nfrom lrs import errors\n")
    graph = import_graph.graph(tmp_path)
    assert graph["lrs.xapi"] == {"lrs": 1}
    assert graph["lti"] == {"lrs": 1, "lrs.xapi": 1}
    assert graph["lrs"] == {}
