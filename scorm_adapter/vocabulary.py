"""The ADL xAPI SCORM Profile's vocabulary: verbs, activity types, the profile activity, documents.

Source: ADL "Experience API SCORM Profile" (xapi-scorm-profile.md), §3.2 (Verb table, Activity
Types table, Context Activities table) and the Appendix "xAPI SCORM Data Objects" (state and
profile document ids). Everything here is a constant the profile names; nothing is invented.

Extensions: the profile defines no statement extension IRIs (its only IRIs under
https://w3id.org/xapi/scorm are the profile activity and the document ids below), so the adapter
emits no `extensions`. SCORM data the profile maps to documents rather than statements (location,
suspend data, preferences, credit, mode, launch data, ...) is not turned into statements.
"""

from __future__ import annotations

from typing import Any, Final

ADL_VERBS: Final = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES: Final = "http://adlnet.gov/expapi/activities/"

# §3.2 Verb: "those implementing this profile shall use the verbs maintained by ADL". The SCORM
# meaning of each is in the profile's verb table; commented and progressed are used in §6.
INITIALIZED: Final = ADL_VERBS + "initialized"
RESUMED: Final = ADL_VERBS + "resumed"
SUSPENDED: Final = ADL_VERBS + "suspended"
TERMINATED: Final = ADL_VERBS + "terminated"
COMPLETED: Final = ADL_VERBS + "completed"
PASSED: Final = ADL_VERBS + "passed"
FAILED: Final = ADL_VERBS + "failed"
SCORED: Final = ADL_VERBS + "scored"
PROGRESSED: Final = ADL_VERBS + "progressed"
RESPONDED: Final = ADL_VERBS + "responded"
COMMENTED: Final = ADL_VERBS + "commented"

VERBS: Final[dict[str, str]] = {
    iri.removeprefix(ADL_VERBS): iri
    for iri in (
        INITIALIZED,
        RESUMED,
        SUSPENDED,
        TERMINATED,
        COMPLETED,
        PASSED,
        FAILED,
        SCORED,
        PROGRESSED,
        RESPONDED,
        COMMENTED,
    )
}
"""Verb name → IRI, for every verb the adapter emits."""

# §3.2 Activity Types table.
COURSE_TYPE: Final = ADL_ACTIVITIES + "course"
MODULE_TYPE: Final = ADL_ACTIVITIES + "module"
SCO_TYPE: Final = ADL_ACTIVITIES + "lesson"
ASSESSMENT_TYPE: Final = ADL_ACTIVITIES + "assessment"
# The profile's table says `interaction`; xAPI 1.0.3 Part 2 §2.4.4.1 would prefer
# `cmi.interaction` ("SHOULD"). This adapter follows the profile.
INTERACTION_TYPE: Final = ADL_ACTIVITIES + "interaction"
OBJECTIVE_TYPE: Final = ADL_ACTIVITIES + "objective"
ATTEMPT_TYPE: Final = ADL_ACTIVITIES + "attempt"
PROFILE_TYPE: Final = ADL_ACTIVITIES + "profile"

# §3.2 Context Activities, category: "All Statements based on this profile shall include the
# xAPI SCORM Profile activity."
PROFILE_IRI: Final = "https://w3id.org/xapi/scorm"

# Appendix, xAPI SCORM Data Objects: the document ids (not used in statements).
ACTIVITY_STATE_ID: Final = "https://w3id.org/xapi/scorm/activity-state"
ATTEMPT_STATE_ID: Final = "https://w3id.org/xapi/scorm/attempt-state"
ACTIVITY_PROFILE_ID: Final = "https://w3id.org/xapi/scorm/activity-profile"
AGENT_PROFILE_ID: Final = "https://w3id.org/xapi/scorm/agent-profile"
SUSPEND_DATA_STATE_ID: Final = "https://w3id.org/xapi/scorm/types/adl-suspend-data"

# xAPI 1.0.3 Part 2 §2.4.4.1, Interaction Activities: the valid interactionType values. SCORM
# 2004's cmi.interactions.n.type vocabulary is the same set.
INTERACTION_TYPES: Final = frozenset(
    {
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    }
)


def verb(name: str) -> dict[str, Any]:
    """The verb object for one of VERBS, with its en-US display: `verb("passed")`."""
    return {"id": VERBS[name], "display": {"en-US": name}}


def profile_category() -> dict[str, Any]:
    """The profile activity every statement carries in contextActivities.category (§3.2)."""
    return {"id": PROFILE_IRI, "definition": {"type": PROFILE_TYPE}}
