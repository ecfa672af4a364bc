"""Registrations as plain JSON-able dicts, the same for every backend (no driver here)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lti.store.base import Consumer, Tool


def tool_doc(tool: Tool) -> dict[str, Any]:
    """A tool as a JSON object."""
    doc = asdict(tool)
    doc["scopes"] = list(tool.scopes)
    doc["deployment_ids"] = list(tool.deployment_ids)
    return doc


def tool_from_doc(doc: dict[str, Any]) -> Tool:
    """The tool a `tool_doc` describes."""
    fields = {k: doc[k] for k in Tool.__dataclass_fields__ if k in doc}
    fields["scopes"] = tuple(doc.get("scopes", ()))
    fields["deployment_ids"] = tuple(doc.get("deployment_ids", ()))
    return Tool(**fields)


def consumer_doc(consumer: Consumer) -> dict[str, Any]:
    """A consumer as a JSON object (its secret stays encrypted)."""
    return asdict(consumer)


def consumer_from_doc(doc: dict[str, Any]) -> Consumer:
    """The consumer a `consumer_doc` describes."""
    return Consumer(**{k: doc[k] for k in Consumer.__dataclass_fields__ if k in doc})
