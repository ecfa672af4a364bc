"""AGS 2.0 scores (§4): what a tool posts, checked.

Required: `userId` (non-empty string), `activityProgress` (Initialized, Started, InProgress,
Submitted, Completed), `gradingProgress` (FullyGraded, Pending, PendingManual, Failed, NotReady),
`timestamp` (ISO 8601 with a time zone: scores are ordered by it). `scoreGiven` is a number >= 0
and needs `scoreMaximum`, a number > 0; a scoreGiven above scoreMaximum is allowed (extra
credit). `comment` is a string. Other properties are kept as sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from lrs.errors import ValidationError
from lrs.xapi.timestamps import timestamp_us
from lti.lineitems import check_zoned_timestamp, is_number

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
MAX_SCORE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Score:
    """A checked score: the JSON as sent, and its instant in microseconds."""

    raw: dict[str, Any]
    timestamp_us: int

    @property
    def user_id(self) -> str:
        """The LTI user id (the platform's user id of the learner)."""
        return str(self.raw["userId"])

    @property
    def counts(self) -> bool:
        """Whether scoreGiven counts: only a FullyGraded score with a scoreGiven does."""
        return self.raw["gradingProgress"] == "FullyGraded" and "scoreGiven" in self.raw

    @property
    def final(self) -> bool:
        """The grade is final: the activity is Completed and the grading FullyGraded."""
        return (
            self.raw["activityProgress"] == "Completed"
            and self.raw["gradingProgress"] == "FullyGraded"
        )

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the score's canonical JSON: tells a retry from a different score."""
        canonical = orjson.dumps(self.raw, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


def parse_score(body: Any) -> Score:
    """A checked Score, or a ValidationError naming the first problem."""
    if not isinstance(body, dict):
        raise ValidationError("a score is a JSON object")
    if len(orjson.dumps(body)) > MAX_SCORE_BYTES:
        raise ValidationError(f"a score is at most {MAX_SCORE_BYTES} bytes of JSON")
    user = body.get("userId")
    if not isinstance(user, str) or not user:
        raise ValidationError("userId is required: a non-empty string", path="userId")
    for name, allowed in (
        ("activityProgress", ACTIVITY_PROGRESS),
        ("gradingProgress", GRADING_PROGRESS),
    ):
        if body.get(name) not in allowed:
            raise ValidationError(f"{name} is required: one of {', '.join(allowed)}", path=name)
    check_zoned_timestamp(body.get("timestamp"), "timestamp")
    raw = dict(body)
    if raw.get("scoreGiven") is None:
        raw.pop("scoreGiven", None)
    if raw.get("scoreMaximum") is None:
        raw.pop("scoreMaximum", None)
    if "scoreGiven" in raw:
        if not is_number(raw["scoreGiven"]) or raw["scoreGiven"] < 0:
            raise ValidationError("scoreGiven must be a number >= 0", path="scoreGiven")
        if "scoreMaximum" not in raw:
            raise ValidationError("scoreMaximum is required with scoreGiven", path="scoreMaximum")
    if "scoreMaximum" in raw and (not is_number(raw["scoreMaximum"]) or raw["scoreMaximum"] <= 0):
        raise ValidationError("scoreMaximum must be a number above 0", path="scoreMaximum")
    if raw.get("comment") is None:
        raw.pop("comment", None)
    elif not isinstance(raw["comment"], str):
        raise ValidationError("comment must be a string", path="comment")
    return Score(raw=raw, timestamp_us=timestamp_us(raw["timestamp"]))
