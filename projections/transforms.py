"""The named transforms a mapping row may apply, and the verb table some of them consult.

A transform takes a value read from a statement and the context of that statement and returns
the value for the marketplace field, or None when the statement contributes nothing there.
Transforms are pure; a row may chain several (`lowercase_email|strip_email_alias`).

Each transform declares the data type it yields (`output`), or None when it passes its input
through unchanged (the filters `if_activity`, `if_badge_verb`); the mapping checks that a row's
chain ends in the row's data type.

The verb table (`spec/marketplace-verbs.csv`) says, per verb IRI, whether it completes the
activity, whether it means passed or failed, which enrollment state it puts the learner in, and
whether it awards a badge. A verb absent from the table does none of these.

A transform that `rejects` says, by returning None, that the value it was given cannot be
used (a score without a scale, a malformed URL); the others return None when they do not
apply (a verb that completes nothing). Only the first kind feeds the data-quality queue.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lrs.errors import ValidationError
from lrs.xapi.timestamps import parse_timestamp, to_us

ENROLLMENT_STATES = ("active", "completed", "dropped")
_EPOCH = datetime(1970, 1, 1)  # naive: format_datetime writes UTC without an offset
SUCCESS_VALUES = ("passed", "failed")
_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False, "": False}


class MappingError(ValueError):
    """A mapping or verb table that the projection refuses to run with; names the row."""


@dataclass(frozen=True)
class VerbRule:
    """What one verb means to the marketplace."""

    verb_id: str
    completes: bool = False
    success: str | None = None
    enrollment_state: str | None = None
    awards_badge: bool = False


@dataclass(frozen=True)
class VerbTable:
    """Verb IRI → rule; unknown verbs mean nothing."""

    rules: Mapping[str, VerbRule] = field(default_factory=dict)

    def rule(self, verb_id: Any) -> VerbRule | None:
        """The rule for a verb, or None."""
        return self.rules.get(verb_id) if isinstance(verb_id, str) else None


def _flag(value: str, where: str) -> bool:
    try:
        return _YES[value.strip().lower()]
    except KeyError:
        raise MappingError(f"{where}: {value!r} is not yes/no") from None


def _choice(value: str, allowed: tuple[str, ...], where: str) -> str | None:
    value = value.strip()
    if value and value not in allowed:
        raise MappingError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return value or None


def load_verb_table(path: Path) -> VerbTable:
    """Read and check the verb table CSV; MappingError names the first bad row."""
    rules: dict[str, VerbRule] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        for number, row in enumerate(csv.DictReader(lines), start=2):
            where = f"{path.name} row {number}"
            verb_id = (row.get("verb_id") or "").strip()
            if not verb_id or ":" not in verb_id:
                raise MappingError(f"{where}: verb_id must be an IRI")
            if verb_id in rules:
                raise MappingError(f"{where}: verb {verb_id} is listed twice")
            rules[verb_id] = VerbRule(
                verb_id=verb_id,
                completes=_flag(row.get("completes") or "", where),
                success=_choice(row.get("success") or "", SUCCESS_VALUES, where),
                enrollment_state=_choice(
                    row.get("enrollment_state") or "", ENROLLMENT_STATES, where
                ),
                awards_badge=_flag(row.get("awards_badge") or "", where),
            )
    return VerbTable(rules)


@dataclass(frozen=True)
class TransformContext:
    """What a transform may look at besides its value."""

    statement: Mapping[str, Any]
    verbs: VerbTable
    hris_home_page: str | None = None
    domain_aliases: Mapping[str, str] = field(default_factory=dict)

    def verb_rule(self) -> VerbRule | None:
        """The verb table's rule for this statement's verb."""
        verb = self.statement.get("verb")
        return self.verbs.rule(verb.get("id") if isinstance(verb, dict) else None)


TransformFunc = Callable[[Any, TransformContext], Any]


@dataclass(frozen=True)
class Transform:
    """A named transform and the data type it yields (None: its input's)."""

    name: str
    output: str | None
    func: TransformFunc
    # None from it means the value is unusable (a data-quality issue), not "does not apply"
    rejects: bool = False
    # or only for the values this says (None from it otherwise means "does not apply")
    unusable: Callable[[Any, TransformContext], bool] | None = None


# --- emails -----------------------------------------------------------------------------------


def lowercase_email(value: Any, ctx: TransformContext) -> str | None:
    """`mailto:Ada@Example.COM` → `ada@example.com`; None unless it looks like an address."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    local, sep, domain = text.lower().partition("@")
    return f"{local}@{domain}" if sep and local and domain and "@" not in domain else None


def strip_email_alias(value: Any, ctx: TransformContext) -> str | None:
    """Drop a `+tag` from the local part and map a domain alias to its canonical domain."""
    if not isinstance(value, str) or "@" not in value:
        return None
    local, _, domain = value.rpartition("@")
    local = local.split("+", 1)[0]
    domain = ctx.domain_aliases.get(domain.lower(), domain)
    return f"{local}@{domain}" if local else None


def normalize_email(value: Any, aliases: Mapping[str, str] | None = None) -> str | None:
    """The identity map's form of an address: lower-case, `+tag` stripped, canonical domain."""
    ctx = TransformContext(statement={}, verbs=VerbTable(), domain_aliases=aliases or {})
    return strip_email_alias(lowercase_email(value, ctx), ctx)


# --- scores, times, urls ----------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def normalize_score_0_100(value: Any, ctx: TransformContext) -> dict[str, Any] | None:
    """An xAPI score as 0-100, keeping the original scale; None when the scale is not evident.

    In order (docs/marketplace.md, "Scores"):
    1. `scaled` (-1..1) times 100, a negative one counting as 0;
    2. `raw` within `min`..`max` (max > min);
    3. `raw` and `max` without `min`: min is taken as 0 when 0 <= raw <= max and max > 0
       (LMSs often send `{"raw": 8, "max": 10}`: 80);
    4. a bare `raw` between 0 and 100 is taken as a percentage.
    Anything else (raw above max, a negative raw without min, max 0, min without max, scaled
    outside -1..1) gives None: the data-quality queue records it (`score_without_scale`).
    The result is clamped to 0-100 and rounded to 4 decimals.
    """
    if not isinstance(value, dict):
        return None
    percent = _percent(
        _number(value.get("scaled")),
        _number(value.get("raw")),
        _number(value.get("min")),
        _number(value.get("max")),
    )
    if percent is None:
        return None
    original = {
        k: value[k] for k in ("raw", "min", "max", "scaled") if _number(value.get(k)) is not None
    }
    return {"value": round(min(100.0, max(0.0, percent)), 4), **original}


def _percent(
    scaled: float | None, raw: float | None, low: float | None, high: float | None
) -> float | None:
    """The score rule of `normalize_score_0_100`, on its numbers."""
    if scaled is not None:
        return scaled * 100 if -1 <= scaled <= 1 else None
    if raw is None:
        return None
    if low is not None and high is not None:
        return (raw - low) / (high - low) * 100 if high > low else None
    if low is None and high is not None:
        return raw / high * 100 if high > 0 and 0 <= raw <= high else None
    if low is None and high is None and 0 <= raw <= 100:
        return raw
    return None


def format_datetime(us: int) -> str:
    """UTC, microseconds, `Z`: the one datetime form of marketplace records."""
    # isoformat, not strftime("%Y"): glibc writes the year 275 as "275", which no parser reads
    return (_EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds") + "Z"


def parse_iso8601(value: Any, ctx: TransformContext | None) -> str | None:
    """An ISO 8601 timestamp in the record form (UTC, µs, Z); None when it is not one."""
    return _record_time(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1024)
def _record_time(value: str) -> str | None:
    """Cached: the mapping reads a statement's timestamp for several fields in a row."""
    try:
        return format_datetime(to_us(parse_timestamp(value)))
    except (ValidationError, OverflowError, ValueError):
        return None


def is_http_url(value: Any) -> bool:
    """Whether the value is an absolute http(s) URL with a host and no whitespace."""
    return validate_url(value, None) is not None


def validate_url(value: Any, ctx: TransformContext | None) -> str | None:
    """An absolute http(s) URL with a host and no whitespace, else None."""
    if not isinstance(value, str) or re.search(r"\s", value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


# --- verbs, objects, accounts -----------------------------------------------------------------


def bool_from_verb(value: Any, ctx: TransformContext) -> bool | None:
    """True when the verb table says the verb completes the activity; else no contribution."""
    rule = ctx.verbs.rule(value)
    return True if rule is not None and rule.completes else None


def success_from_verb(value: Any, ctx: TransformContext) -> str | None:
    """`passed` or `failed` when the verb table says so."""
    rule = ctx.verbs.rule(value)
    return rule.success if rule is not None else None


def passed_failed(value: Any, ctx: TransformContext) -> str | None:
    """`result.success` true/false as `passed`/`failed`."""
    return {True: "passed", False: "failed"}.get(value) if isinstance(value, bool) else None


# The last word of the IRIs of verbs that change an enrollment in the vocabularies LMSs use
# (ADL, Tin Can registry, Activity Streams, Open edX's `unregistered` for an unenrolment).
ENROLLMENT_WORDS = frozenset(
    {
        "enrolled",
        "unenrolled",
        "registered",
        "unregistered",
        "deregistered",
        "join",
        "joined",
        "leave",
        "left",
        "withdrew",
        "withdrawn",
        "withdraw",
        "dropped",
        "unsubscribed",
        "cancelled",
        "canceled",
    }
)


def looks_like_enrollment(verb_id: str) -> bool:
    """Whether a verb's IRI ends in a word of `ENROLLMENT_WORDS` (its last path segment)."""
    return verb_id.rstrip("/").rsplit("/", 1)[-1].lower() in ENROLLMENT_WORDS


def enrollment_from_verb(value: Any, ctx: TransformContext) -> str | None:
    """The enrollment state the verb table gives the verb."""
    rule = ctx.verbs.rule(value)
    return rule.enrollment_state if rule is not None else None


def unknown_enrollment_verb(value: Any, ctx: TransformContext) -> bool:
    """Whether a verb the table does not list names an enrollment change (`looks_like_
    enrollment`: an Open edX unenrolment, `http://id.tincanapi.com/verb/unregistered`).

    Such a verb gives no enrollment state, as any verb the table does not list, but is an
    unusable value (`unknown_enrollment_state`, value the verb) in the data-quality queue: an
    operator sees a verb to add to the table instead of a learner who silently stays enrolled.
    """
    return isinstance(value, str) and ctx.verbs.rule(value) is None and looks_like_enrollment(value)


def if_badge_verb(value: Any, ctx: TransformContext) -> Any:
    """The value itself when the statement's verb awards a badge, else nothing."""
    rule = ctx.verb_rule()
    return value if rule is not None and rule.awards_badge else None


def if_activity(value: Any, ctx: TransformContext) -> Any:
    """The value itself when the statement's object is an Activity, else nothing."""
    obj = ctx.statement.get("object")
    is_activity = isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity"
    return value if is_activity else None


def hris_account(value: Any, ctx: TransformContext) -> str | None:
    """The employee id: an account's name when its homePage is the HRIS home page."""
    if not isinstance(value, dict) or not ctx.hris_home_page:
        return None
    home, name = value.get("homePage"), value.get("name")
    if not isinstance(home, str) or not isinstance(name, str) or not name:
        return None
    return name if home.rstrip("/") == ctx.hris_home_page.rstrip("/") else None


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("lowercase_email", "email", lowercase_email),
        Transform("strip_email_alias", "email", strip_email_alias),
        Transform("normalize_score_0_100", "score", normalize_score_0_100, rejects=True),
        Transform("parse_iso8601", "datetime", parse_iso8601),
        Transform("validate_url", "url", validate_url, rejects=True),
        Transform("bool_from_verb", "boolean", bool_from_verb),
        Transform("success_from_verb", "enum", success_from_verb),
        Transform("passed_failed", "enum", passed_failed),
        Transform(
            "enrollment_from_verb", "enum", enrollment_from_verb, unusable=unknown_enrollment_verb
        ),
        Transform("if_badge_verb", None, if_badge_verb),
        Transform("if_activity", None, if_activity),
        Transform("hris_account", "string", hris_account),
    )
}
