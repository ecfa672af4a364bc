"""Maximum lengths of CMI values: each element's SCORM "smallest permitted maximum", times a factor.

The SCORM books give every character-string element a smallest permitted maximum (SPM): the
length an LMS must at least store. Real content often relies on LMSs storing more (SCORM 1.2
courses commonly overflow the 4,096 characters of `cmi.suspend_data`), so the endpoint accepts
up to `factor` * SPM characters (LRS_SCORM_MAX_VALUE_FACTOR, default 16: 1.2 suspend data up to
65,536 characters, 2004 suspend data up to 1,024,000), and refuses a longer value with a
ScormDataError naming the element (400, nothing written), like any other value it cannot keep.

SPMs, in characters:

- SCORM 1.2 RTE §3.4: CMIString4096 elements (suspend_data, launch_data, comments,
  comments_from_lms) 4,096; CMIString255 / CMIIdentifier / CMIFeedback elements, and every other
  element, 255.
- SCORM 2004 4th Edition RTE §4.2: suspend_data and adl.data.n.store 64,000; location 1,000;
  localized strings (learner_name, interactions.n.description, objectives.n.description) 250;
  comment locations and learner_preference.language 250; learner_response and
  correct_responses.n.pattern 62,749 (the largest over the interaction types: a `performance`
  response of 125 steps of two 250-character parts, `[.]` between them, `[,]` between steps,
  counted as one character each); every other element (identifiers, comments, launch data,
  numbers, times, vocabularies) 4,000.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from scorm_adapter.cmi import ScormVersion
from scorm_adapter.errors import ScormDataError

DEFAULT_FACTOR = 16

_SPM_12 = {"cmi.suspend_data": 4096, "cmi.launch_data": 4096, "cmi.comments": 4096}
_SPM_12 |= {"cmi.comments_from_lms": 4096}
_SPM_2004 = {
    "cmi.suspend_data": 64000,
    "cmi.location": 1000,
    "cmi.learner_name": 250,
    "cmi.learner_preference.language": 250,
}
_INDEXED_2004 = [
    (re.compile(r"^adl\.data\.\d+\.store$"), 64000),
    (re.compile(r"^cmi\.(interactions|objectives)\.\d+\.description$"), 250),
    (re.compile(r"^cmi\.comments_from_(learner|lms)\.\d+\.location$"), 250),
    (
        re.compile(r"^cmi\.interactions\.\d+\.(learner_response|correct_responses\.\d+\.pattern)$"),
        62749,
    ),
]
_OTHER = {"1.2": 255, "2004": 4000}


def smallest_permitted_maximum(name: str, version: ScormVersion) -> int:
    """The SPM of element `name` in `version`'s data model, in characters."""
    if version == "1.2":
        return _SPM_12.get(name, _OTHER["1.2"])
    if name in _SPM_2004:
        return _SPM_2004[name]
    for pattern, spm in _INDEXED_2004:
        if pattern.match(name):
            return spm
    return _OTHER["2004"]


def check_value_lengths(
    elements: Mapping[str, str], version: ScormVersion, factor: int = DEFAULT_FACTOR
) -> None:
    """ScormDataError naming the first element whose value is longer than factor * its SPM."""
    for name, value in elements.items():
        cap = factor * smallest_permitted_maximum(name, version)
        if len(value) > cap:
            spm = smallest_permitted_maximum(name, version)
            raise ScormDataError(
                name,
                f"{len(value)} characters, more than this LRS keeps ({cap}: {factor} x the "
                f"SCORM {version} smallest permitted maximum of {spm})",
            )
