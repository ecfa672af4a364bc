"""IRIs the LTI adapter puts in statements, and the media types of AGS 2.0.

Verbs and activity types are ADL's (the same ones the SCORM adapter uses). LTI defines no xAPI
vocabulary, so the few names of this platform's own making live under one URN namespace,
`urn:lrs-marketplace:lti:`, which no web domain owns and which never changes with the LRS's URL.
"""

from __future__ import annotations

from typing import Final

ADL_VERBS: Final = "http://adlnet.gov/expapi/verbs/"
SCORED: Final = ADL_VERBS + "scored"
COMPLETED: Final = ADL_VERBS + "completed"
PASSED: Final = ADL_VERBS + "passed"
FAILED: Final = ADL_VERBS + "failed"
ASSESSMENT: Final = "http://adlnet.gov/expapi/activities/assessment"

OWN: Final = "urn:lrs-marketplace:lti:"
# A line item property (and tool/consumer setting): the scaled score needed to pass, 0.0-1.0.
PASSING_THRESHOLD: Final = OWN + "passingThreshold"
# Result extension: the AGS score exactly as the tool sent it.
AGS_SCORE: Final = OWN + "agsScore"
# Result extension: the LTI 1.1 resultScore as sent, and the message that carried it.
OUTCOME: Final = OWN + "basicOutcome"

# AGS 2.0 media types.
LINEITEM_MEDIA: Final = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_MEDIA: Final = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_MEDIA: Final = "application/vnd.ims.lis.v1.score+json"
RESULTS_MEDIA: Final = "application/vnd.ims.lis.v2.resultcontainer+json"
