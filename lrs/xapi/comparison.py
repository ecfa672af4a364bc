"""Statement comparison (1.0.3 Part 2 §2.3.1, "Statement Comparison Requirements").

Two statements are equivalent when they differ only in what the immutability exceptions allow:
properties the LRS assigns (id, authority, stored, version), timestamp serialisation, Verb
`display`, Activity definitions, the order of Group members, attachment content, and the case
of case-insensitive parts (an email's domain). Result duration is compared as a string, except
that xAPI 2.0 ignores precision finer than 0.01 s.
"""

from __future__ import annotations

import re
from typing import Any

from lrs.xapi.agents import ifi_key
from lrs.xapi.timestamps import timestamp_us

_ASSIGNED = ("id", "authority", "stored", "version")
_SECONDS = re.compile(r"(\d+)\.(\d{1,2})\d*S$")


def statements_equivalent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when storing `b` over `a` changes nothing the spec counts as the statement.

    A statement sent without a timestamp gets the LRS's (`stored`), so a missing timestamp on
    either side is not a difference.
    """
    left, right = comparable(a), comparable(b)
    if "timestamp" not in left or "timestamp" not in right:
        left.pop("timestamp", None)
        right.pop("timestamp", None)
    return left == right


def comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement reduced to what comparison looks at."""
    return {key: _value(key, value) for key, value in statement.items() if key not in _ASSIGNED}


def _value(key: str, value: Any) -> Any:
    if key == "timestamp" and isinstance(value, str):
        return timestamp_us(value)
    if key == "verb" and isinstance(value, dict):
        return {"id": value.get("id")}
    if key in ("actor", "instructor", "team", "member", "agent", "group"):
        return _agent(value)
    if key == "object" and isinstance(value, dict):
        return _object(value)
    if key == "context" and isinstance(value, dict):
        return _context(value)
    if key == "result" and isinstance(value, dict):
        return _result(value)
    if key == "attachments" and isinstance(value, list):
        return sorted((_plain(item) for item in value), key=repr)
    return _plain(value)


def _agent(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_agent(item) for item in value), key=repr)
    if not isinstance(value, dict):
        return value
    reduced = {k: _plain(v) for k, v in value.items() if k not in ("mbox", "member")}
    key = ifi_key({"mbox": value["mbox"]}) if "mbox" in value else None
    if key is not None:
        reduced["mbox"] = key
    if "member" in value:
        reduced["member"] = _agent(value["member"])
    return reduced


def _activity(value: dict[str, Any]) -> dict[str, Any]:
    # Activity definitions are not part of the statement (Part 2 §2.3.1).
    return {"objectType": value.get("objectType", "Activity"), "id": value.get("id")}


def _object(value: dict[str, Any]) -> Any:
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        return _activity(value)
    if kind in ("Agent", "Group"):
        return _agent(value)
    if kind == "StatementRef":
        return {"objectType": kind, "id": str(value.get("id", "")).lower()}
    if kind == "SubStatement":
        return comparable(value)
    return _plain(value)


def _context(value: dict[str, Any]) -> dict[str, Any]:
    reduced: dict[str, Any] = {}
    for key, item in value.items():
        if key == "contextActivities" and isinstance(item, dict):
            reduced[key] = {
                group: sorted(
                    (_activity(a) for a in (acts if isinstance(acts, list) else [acts])),
                    key=repr,
                )
                for group, acts in item.items()
            }
        elif key in ("contextAgents", "contextGroups") and isinstance(item, list):
            reduced[key] = sorted((comparable(entry) for entry in item), key=repr)
        elif key == "registration" and isinstance(item, str):
            reduced[key] = item.lower()
        elif key == "statement" and isinstance(item, dict):
            reduced[key] = _object(item)
        else:
            reduced[key] = _value(key, item)
    return reduced


def _result(value: dict[str, Any]) -> dict[str, Any]:
    reduced = {k: _plain(v) for k, v in value.items()}
    duration = value.get("duration")
    if isinstance(duration, str):
        # xAPI 2.0: precision beyond 0.01 s may be truncated and is ignored in comparisons.
        reduced["duration"] = _SECONDS.sub(lambda m: f"{m[1]}.{m[2]:0<2}S", duration)
    return reduced


def _plain(value: Any) -> Any:
    """Numbers compare by value (1 == 1.0), everything else as JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
