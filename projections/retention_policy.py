"""The mapping's `retention_policy` cells: the named policies, or a period and a legal basis.

The integration checklist asks every mapped field to say how long it is kept and why, so the
column takes, beside the named policies (`until_voided`, `member_lifetime`, `none`), an
ISO 8601 duration and a lawful basis of GDPR Art. 6(1), separated by `;`:

    P5Y; contract          kept 5 years, because the employment contract requires it
    P18M; legitimate_interests
    P2Y6M; consent
    P5Y; contract; pseudonymise

A third part names what else happens past the period. `pseudonymise`: a member all of whose
learning is past it (nothing of theirs still counts within the period) has their xAPI
statements pseudonymised too, as an erasure does (`projections.retention`); without it, only
the projection forgets (the statements stay as stored).

Durations take years, months, weeks, days and a time part (`P1Y2M3W4DT5H6M7S`); years and
months count on the calendar (the cutoff of `P1M` on 31 March is the last day of February),
the rest as fixed lengths. A zero duration is refused: `none` says "not stored".
Pure: no I/O, no clock (callers pass "now").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

NAMED_POLICIES = ("until_voided", "member_lifetime", "none")
ACTIONS = ("pseudonymise",)
LEGAL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)
_DURATION = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration: calendar months (12 a year, plus months) and a fixed length."""

    text: str
    months: int
    fixed: timedelta

    def cutoff_us(self, now_us: int) -> int:
        """The instant `now - period`, in microseconds since the epoch (earlier: expired)."""
        now = _EPOCH + timedelta(microseconds=now_us)
        try:
            then = _minus_months(now, self.months) - self.fixed
        except (OverflowError, ValueError):  # before the year 1: nothing is that old
            return -(2**62)
        return (then - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class TimedPolicy:
    """`P5Y; contract`: kept for `period` from when the learning happened, on `basis`;
    `action` (`pseudonymise`) says what else happens past it."""

    period: Period
    basis: str
    action: str | None = None

    @property
    def text(self) -> str:
        """The policy as the mapping writes it."""
        action = f"; {self.action}" if self.action else ""
        return f"{self.period.text}; {self.basis}{action}"


def parse_period(text: str) -> Period:
    """An ISO 8601 duration; ValueError saying what is wrong."""
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P5Y or P18M")
    n = {k: int(v or 0) for k, v in match.groupdict().items()}
    fixed = timedelta(weeks=n["w"], days=n["d"], hours=n["h"], minutes=n["mi"], seconds=n["s"])
    period = Period(text, n["y"] * 12 + n["mo"], fixed)
    if period.months == 0 and not fixed:
        raise ValueError(f"{text!r} is zero: use the policy `none` for data not kept")
    return period


def parse_policy(cell: str) -> str | TimedPolicy:
    """A named policy, or a period with its legal basis; ValueError saying what is wrong."""
    cell = cell.strip()
    if cell in NAMED_POLICIES:
        return cell
    parts = [part.strip() for part in cell.split(";")]
    if len(parts) not in (2, 3) or not parts[0].startswith("P"):
        raise ValueError(
            f"{cell!r} is neither one of {', '.join(NAMED_POLICIES)} "
            "nor a period and a legal basis such as 'P5Y; contract' "
            "(and an action: 'P5Y; contract; pseudonymise')"
        )
    period, basis, action = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    if basis not in LEGAL_BASES:
        raise ValueError(f"legal basis {basis!r} is not one of {', '.join(LEGAL_BASES)}")
    if action is not None and action not in ACTIONS:
        raise ValueError(f"retention action {action!r} is not one of {', '.join(ACTIONS)}")
    return TimedPolicy(parse_period(period), basis, action)


def _minus_months(moment: datetime, months: int) -> datetime:
    """`moment` moved back `months` calendar months, the day clamped to the month's length."""
    if months == 0:
        return moment
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
