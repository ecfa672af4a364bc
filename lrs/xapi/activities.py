"""Canonical Activity definitions (1.0.3 Part 2 §2.4.4.1, Part 3 §2.5).

The LRS keeps one definition per activity id, merged from the statements that mention it:
language maps (`name`, `description`, interaction component descriptions) are merged language
by language, `extensions` key by key, other properties replaced by the newer value. A
statement may create the definition of an activity the LRS has never seen; only a credential
with the `define` (or `all`) scope may change an existing one (Part 3 §4.2: `define`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from lrs.model.statements import DefinitionMerge
from lrs.xapi.agents import ifi_key

LANGUAGE_MAPS = ("name", "description")


def activities_in(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Activity object of a statement: object, context activities, SubStatement's."""
    for level in (statement, statement.get("object")):
        if not isinstance(level, dict):
            continue
        obj = level.get("object")
        if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
            yield obj
        context = level.get("context")
        groups = context.get("contextActivities") if isinstance(context, dict) else None
        if isinstance(groups, dict):
            for acts in groups.values():
                for activity in acts if isinstance(acts, list) else [acts]:
                    if isinstance(activity, dict):
                        yield activity


def activity_ids(statement: dict[str, Any]) -> list[str]:
    """The ids of every Activity a statement mentions."""
    return [a["id"] for a in activities_in(statement) if isinstance(a.get("id"), str)]


def definitions_in(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The activity definitions a batch carries, merged per activity id in batch order."""
    found: dict[str, dict[str, Any]] = {}
    for statement in statements:
        for activity in activities_in(statement):
            definition = activity.get("definition")
            if isinstance(definition, dict) and isinstance(activity_id := activity.get("id"), str):
                current = found.get(activity_id)
                if current != definition:  # the same definition again merges to itself
                    found[activity_id] = merge_definition(current, definition)
    return found


def merge_definition(current: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new` merged over `current` (see the module docstring)."""
    if current is None:
        return dict(new)
    merged = dict(current)
    for key, value in new.items():
        old = merged.get(key)
        if (key in LANGUAGE_MAPS or key == "extensions") and isinstance(old, dict):
            merged[key] = {**old, **value} if isinstance(value, dict) else value
        else:
            merged[key] = value
    return merged


def merger(may_define: bool) -> DefinitionMerge:
    """The merge to apply for a credential: create-only unless it may define."""

    def merge(current: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
        if current is not None and not may_define:
            return current
        return merge_definition(current, new)

    return merge


def with_canonical(statement: dict[str, Any], canonical: dict[str, dict[str, Any]]) -> None:
    """Replace, in place, each activity's definition by the canonical one the LRS holds."""
    for activity in activities_in(statement):
        definition = canonical.get(activity.get("id", ""))
        if definition is not None:
            activity["definition"] = definition


def person_of(agent: dict[str, Any], known_names: Sequence[str] = ()) -> dict[str, Any]:
    """The Person object (Part 3 §2.4) for an agent: its IFI, and every name the LRS has seen
    used with that IFI, each property an array."""
    person: dict[str, Any] = {"objectType": "Person"}
    names = list(dict.fromkeys([*(x for x in [agent.get("name")] if x), *known_names]))
    if names:
        person["name"] = names
    for key in ("mbox", "mbox_sha1sum", "openid", "account"):
        if key in agent:
            person[key] = [agent[key]]
    return person


def names_of(statement: dict[str, Any], ifi: str) -> list[str]:
    """The names given to the agent with IFI key `ifi` in a statement's actor and object."""
    found = []
    for holder in (statement.get("actor"), statement.get("object")):
        candidates = [holder] if isinstance(holder, dict) else []
        if isinstance(holder, dict) and holder.get("objectType") == "Group":
            candidates += [m for m in holder.get("member") or () if isinstance(m, dict)]
        for candidate in candidates:
            if ifi_key(candidate) == ifi and isinstance(candidate.get("name"), str):
                found.append(candidate["name"])
    return found
