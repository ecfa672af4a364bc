"""Responses checked against spec/marketplace-openapi.json: each answer's status must be one
the operation documents, its content type one documented for that status, and its body valid
against the schema given there (JSON Schema 2020-12, as OpenAPI 3.1 says); NDJSON bodies line
by line against the media type's `x-item-schema`. What was checked is noted per operation, so
a test can require that every operation was seen answering well and badly."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from aiohttp import ClientResponse

from projections.settings import SPEC_DIR
from tests.projections.api_support import Market

OPENAPI: dict[str, Any] = json.loads((SPEC_DIR / "marketplace-openapi.json").read_text())
METHODS = ("get", "put", "post", "delete", "patch")


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the document."""
    return [
        (method.upper(), path)
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method in METHODS
    ]


def resolvable(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema of the document that resolves its `#/components/...` references alone."""
    return {**schema, "components": OPENAPI["components"]}


def validate(instance: Any, schema: dict[str, Any], where: str) -> None:
    """jsonschema's 2020-12 validation, naming where the schema is in the document."""
    try:
        jsonschema.Draft202012Validator(resolvable(schema)).validate(instance)
    except jsonschema.ValidationError as exc:
        raise AssertionError(f"{where}: {exc.message} at {list(exc.absolute_path)}") from exc


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def check_answer(method: str, template: str, status: int, content_type: str, raw: bytes) -> None:
    """Raise AssertionError when the answer is not one the document describes."""
    operation = OPENAPI["paths"][template][method.lower()]
    where = f"{method} {template} {status}"
    documented = operation["responses"].get(str(status)) or operation["responses"].get("default")
    assert documented is not None, f"{where}: status not documented"
    content = documented.get("content")
    if not content:
        assert raw == b"", f"{where}: a body where none is documented"
        return
    media = _media_type(content_type)
    assert media in content, f"{where}: {media} not documented ({sorted(content)})"
    described = content[media]
    if media == "application/json":
        validate(json.loads(raw), described["schema"], where)
    elif "x-item-schema" in described:
        for n, line in enumerate(raw.splitlines(), start=1):
            validate(json.loads(line), described["x-item-schema"], f"{where} line {n}")
    else:
        validate(raw.decode(), described["schema"], where)


@dataclass
class CheckedClient:
    """Requests to the app whose answers are checked against the document, and noted."""

    market: Market
    seen: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))

    async def call(
        self,
        method: str,
        template: str,
        auth: str | None = None,
        *,
        path: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> tuple[int, Any, ClientResponse]:
        """(status, parsed JSON body or the raw bytes, response) of a checked request."""
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = auth
        url = template.format(**(path or {}))
        response = await self.market.http.request(method, url, headers=sent, **options)
        raw = await response.read()
        check_answer(method, template, response.status, response.content_type, raw)
        self.seen[(method, template)].add(response.status)
        body = json.loads(raw) if response.content_type == "application/json" else raw
        return response.status, body, response

    def unchecked(self) -> list[str]:
        """Operations not seen answering with a 2xx, or (where any is documented) a 4xx."""
        missing = []
        for method, template in operations():
            statuses = self.seen.get((method, template), set())
            documented = OPENAPI["paths"][template][method.lower()]["responses"]
            # a redirecting operation (no 2xx documented) succeeds with its 3xx
            ok = 400 if not any(code.startswith("2") for code in documented) else 300
            if not any(200 <= s < ok for s in statuses):
                missing.append(f"{method} {template}: no success")
            errors = any(code.startswith("4") for code in documented)
            if errors and not any(400 <= s < 500 for s in statuses):
                missing.append(f"{method} {template}: no error")
        return missing
