"""Timestamps: parsing client values for ordering and filters, and minting `stored`.

Statements are returned with their timestamps exactly as given (1.0.3 Part 2 §2.4.7 allows
re-serialising, but clients compare strings); only the instant is used for ordering and
comparison. `stored` is minted at millisecond precision and kept as the same integer
microseconds the store orders by, so `since=<stored>` pages exclude exactly what they should.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

from lrs.errors import ValidationError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value: str, *, path: str = "timestamp") -> datetime:
    """An aware datetime for an ISO 8601 timestamp; naive values are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(r"\1", text)  # Python keeps microseconds; finer digits are dropped
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{path}: not an ISO 8601 timestamp: {value!r}", path=path) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_us(value: str, *, path: str = "timestamp") -> int:
    """Microseconds since the epoch for an ISO 8601 timestamp string."""
    return to_us(parse_timestamp(value, path=path))


def format_us(us: int) -> str:
    """The `stored` form of a microsecond instant: UTC, milliseconds, `Z`."""
    seconds, micros = divmod(us, 1_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{micros // 1000:03d}Z"


def http_date(us: int) -> str:
    """An RFC 7231 date for Last-Modified headers."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(us // 1_000_000))


class StoredClock:
    """Mints `stored` instants that never go backwards within this process."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        """Now in whole milliseconds (as microseconds), never less than the last value."""
        now = (time.time_ns() // 1_000_000) * 1000
        with self._lock:
            self._last = max(self._last, now)
            return self._last
