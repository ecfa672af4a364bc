"""The `format` parameter of GET /statements (1.0.3 Part 3 §2.1.3): ids and canonical forms.

`exact` needs no code: the store returns the bytes it was given. `ids` keeps only what
identifies each Agent, Group, Activity and Verb. `canonical` picks one language from every
language map by the request's Accept-Language, map by map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrs.xapi.agents import IFI_PROPERTIES

LanguagePicker = Callable[[dict[str, str]], dict[str, str]]


def ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement with Agents, Groups, Activities and Verbs reduced to their identifiers."""
    out = dict(statement)
    if "actor" in out:
        out["actor"] = _agent_ids(out["actor"])
    if "authority" in out:
        out["authority"] = _agent_ids(out["authority"])
    if isinstance(out.get("verb"), dict):
        out["verb"] = {"id": out["verb"].get("id")}
    if isinstance(out.get("object"), dict):
        out["object"] = _object_ids(out["object"])
    if isinstance(out.get("context"), dict):
        out["context"] = _context_ids(out["context"])
    return out


def _agent_ids(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    reduced = {k: agent[k] for k in ("objectType", *IFI_PROPERTIES) if k in agent}
    if agent.get("objectType") == "Group" and not any(k in agent for k in IFI_PROPERTIES):
        # Anonymous Groups keep the minimum needed to identify each member.
        reduced["member"] = [_agent_ids(m) for m in agent.get("member", [])]
    return reduced


def _object_ids(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        return _agent_ids(obj)
    if kind == "SubStatement":
        return ids_format(obj)
    if kind == "Activity":
        return {"id": obj.get("id")}
    return obj


def _context_ids(context: dict[str, Any]) -> dict[str, Any]:
    out = dict(context)
    for key in ("instructor", "team"):
        if key in out:
            out[key] = _agent_ids(out[key])
    groups = out.get("contextActivities")
    if isinstance(groups, dict):
        out["contextActivities"] = {
            name: [_object_ids(a) for a in (acts if isinstance(acts, list) else [acts])]
            for name, acts in groups.items()
        }
    for key, inner in (("contextAgents", "agent"), ("contextGroups", "group")):
        if isinstance(out.get(key), list):
            out[key] = [
                {**entry, inner: _agent_ids(entry.get(inner))} if isinstance(entry, dict) else entry
                for entry in out[key]
            ]
    return out


def canonical_format(statement: dict[str, Any], pick: LanguagePicker) -> dict[str, Any]:
    """The statement with every Activity and Verb language map reduced to one language."""
    out = dict(statement)
    if isinstance(out.get("verb"), dict) and isinstance(out["verb"].get("display"), dict):
        out["verb"] = {**out["verb"], "display": pick(out["verb"]["display"])}
    if isinstance(out.get("object"), dict):
        obj = out["object"]
        if obj.get("objectType", "Activity") == "Activity":
            out["object"] = _activity_languages(obj, pick)
        elif obj.get("objectType") == "SubStatement":
            out["object"] = canonical_format(obj, pick)
    context = out.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        out["context"] = {
            **context,
            "contextActivities": {
                name: [
                    _activity_languages(a, pick)
                    for a in (acts if isinstance(acts, list) else [acts])
                ]
                for name, acts in context["contextActivities"].items()
            },
        }
    return out


def _activity_languages(activity: Any, pick: LanguagePicker) -> Any:
    definition = activity.get("definition") if isinstance(activity, dict) else None
    if not isinstance(definition, dict):
        return activity
    new_def = dict(definition)
    for key in ("name", "description"):
        if isinstance(new_def.get(key), dict):
            new_def[key] = pick(new_def[key])
    for key in ("choices", "scale", "source", "target", "steps"):
        if isinstance(new_def.get(key), list):
            new_def[key] = [
                {**c, "description": pick(c["description"])}
                if isinstance(c, dict) and isinstance(c.get("description"), dict)
                else c
                for c in new_def[key]
            ]
    return {**activity, "definition": new_def}


def language_picker(accept_language: str | None) -> LanguagePicker:
    """A function choosing one entry of a language map by RFC 7231 Accept-Language."""
    ranges = _parse_accept_language(accept_language or "")

    def pick(language_map: dict[str, str]) -> dict[str, str]:
        if len(language_map) <= 1:
            return language_map
        lowered = {tag.lower(): tag for tag in language_map}
        for wanted in ranges:
            if wanted == "*":
                break
            for tag_lower, tag in lowered.items():
                if tag_lower == wanted or tag_lower.startswith(wanted + "-"):
                    return {tag: language_map[tag]}
        for fallback in ("en-us", "en"):
            if fallback in lowered:
                return {lowered[fallback]: language_map[lowered[fallback]]}
        first = next(iter(language_map))
        return {first: language_map[first]}

    return pick


def _parse_accept_language(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        fields = part.strip().split(";")
        tag = fields[0].strip().lower()
        if not tag:
            continue
        quality = 1.0
        for field in fields[1:]:
            name, _, value = field.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _q, _p, tag in sorted(weighted)]
