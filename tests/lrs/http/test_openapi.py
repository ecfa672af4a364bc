"""The OpenAPI documents in spec/ load, and every route the app serves is described."""

from __future__ import annotations

import json
from pathlib import Path

from lrs.app import create_app
from lrs.config import Config
from lrs.settings import Settings

SPEC = Path(__file__).resolve().parents[3] / "spec"
METHODS = {"get", "put", "post", "delete", "head", "patch"}


def documented() -> dict[str, set[str]]:
    """Path → methods, over every OpenAPI document in spec/."""
    paths: dict[str, set[str]] = {}
    for file in sorted(SPEC.glob("*openapi*.json")):
        document = json.loads(file.read_text())
        assert document["openapi"].startswith("3."), file.name
        assert document["info"]["title"], file.name
        for path, operations in document["paths"].items():
            paths.setdefault(path, set()).update(m for m in operations if m in METHODS)
    return paths


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = create_app(Config(core=Settings(data_dir=tmp_path)))
    described = documented()
    missing = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if not path.startswith(("/xapi", "/health", "/lti", "/marketplace", "/scorm", "/metrics")):
            continue
        methods = {route.method.lower()} - {"options"}
        if route.method == "*":
            methods = described.get(path, set()) or {"any"}
        if path not in described or not methods <= described[path]:
            missing.append(f"{route.method} {path}")
    assert not missing, f"routes missing from spec/*openapi*.json: {missing}"


def test_every_operation_has_responses() -> None:
    for file in SPEC.glob("*openapi*.json"):
        for path, operations in json.loads(file.read_text())["paths"].items():
            for method, operation in operations.items():
                if method in METHODS:
                    assert operation.get("responses"), f"{file.name} {method} {path}"
