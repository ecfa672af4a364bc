"""xAPI version negotiation (1.0.3 Part 3 §3.3; 2.0.0 differences §3).

The `X-Experience-API-Version` request header picks the rules for the whole request: the
statement validator, the document concurrency rules, and whether the 1.0.3 alternate request
syntax is allowed. Responses carry the latest patch of the family the client asked for.
"""

from __future__ import annotations

import re

from lrs.errors import BadRequest

V1 = "1.0.3"
V2 = "2.0.0"
SUPPORTED = (V1, V2)
# The version the adapters (SCORM, LTI) write their statements under: their profiles and
# converters are written for xAPI 1.0.x.
XAPI_VERSION = V1
HEADER = "X-Experience-API-Version"

_V1_RE = re.compile(r"^1\.0(\.\d+)?$")
_V2_RE = re.compile(r"^2\.0(\.\d+)?$")


class VersionError(BadRequest):
    """The request names no xAPI version this LRS serves."""

    code = "unsupported_version"


def negotiate(header: str | None) -> str:
    """The version whose rules apply to a request with this header value."""
    if header is None or header.strip() == "":
        # xAPI 1.0.3 Part 3 §3.3: reject requests without a version header.
        raise VersionError(f"the {HEADER} header is required")
    value = header.strip()
    if _V1_RE.match(value):
        # 1.0.3 Part 3 §3.3: accept "1.0" and any "1.0.x" as 1.0.x.
        return V1
    if _V2_RE.match(value):
        return V2
    # 1.0.3 Part 3 §3.3: reject versions before 1.0.0 and 1.1.0 or greater with 400.
    raise VersionError(f"unsupported {HEADER}: {value!r}; this LRS serves 1.0.x and 2.0.x")


def is_v2(version: str) -> bool:
    """True when the request follows xAPI 2.0 rules."""
    return version == V2
