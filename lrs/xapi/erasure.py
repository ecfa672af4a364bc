"""Erasing a person from statements: which agent places name them, and what replaces them.

Statements are immutable in xAPI (1.0.3 Part 2 §2.3.2); erasing a person's identifiers from
stored statements is an exception made for a legal obligation (a data subject's erasure
request), not an xAPI operation. The places looked at are every place an Agent or Group can
stand, which are the places the `agent` filter (with `related_agents`) matches
(`lrs.xapi.indexing`): actor, an Agent or Group object, context instructor and team, xAPI 2.0.0
contextAgents and contextGroups, authority, each Group's members, and the same inside a
SubStatement.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from lrs.xapi.agents import IFI_PROPERTIES, ifi_key

# the path under the LRS's base URL that pseudonymous accounts are homed on
ERASED_HOME_PATH = "/erased"


def pseudonymous_agent(home_page: str, name: str) -> dict[str, Any]:
    """The account Agent that stands for an erased person (`name`: the caller's opaque id)."""
    return {"account": {"homePage": home_page, "name": name}}


def _replaced(agent: dict[str, Any], replacement: dict[str, Any]) -> dict[str, Any]:
    """`agent` without its name and IFI, carrying the replacement's IFI instead."""
    kept = {k: v for k, v in agent.items() if k not in IFI_PROPERTIES and k != "name"}
    return {**kept, **replacement}


class _Rewriter:
    """Replaces every agent whose IFI key is in `keys`; counts the replacements."""

    def __init__(self, keys: Collection[str], replacement: dict[str, Any]) -> None:
        self.keys = keys
        self.replacement = replacement
        self.changed = 0

    def agent(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if ifi_key(value) in self.keys:
            value = _replaced(value, self.replacement)
            self.changed += 1
        members = value.get("member")
        if isinstance(members, list):
            value = {**value, "member": [self.agent(m) for m in members]}
        return value

    def level(self, statement: dict[str, Any]) -> dict[str, Any]:
        out = dict(statement)
        for name in ("actor", "authority"):
            if name in out:
                out[name] = self.agent(out[name])
        obj = out.get("object")
        if isinstance(obj, dict):
            kind = obj.get("objectType")
            if kind in ("Agent", "Group"):
                out["object"] = self.agent(obj)
            elif kind == "SubStatement":
                out["object"] = self.level(obj)
        context = out.get("context")
        if isinstance(context, dict):
            out["context"] = self.context(context)
        return out

    def context(self, context: dict[str, Any]) -> dict[str, Any]:
        out = dict(context)
        for name in ("instructor", "team"):
            if name in out:
                out[name] = self.agent(out[name])
        for name, field in (("contextAgents", "agent"), ("contextGroups", "group")):
            entries = out.get(name)
            if isinstance(entries, list):
                out[name] = [
                    {**e, field: self.agent(e.get(field))}
                    if isinstance(e, dict) and field in e
                    else e
                    for e in entries
                ]
        return out


def erase_agents(
    statement: dict[str, Any], keys: Collection[str], replacement: dict[str, Any]
) -> dict[str, Any] | None:
    """`statement` with every agent whose IFI key is in `keys` replaced, or None when no agent
    place names them (the statement only inherits their keys through a StatementRef)."""
    rewriter = _Rewriter(keys, replacement)
    out = rewriter.level(statement)
    return out if rewriter.changed else None


def erase_agents_raw(
    raw: bytes, keys: Collection[str], replacement: dict[str, Any]
) -> bytes | None:
    """`erase_agents` on a stored statement's JSON bytes."""
    out = erase_agents(orjson.loads(raw), keys, replacement)
    return None if out is None else orjson.dumps(out)
