"""spec/lti-openapi.json describes every route the LTI adapter registers, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

from lrs.app import create_app
from lrs.config import Config
from lrs.settings import Settings

SPEC = Path(__file__).resolve().parents[2] / "spec" / "lti-openapi.json"
METHODS = {"get", "put", "post", "delete", "head", "patch"}


def registered(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(Config(core=Settings(data_dir=tmp_path)))
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/lti"):
            routes.add((path, route.method.lower()))
    return routes


def documented() -> set[tuple[str, str]]:
    document = json.loads(SPEC.read_text())
    assert document["openapi"].startswith("3.")
    return {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_every_lti_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    routes = registered(tmp_path)
    assert routes, "the LTI adapter registered no routes"
    assert routes - documented() == set()
    assert documented() - routes == set()


def test_every_operation_has_responses_and_every_ref_resolves() -> None:
    document = json.loads(SPEC.read_text())
    schemas = document["components"]["schemas"]
    text = SPEC.read_text()
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in schemas, name
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                assert operation.get("responses"), f"{method} {path}"
                assert operation.get("summary"), f"{method} {path}"
