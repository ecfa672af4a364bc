"""SCORM scalar values → xAPI values: numbers, time spans, timestamps, localized strings.

Each parser takes the element name so that its ScormDataError names what is wrong.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from scorm_adapter.errors import ScormDataError

# SCORM 1.2 RTE §3.4.3 CMITimespan: HHHH:MM:SS.SS (hours 2-4 digits, optional 1-2 decimals).
_TIMESPAN = re.compile(r"^(\d{2,4}):([0-5]\d):([0-5]\d)(?:\.(\d{1,2}))?$")
# SCORM 2004 RTE §4.1.1.7 timeinterval (second,10,2): P[yY][mM][dD][T[hH][nM][s[.s]S]].
_INTERVAL = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
# SCORM 2004 RTE §4.1.1.7 time (second,10,0): YYYY[-MM[-DD[Thh[:mm[:ss[.s]]]]]][TZD].
_TIME = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$"
)
# SCORM 2004 RTE §4.1.1.6 reserved delimiter for localized strings.
_LANG = re.compile(r"^\{lang=([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)\}")
# SCORM 2004: "If the {lang=} delimiter is not present, the default language is en".
DEFAULT_LANGUAGE = "en"
_MAX_EXPONENT = 20
# RFC 3339 §4.3: "-00:00" means the offset is unknown; xAPI validators treat it as no zone.
_UNKNOWN_OFFSET = re.compile(r"-00(?::?00)?$")


def parse_decimal(element: str, text: str) -> Decimal:
    """A finite decimal number, or ScormDataError("<element>: not a number").

    Magnitudes of 10^21 and more are refused: no SCORM score or time is that large, and
    turning "1e999999999" into a JSON integer would exhaust the process.
    """
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ScormDataError(element, f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ScormDataError(element, f"not a number: {text!r}")
    if value and value.adjusted() > _MAX_EXPONENT:
        raise ScormDataError(element, f"too large a number: {text!r}")
    return value


def parse_bounded(element: str, text: str, low: Decimal, high: Decimal) -> Decimal:
    """A decimal within [low, high]; out of range is an error, never clamped."""
    value = parse_decimal(element, text)
    if not low <= value <= high:
        raise ScormDataError(element, f"{text.strip()} is outside [{low}, {high}]")
    return value


def json_number(value: Decimal) -> int | float:
    """The JSON number for a decimal: an int when it is whole, else a float."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def timespan_to_iso(element: str, text: str) -> str:
    """SCORM 1.2 CMITimespan `HHHH:MM:SS.SS` → ISO 8601 duration ("0002:30:05" → "PT2H30M5S")."""
    match = _TIMESPAN.match(text.strip())
    if match is None:
        raise ScormDataError(element, f"not a SCORM 1.2 time span HHHH:MM:SS.SS: {text!r}")
    hours, minutes, seconds = (int(part) for part in match.group(1, 2, 3))
    fraction = (match.group(4) or "").rstrip("0")
    return iso_duration(hours, minutes, f"{seconds}.{fraction}" if fraction else str(seconds))


def iso_duration(hours: int, minutes: int, seconds: str) -> str:
    """`PT{h}H{m}M{s}S` leaving out zero parts; "PT0S" when everything is zero."""
    parts = []
    if hours:
        parts.append(f"{hours}H")
    if minutes:
        parts.append(f"{minutes}M")
    if Decimal(seconds) != 0:
        parts.append(f"{seconds}S")
    return "PT" + ("".join(parts) or "0S")


def check_iso_duration(element: str, text: str) -> str:
    """A SCORM 2004 timeinterval, returned unchanged when valid (it is already ISO 8601)."""
    value = text.strip()
    match = _INTERVAL.match(value)
    if match is None or value.endswith("T") or not any(match.groups()):
        raise ScormDataError(element, f"not an ISO 8601 duration: {text!r}")
    return value


def interval_parts(text: str) -> tuple[int, int, str] | None:
    """(hours, minutes, seconds) of a valid ISO duration without years or months, days as
    24 hours; None when it has years or months (which have no fixed length)."""
    match = _INTERVAL.match(text)
    if match is None or match.group(1) or match.group(2):
        return None
    days, hours, minutes = (int(match.group(i) or 0) for i in (3, 4, 5))
    return days * 24 + hours, minutes, match.group(6) or "0"


def scorm_time_to_timestamp(element: str, text: str) -> str | None:
    """SCORM 2004 `time` → an xAPI timestamp, or None when it has no time zone.

    SCORM allows reduced precision ("2005", "2005-06-01T10"); xAPI needs a full date-time, so
    the missing parts are filled with the start of the period SCORM denotes (month/day 01,
    time 00). A "+hh" zone becomes "+hh:00". A time without a zone (or with "-00:00", RFC 3339's
    "unknown offset") is not an instant: xAPI timestamps need a zone (1.0.3 Part 2 §4.5), and
    inventing one would misplace the event, so such a value is left out (None).
    """
    match = _TIME.match(text.strip())
    if match is None:
        raise ScormDataError(element, f"not a SCORM 2004 time (ISO 8601): {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    stamp = (
        f"{year}-{month or '01'}-{day or '01'}T{hour or '00'}:{minute or '00'}:"
        f"{second or '00'}{fraction or ''}"
    )
    try:
        datetime.fromisoformat(stamp)
    except ValueError:
        raise ScormDataError(element, f"not a valid date and time: {text!r}") from None
    offset = _zone(zone)
    if offset is None:
        return None
    return stamp + offset


def check_timestamp(element: str, text: str) -> str:
    """An ISO 8601 date-time with a time zone (an xAPI timestamp), returned unchanged."""
    value = text.strip()
    candidate = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise ScormDataError(element, f"not an ISO 8601 timestamp: {text!r}") from None
    if "T" not in value.upper():
        raise ScormDataError(element, f"not an ISO 8601 date-time (no time part): {text!r}")
    if moment.tzinfo is None or _UNKNOWN_OFFSET.search(value):
        raise ScormDataError(element, f"needs a time zone (xAPI 1.0.3 Part 2 §4.5): {text!r}")
    return value


def split_language(text: str) -> tuple[str | None, str]:
    """A SCORM 2004 localized string → (language from `{lang=xx}` or None, the text)."""
    match = _LANG.match(text)
    if match is None:
        return None, text
    return match.group(1), text[match.end() :]


def _zone(zone: str | None) -> str | None:
    if zone is None:
        return None
    if zone == "Z":
        return zone
    digits = zone[1:].replace(":", "")
    offset = f"{zone[0]}{digits[:2]}:{digits[2:] or '00'}"
    return None if offset == "-00:00" else offset
