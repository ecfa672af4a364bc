"""Errors of the SCORM adapter.

    ValueError
    └── ScormDataError   one SCORM data element (or export column) holds a value the adapter
                         cannot map; names the element: "cmi.core.score.raw: not a number"

The adapter raises nothing else for bad input. The HTTP endpoint turns a ScormDataError into a
400 whose body names the element; the bulk import turns it into a rejected row.
"""

from __future__ import annotations


class ScormDataError(ValueError):
    """A SCORM data element holds a value that cannot be mapped; `element` names it."""

    def __init__(self, element: str, problem: str) -> None:
        super().__init__(f"{element}: {problem}")
        self.element = element
        self.problem = problem
