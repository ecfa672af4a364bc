"""What a statement answers to in GET /statements filters (1.0.3 Part 3 §2.1.3).

`index_statement` is pure: the statement service adds the keys of a StatementRef's target.
"""

from __future__ import annotations

from typing import Any

from lrs.store.base import StatementIndex
from lrs.xapi.agents import agent_keys, is_agent_like

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"


def _unique(keys: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


def _context_activity_ids(context: Any) -> list[str]:
    if not isinstance(context, dict):
        return []
    ids: list[str] = []
    groups = context.get("contextActivities")
    if isinstance(groups, dict):
        for value in groups.values():
            for activity in value if isinstance(value, list) else [value]:
                if isinstance(activity, dict) and isinstance(activity.get("id"), str):
                    ids.append(activity["id"])
    return ids


def _context_agent_keys(context: Any) -> list[str]:
    if not isinstance(context, dict):
        return []
    keys = agent_keys(context.get("instructor")) + agent_keys(context.get("team"))
    # xAPI 2.0.0: contextAgents and contextGroups are agents of the statement too.
    for entry in context.get("contextAgents") or ():
        if isinstance(entry, dict):
            keys += agent_keys(entry.get("agent"))
    for entry in context.get("contextGroups") or ():
        if isinstance(entry, dict):
            keys += agent_keys(entry.get("group"))
    return keys


def _activity_id(obj: Any) -> str | None:
    if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
        value = obj.get("id")
        return value if isinstance(value, str) else None
    return None


def _parts(statement: dict[str, Any]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(agents, related agents, activities, related activities) of one statement level."""
    obj = statement.get("object")
    agents = agent_keys(statement.get("actor"))
    if is_agent_like(obj):
        agents += agent_keys(obj)
    related_agents = agents + _context_agent_keys(statement.get("context"))
    activity = _activity_id(obj)
    activities = [activity] if activity else []
    related_activities = activities + _context_activity_ids(statement.get("context"))
    return agents, related_agents, activities, related_activities


def index_statement(statement: dict[str, Any], authority_key: str | None) -> StatementIndex:
    """The filter keys of a statement, its SubStatement's included in the related kinds."""
    agents, related_agents, activities, related_activities = _parts(statement)
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        _a, sub_related_agents, _b, sub_related_activities = _parts(obj)
        related_agents += sub_related_agents
        related_activities += sub_related_activities
    related_agents += agent_keys(statement.get("authority"))
    verb = statement.get("verb", {}).get("id")
    context = statement.get("context")
    registration = context.get("registration") if isinstance(context, dict) else None
    return StatementIndex(
        agents=_unique(agents),
        related_agents=_unique(related_agents),
        verbs=(verb,) if isinstance(verb, str) else (),
        activities=_unique(activities),
        related_activities=_unique(related_activities),
        registrations=(registration.lower(),) if isinstance(registration, str) else (),
        authorities=(authority_key,) if authority_key else (),
    )


def statement_ref_target(statement: dict[str, Any]) -> str | None:
    """The id a statement targets through a StatementRef object, if any."""
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "StatementRef":
        target = obj.get("id")
        return target.lower() if isinstance(target, str) else None
    return None


def voided_target(statement: dict[str, Any]) -> str | None:
    """The id a voiding statement voids (1.0.3 Part 2 §2.3.2), or None."""
    if statement.get("verb", {}).get("id") != VOIDED_VERB:
        return None
    return statement_ref_target(statement)
