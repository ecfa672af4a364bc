"""The LTI Assignment and Grade Services 2.0 scopes (AGS §3.1, §4.1, §5.1)."""

from __future__ import annotations

from typing import Final

AGS: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM: Final = AGS + "lineitem"
LINEITEM_READONLY: Final = AGS + "lineitem.readonly"
RESULT_READONLY: Final = AGS + "result.readonly"
SCORE: Final = AGS + "score"
AGS_SCOPES: Final = (LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE)

# What each kind of request needs: any one of the listed scopes suffices.
READ_LINE_ITEMS: Final = (LINEITEM, LINEITEM_READONLY)
WRITE_LINE_ITEMS: Final = (LINEITEM,)
READ_RESULTS: Final = (RESULT_READONLY,)
POST_SCORES: Final = (SCORE,)


def parse_scopes(text: str) -> tuple[str, ...]:
    """Scopes from a space-separated list (`all` for every AGS scope); ValueError on unknown."""
    words = text.split()
    if words == ["all"]:
        return AGS_SCOPES
    names = {s.removeprefix(AGS): s for s in AGS_SCOPES}
    scopes = []
    for word in words:
        scope = word if word in AGS_SCOPES else names.get(word)
        if scope is None:
            raise ValueError(f"unknown AGS scope {word!r}; known: {' '.join(AGS_SCOPES)}")
        scopes.append(scope)
    if not scopes:
        raise ValueError("name at least one scope")
    return tuple(dict.fromkeys(scopes))
