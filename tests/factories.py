"""Test data factories: small, valid xAPI objects that tests change one property at a time."""

from __future__ import annotations

from typing import Any

# Pass as an override value to drop that property from the result.
DELETE: Any = object()


def make_statement(**overrides: Any) -> dict[str, Any]:
    """A fresh minimal valid xAPI statement (1.0.3 and 2.0.0), with top-level overrides applied."""
    statement: dict[str, Any] = {
        "actor": {
            "objectType": "Agent",
            "name": "Test Learner",
            "mbox": "mailto:learner@example.com",
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/attempted",
            "display": {"en-US": "attempted"},
        },
        "object": {
            "objectType": "Activity",
            "id": "http://example.com/activities/unit-test",
        },
    }
    for key, value in overrides.items():
        if value is DELETE:
            statement.pop(key, None)
        else:
            statement[key] = value
    return statement
