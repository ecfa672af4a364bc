"""AGS 2.0 line items (§3.2) and results (§5): parsing what a tool sends, shaping what it gets.

A line item is kept as the JSON the tool sent minus `id` (the platform assigns it), so extension
properties and later additions to the spec survive untouched; the properties the spec defines are
checked: `label` (required, non-empty), `scoreMaximum` (required, > 0), `resourceLinkId`,
`resourceId`, `tag` (strings), `startDateTime`, `endDateTime` (ISO 8601 with a time zone),
`gradesReleased` (boolean), and this platform's `urn:lrs-marketplace:lti:passingThreshold`
(0.0-1.0, see `lti.converters`).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, TypeGuard

import orjson

from lrs.errors import ValidationError
from lrs.xapi.timestamps import parse_timestamp
from lti.store.base import LineItem, ScoreRecord
from lti.vocabulary import PASSING_THRESHOLD

MAX_LINE_ITEM_BYTES = 64 * 1024
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})$")


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number (not a boolean), finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_zoned_timestamp(value: Any, path: str) -> None:
    """ValidationError unless `value` is an ISO 8601 date-time string with a time zone.

    AGS 2.0 §3.2.6-7 and §4.3.6: ISO 8601 date-times with a zone. The shape is checked by
    pattern, then every field by the calendar and clock (month 1-12, a day the month has, hour
    0-23, minute and second 0-59, offset under 24 h): `12:99:00Z` or `02-30` is refused.
    """
    if not isinstance(value, str) or not _ISO.match(value.strip()) or not _real_instant(value):
        raise ValidationError(
            f"{path} must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00.000Z",
            path=path,
        )


def _real_instant(value: str) -> bool:
    try:
        parse_timestamp(value)
    except ValidationError:
        return False
    return True


def parse_line_item(body: Any, *, item_id: str | None = None) -> dict[str, Any]:
    """The properties of a line item sent by a tool (POST, or PUT of `item_id`)."""
    if not isinstance(body, dict):
        raise ValidationError("a line item is a JSON object")
    if len(orjson.dumps(body)) > MAX_LINE_ITEM_BYTES:
        raise ValidationError(f"a line item is at most {MAX_LINE_ITEM_BYTES} bytes of JSON")
    sent_id = body.get("id")
    if (
        sent_id is not None
        and item_id is not None
        and not str(sent_id).rstrip("/").endswith(f"/lineitems/{item_id}")
    ):
        raise ValidationError("the line item's id does not match the URL", path="id")
    properties = {k: v for k, v in body.items() if k != "id"}
    label = properties.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValidationError("label is required: a non-empty string", path="label")
    maximum = properties.get("scoreMaximum")
    if not is_number(maximum) or maximum <= 0:
        raise ValidationError("scoreMaximum is required: a number above 0", path="scoreMaximum")
    for name in ("resourceLinkId", "resourceId", "tag"):
        if name in properties and not isinstance(properties[name], str):
            raise ValidationError(f"{name} must be a string", path=name)
    for name in ("startDateTime", "endDateTime"):
        if name in properties:
            check_zoned_timestamp(properties[name], name)
    if "gradesReleased" in properties and not isinstance(properties["gradesReleased"], bool):
        raise ValidationError("gradesReleased must be true or false", path="gradesReleased")
    if PASSING_THRESHOLD in properties:
        threshold = properties[PASSING_THRESHOLD]
        if not is_number(threshold) or not 0 <= threshold <= 1:
            raise ValidationError(
                f"{PASSING_THRESHOLD} must be a number from 0 to 1", path=PASSING_THRESHOLD
            )
    return properties


def line_item_json(item: LineItem, url: str) -> dict[str, Any]:
    """The line item as the tool gets it back."""
    return {"id": url, **item.properties}


def result_json(record: ScoreRecord, item: LineItem, *, item_url: str, result_url: str) -> dict:
    """A result (AGS 2.0 §5.2): the user's last score scaled to the line item's scoreMaximum.

    `resultScore` is there only when the score counts (gradingProgress FullyGraded, with a
    scoreGiven): scoreGiven rescaled from the score's scoreMaximum to the line item's (see
    `rescale`); `resultMaximum` is the line item's scoreMaximum.
    """
    score = record.score
    result: dict[str, Any] = {
        "id": result_url,
        "scoreOf": item_url,
        "userId": record.user_id,
        "resultMaximum": item.score_maximum,
    }
    given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
    if score.get("gradingProgress") == "FullyGraded" and is_number(given) and is_number(maximum):
        result["resultScore"] = rescale(given, maximum, item.score_maximum)
    if isinstance(score.get("comment"), str):
        result["comment"] = score["comment"]
    return result


def rescale(given: float, maximum: float, target: float) -> float:
    """`given` out of `maximum` expressed out of `target`, without binary floating-point noise.

    Equal maxima return `given` exactly as sent (55 of 100 stays 55, not 55.00000000000001).
    Otherwise the numbers are taken as the decimals the tool wrote (their shortest repr), the
    product given * target is formed first and divided by `maximum` in decimal arithmetic
    (28 significant digits), and the result is the float nearest to that quotient: 7 of 3 on
    a maximum of 3 is 7, 0.1 of 0.3 on 0.9 is 0.3. A quotient with no finite decimal form
    (1 of 3 on 100) is the nearest float, 33.333333333333336.
    """
    if maximum == target:
        return given
    exact = Decimal(repr(given)) * Decimal(repr(target)) / Decimal(repr(maximum))
    return float(exact)
