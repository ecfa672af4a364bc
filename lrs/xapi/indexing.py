"""What a statement answers to in GET /statements filters (1.0.3 Part 3 §2.1.3).

`index_statement` is pure: the statement service adds the keys of a StatementRef's target.
"""

from __future__ import annotations

from typing import Any

from lrs.model.statements import KIND_BIT, StatementIndex
from lrs.xapi.agents import agent_keys

_AGENT = KIND_BIT["agents"] | KIND_BIT["related_agents"]
_RELATED_AGENT = KIND_BIT["related_agents"]
_ACTIVITY = KIND_BIT["activities"] | KIND_BIT["related_activities"]
_RELATED_ACTIVITY = KIND_BIT["related_activities"]
_VERB = KIND_BIT["verbs"]
_REGISTRATION = KIND_BIT["registrations"]
_AUTHORITY = KIND_BIT["authorities"]


def _add(bits: dict[str, int], key: str, kinds: int) -> None:
    bits[key] = bits.get(key, 0) | kinds


def _add_agent(bits: dict[str, int], actor: Any, kinds: int) -> None:
    for key in agent_keys(actor):
        _add(bits, key, kinds)


def _add_level(bits: dict[str, int], statement: dict[str, Any], top: bool) -> Any:
    """A statement's or SubStatement's actor, object and context keys; returns its object.

    The SubStatement's keys count only for the related kinds (Part 3 §2.1.3: related_agents
    and related_activities look into a SubStatement; agent and activity do not)."""
    agent = _AGENT if top else _RELATED_AGENT
    activity = _ACTIVITY if top else _RELATED_ACTIVITY
    _add_agent(bits, statement.get("actor"), agent)
    obj = statement.get("object")
    if isinstance(obj, dict):
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            if isinstance(activity_id := obj.get("id"), str):
                _add(bits, activity_id, activity)
        elif kind in ("Agent", "Group"):
            _add_agent(bits, obj, agent)
    context = statement.get("context")
    if isinstance(context, dict):
        _add_agent(bits, context.get("instructor"), _RELATED_AGENT)
        _add_agent(bits, context.get("team"), _RELATED_AGENT)
        # xAPI 2.0.0: contextAgents and contextGroups are agents of the statement too.
        for entry in context.get("contextAgents") or ():
            if isinstance(entry, dict):
                _add_agent(bits, entry.get("agent"), _RELATED_AGENT)
        for entry in context.get("contextGroups") or ():
            if isinstance(entry, dict):
                _add_agent(bits, entry.get("group"), _RELATED_AGENT)
        groups = context.get("contextActivities")
        if isinstance(groups, dict):
            for value in groups.values():
                for item in value if isinstance(value, list) else (value,):
                    if isinstance(item, dict) and isinstance(item_id := item.get("id"), str):
                        _add(bits, item_id, _RELATED_ACTIVITY)
    return obj


def index_statement(statement: dict[str, Any], authority_key: str | None) -> StatementIndex:
    """The filter keys of a statement, its SubStatement's included in the related kinds.

    One pass adding each key's kind bits (see `StatementIndex`): it runs for every statement
    stored, so it builds no per-kind lists to merge afterwards.
    """
    bits: dict[str, int] = {}
    obj = _add_level(bits, statement, top=True)
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        _add_level(bits, obj, top=False)
    _add_agent(bits, statement.get("authority"), _RELATED_AGENT)
    verb = statement.get("verb")
    if isinstance(verb, dict) and isinstance(verb_id := verb.get("id"), str):
        _add(bits, verb_id, _VERB)
    context = statement.get("context")
    if isinstance(context, dict) and isinstance(registration := context.get("registration"), str):
        _add(bits, registration.lower(), _REGISTRATION)
    if authority_key:
        _add(bits, authority_key, _AUTHORITY)
    return StatementIndex(bits)


def statement_ref_target(statement: dict[str, Any]) -> str | None:
    """The id a statement targets through a StatementRef object, if any."""
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "StatementRef":
        target = obj.get("id")
        return target.lower() if isinstance(target, str) else None
    return None
