"""xAPI statement validation: the JSON Schema in spec/ first, then the rules it cannot express.

The schemas (``spec/xapi-1.0.3.schema.json``, ``spec/xapi-2.0.0.schema.json``) are the single source
of truth for statement shape. They name formats ("iri", "uuid", "lang-tag", ...) that this module
supplies. Each schema is compiled once per engine, on first use, for two engines:

- jsonschema_rs (Rust) answers "valid or not" for every statement, with the formats run natively
  as the regular expressions of ``NATIVE_PATTERNS``: several times cheaper than fastjsonschema
  with Python format callables, and validation is the hottest code of the ingest path;
- fastjsonschema, with the Python ``FORMATS``, is the reference: it runs only on statements the
  native engine rejects, and its verdict is final (it raises the error the client sees, naming
  the offending path). Each native pattern accepts a subset of what its Python format accepts
  (the same on ASCII; stricter on a few exotic non-ASCII spellings), so the native engine can
  only send a valid statement the slow way, never let an invalid one through.
  tests/lrs/xapi/test_validation_engines.py checks that, and tests/lrs/xapi/test_validation.py
  checks that both engines agree on every statement it validates.

Every failure raises ``lrs.errors.ValidationError`` whose ``path`` names the offending property in
dotted form, e.g. ``actor.mbox`` or ``object.definition.choices[2].id`` (``[3].actor.mbox`` in a
batch). Spec references ("Part 2 §x") are to xAPI 1.0.3, Part Two: Experience API Data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastjsonschema
import jsonschema_rs
import orjson

from lrs.errors import ValidationError
from lrs.xapi.lengths import check_lengths
from lrs.xapi.voiding import check_voiding_object

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
SCHEMA_FILES = {"1.0.3": "xapi-1.0.3.schema.json", "2.0.0": "xapi-2.0.0.schema.json"}

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
INTERACTION_KEYS = ("correctResponsesPattern", *COMPONENT_LISTS)
# Part 2 §2.4.4.1 Interaction Components: the lists each interactionType supports.
ALLOWED_COMPONENTS: dict[str, frozenset[str]] = {
    "choice": frozenset({"choices"}),
    "sequencing": frozenset({"choices"}),
    "likert": frozenset({"scale"}),
    "matching": frozenset({"source", "target"}),
    "performance": frozenset({"steps"}),
}

Statement = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Formats named by the schemas
# --------------------------------------------------------------------------------------------

# Part 2 §2.2: IRIs MUST have a scheme (RFC 3986 §3.1); no whitespace, controls or characters
# RFC 3987 excludes. Best-effort, as §2.2 allows.
IRI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]+")
# Part 2 §2.4.2.3: mbox is "mailto:email address".
MAILTO_RE = re.compile(r"mailto:[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"/?#]+")
# Part 2 §4.4: standard string form; any variant is accepted.
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SHA1_RE = re.compile(r"[0-9a-fA-F]{40}")
# Part 2 §2.4.11: a SHA-2 hex digest (SHA-224, -256, -384 or -512).
SHA2_RE = re.compile(r"[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128}")
# Part 2 §2.4.11: an Internet Media Type (RFC 2046), optionally with parameters.
_TOKEN = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
MIME_RE = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"(?:[^\"\\]|\\.)*\"))*[ \t]*"
)
# Part 2 §2.2: RFC 5646 language tags (langtag / privateuse / irregular grandfathered).
LANG_TAG_RE = re.compile(
    r"""(?ix)
    (?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})  # language, extlang
    (?:-[a-z]{4})?                                         # script
    (?:-(?:[a-z]{2}|[0-9]{3}))?                            # region
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*               # variants
    (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*                   # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?                             # private use
    |x(?:-[a-z0-9]{1,8})+
    |en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo
    |i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE
    """
)
# Part 2 §2.4.10: "1.0" or "1.0.x"; xAPI 2.0.0 also accepts exactly "2.0.0".
VERSION_1_RE = re.compile(r"1\.0(?:\.\d+)?")
VERSION_2_RE = re.compile(r"1\.0(?:\.\d+)?|2\.0\.0")
# X-Experience-API-Version values that select the 2.0.0 rules ("2.0" or "2.0.x").
REQUEST_2_RE = re.compile(r"2\.0(?:\.\d+)?")

# Part 2 §4.5: ISO 8601 extended date-time with a time zone (RFC 3339 is a profile of it).
_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?(?:Z|([+-])(\d{2})(?::?(\d{2}))?)"
)
# Part 2 §4.6: ISO 8601:2004(E) §4.4.3.2 durations (PnW or PnYnMnDTnHnMnS).
_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION_RE = re.compile(
    rf"P(?:{_NUM}W|(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:(T)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)"
)


def is_timestamp(value: str) -> bool:
    """Part 2 §4.5: a real ISO 8601 instant with a zone; -00, -0000, -00:00 mean 'no zone'."""
    match = _TIMESTAMP_RE.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:  # 60: a leap second
        return False
    if sign is None:
        return True
    if int(off_h) > 23 or (off_m is not None and int(off_m) > 59):
        return False
    # RFC 3339 §4.3: "-00:00" is "unknown local offset", not UTC (CTS XAPI-00123).
    return not (sign == "-" and int(off_h) == 0 and (off_m is None or int(off_m) == 0))


def is_duration(value: str) -> bool:
    """Part 2 §4.6: at least one component; only the smallest given one may have a fraction."""
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        return False
    week, *parts = match.groups()
    if week is not None:
        return True
    time_marker = parts.pop(3)
    if time_marker is not None and all(p is None for p in parts[3:]):
        return False  # "PT" with no time component
    given = [p for p in parts if p is not None]
    if not given:
        return False  # "P" alone
    return not any("." in p or "," in p for p in given[:-1])


# The named formats the schemas use, as callables (anchored with fullmatch, unlike fastjsonschema's
# regex formats, which only anchor at the start).
FORMATS: dict[str, Callable[[str], Any]] = {
    "iri": IRI_RE.fullmatch,
    "irl": IRI_RE.fullmatch,
    "uuid": UUID_RE.fullmatch,
    "mailto-iri": MAILTO_RE.fullmatch,
    "sha1": SHA1_RE.fullmatch,
    "sha2": SHA2_RE.fullmatch,
    "mime-type": MIME_RE.fullmatch,
    "lang-tag": LANG_TAG_RE.fullmatch,
    "xapi-timestamp": is_timestamp,
    "xapi-duration": is_duration,
    "xapi-version": VERSION_1_RE.fullmatch,  # used by the 1.0.3 schema
    "xapi-version-2": VERSION_2_RE.fullmatch,  # used by the 2.0.0 schema
}

# The same formats as ECMA-262 regular expressions (the JSON Schema "pattern" dialect), which
# jsonschema_rs runs natively instead of calling back into Python (each callback costs more than
# the whole native check). Each is anchored when used and accepts a subset of what its FORMATS
# callable accepts: exactly the same strings of ASCII characters, and no more beyond ASCII. So
# they spell out every class: ECMA-262's \s, \d and case-insensitivity are not Python's.
#
# Python's \s on str: ASCII whitespace, U+001C-U+001F and the Unicode spaces (str.isspace).
_PY_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_IRI = r'[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\x7f<>"{}|\\^`' + _PY_SPACE + "]+"
_NOT_IN_MAILTO = r'@<>()\[\]\\,;:"' + _PY_SPACE
_MAILTO = f"mailto:[^{_NOT_IN_MAILTO}]+@[^{_NOT_IN_MAILTO}/?#]+"
_HEX = "[0-9a-fA-F]"
_MIME_TOKEN = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_MIME_QUOTED = r'"(?:[^"\\]|\\[^\n])*"'  # Python's "." is [^\n]; ECMA-262's is not
_MIME = (
    rf"{_MIME_TOKEN}/{_MIME_TOKEN}"
    rf"(?:[ \t]*;[ \t]*{_MIME_TOKEN}=(?:{_MIME_TOKEN}|{_MIME_QUOTED}))*[ \t]*"
)
_A, _AN = "[A-Za-z]", "[A-Za-z0-9]"  # LANG_TAG_RE's [a-z], [a-z0-9] under (?i), on ASCII
_GRANDFATHERED = (
    "en-GB-oed i-ami i-bnn i-default i-enochian i-hak i-klingon i-lux i-mingo i-navajo i-pwn "
    "i-tao i-tay i-tsu sgn-BE-FR sgn-BE-NL sgn-CH-DE"
)


def _any_case(word: str) -> str:
    """An ECMA-262 pattern matching `word` in any ASCII case (LANG_TAG_RE is case-insensitive)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


_LANG_TAG = (
    rf"(?:{_A}{{2,3}}(?:-{_A}{{3}}){{0,3}}|{_A}{{4}}|{_A}{{5,8}})"
    rf"(?:-{_A}{{4}})?"
    rf"(?:-(?:{_A}{{2}}|[0-9]{{3}}))?"
    rf"(?:-(?:{_AN}{{5,8}}|[0-9]{_AN}{{3}}))*"
    rf"(?:-[0-9A-WY-Za-wy-z](?:-{_AN}{{2,8}})+)*"
    rf"(?:-[Xx](?:-{_AN}{{1,8}})+)?"
    rf"|[Xx](?:-{_AN}{{1,8}})+"
    "|" + "|".join(_any_case(tag) for tag in _GRANDFATHERED.split())
)
# is_timestamp as a pattern: years 0001-9999 (datetime.date's range), real dates (Gregorian leap
# years), hours <= 23, seconds <= 60, offsets <= 23:59, and no -00, -0000 or -00:00.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    rf"|{_LEAP_YEAR}-02-29)"
)
_TIME = "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:[.,][0-9]+)?"
_ZONE = (
    r"(?:Z|\+(?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?"
    "|-(?:(?:0[1-9]|1[0-9]|2[0-3])(?::?[0-5][0-9])?|00:?(?:0[1-9]|[1-5][0-9])))"
)
# is_duration as a pattern: one alternative per smallest component, the only one that may have a
# fraction; "T" only before a time component.
_INT, _NUMBER = "[0-9]+", "[0-9]+(?:[.,][0-9]+)?"
_DURATION = (
    rf"P(?:{_NUMBER}W|{_NUMBER}Y|(?:{_INT}Y)?{_NUMBER}M|(?:{_INT}Y)?(?:{_INT}M)?{_NUMBER}D"
    rf"|(?:{_INT}Y)?(?:{_INT}M)?(?:{_INT}D)?"
    rf"T(?:{_NUMBER}H|(?:{_INT}H)?{_NUMBER}M|(?:{_INT}H)?(?:{_INT}M)?{_NUMBER}S))"
)
_VERSION_1 = r"1\.0(?:\.[0-9]+)?"
NATIVE_PATTERNS: dict[str, str] = {
    "iri": _IRI,
    "irl": _IRI,
    "uuid": rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}",
    "mailto-iri": _MAILTO,
    "sha1": rf"{_HEX}{{40}}",
    "sha2": rf"{_HEX}{{56}}|{_HEX}{{64}}|{_HEX}{{96}}|{_HEX}{{128}}",
    "mime-type": _MIME,
    "lang-tag": _LANG_TAG,
    "xapi-timestamp": _DATE + _TIME + _ZONE,
    "xapi-duration": _DURATION,
    "xapi-version": _VERSION_1,
    "xapi-version-2": rf"{_VERSION_1}|2\.0\.0",
}

# How each format is described in error messages.
FORMAT_DESCRIPTIONS: dict[str, str] = {
    "iri": "an IRI with a scheme",
    "irl": "an IRL (an IRI with a scheme)",
    "uuid": "a UUID in 8-4-4-4-12 hex form",
    "mailto-iri": "a mailto IRI (mailto:name@host)",
    "sha1": "a 40-digit hex SHA-1 digest",
    "sha2": "a hex SHA-2 digest",
    "mime-type": "an Internet Media Type",
    "lang-tag": "an RFC 5646 language tag",
    "xapi-timestamp": "an ISO 8601 timestamp with a time zone (not -00:00)",
    "xapi-duration": "an ISO 8601 duration",
    "xapi-version": "1.0 or 1.0.x",
    "xapi-version-2": "1.0, 1.0.x or 2.0.0",
}

# --------------------------------------------------------------------------------------------
# Schema compilation (once per rules version) and error translation
# --------------------------------------------------------------------------------------------


def rules_version(version: str) -> str:
    """Map an X-Experience-API-Version value to the statement rules that apply to it."""
    if VERSION_1_RE.fullmatch(version):
        return "1.0.3"  # all 1.0.x share the 1.0.0 data model (Part 2 §2.4.10)
    if REQUEST_2_RE.fullmatch(version):
        return "2.0.0"
    raise ValidationError(f"unsupported xAPI version {version!r}", path="")


@cache
def _load_schema(rules: str) -> dict[str, Any]:
    """Read one schema file from spec/ (cached: the files never change at runtime)."""
    schema: dict[str, Any] = orjson.loads((SPEC_DIR / SCHEMA_FILES[rules]).read_bytes())
    return schema


@cache
def _validator(rules: str) -> Callable[[Any], Any]:
    """Compile the reference validator once (it names the error); never compile per call."""
    return fastjsonschema.compile(_load_schema(rules), formats=FORMATS, use_default=False)


# Keywords whose values are data, not subschemas: _native_schema leaves them as they are.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples", "$comment"})


def _native_schema(node: Any) -> Any:
    """A copy of a schema whose formats with a NATIVE_PATTERNS entry are that anchored pattern."""
    if isinstance(node, list):
        return [_native_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    native = {
        key: value if key in _DATA_KEYWORDS else _native_schema(value)
        for key, value in node.items()
    }
    fmt = native.get("format")
    if isinstance(fmt, str) and fmt in NATIVE_PATTERNS:
        del native["format"]
        pattern = {"pattern": f"^(?:{NATIVE_PATTERNS[fmt]})$"}
        if "pattern" in native:  # keep the schema's own pattern too
            native["allOf"] = [*native.get("allOf", []), pattern]
        else:
            native.update(pattern)
    return native


@cache
def _native_validator(rules: str) -> jsonschema_rs.Validator:
    """Compile the fast validator once: the schema with its formats as native patterns.

    A format without a native pattern still works (jsonschema_rs calls its FORMATS callable),
    only slower; an unknown one fails here rather than passing unchecked.
    """
    return jsonschema_rs.validator_for(
        _native_schema(_load_schema(rules)),
        formats=FORMATS,
        validate_formats=True,
        ignore_unknown_formats=False,
        offline=True,
    )


def compile_validators() -> None:
    """Compile every validator now (e.g. in a pool worker), before a request needs one."""
    for rules in SCHEMA_FILES:
        _validator(rules)
        _native_validator(rules)


def _join(path: str, key: str | int) -> str:
    """Append a property name or list index to a dotted path."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _schema_error(exc: fastjsonschema.JsonSchemaValueException, prefix: str) -> ValidationError:
    """Translate a fastjsonschema failure into a ValidationError naming the offending path."""
    name = exc.name or "data"
    path = name[4:].lstrip(".")  # fastjsonschema roots every path at "data"
    message = exc.message[len(name) :].strip() if exc.message.startswith(name) else exc.message
    value, rule = exc.value, exc.rule
    if rule == "required" and isinstance(value, dict):
        missing = next((k for k in exc.rule_definition if k not in value), "")
        path, message = _join(path, missing), "is required"
    elif rule == "additionalProperties" and isinstance(value, dict):
        known = (exc.definition or {}).get("properties", {})
        extra = next((k for k in value if k not in known), "")
        path, message = (
            _join(path, extra),
            "is not allowed here (property names are case-sensitive)",
        )
    elif rule == "propertyNames" and isinstance(value, dict):
        fmt = exc.rule_definition.get("format", "")
        check = FORMATS.get(fmt)
        bad = next((k for k in value if check is not None and not check(k)), "")
        path, message = _join(path, bad), f"is not a valid key: must be {FORMAT_DESCRIPTIONS[fmt]}"
    elif rule == "format":
        message = f"must be {FORMAT_DESCRIPTIONS[exc.rule_definition]}"
    elif rule == "const":
        message = f"must be {exc.rule_definition!r} (case-sensitive)"
    elif message == "must not be there":
        message = "is not allowed here"
    full = prefix + path if not path or not prefix else f"{prefix}.{path}"
    return ValidationError(f"{full or 'statement'} {message}", path=full)


# --------------------------------------------------------------------------------------------
# Rules the schema cannot express (run after the schema, so shapes are already valid)
# --------------------------------------------------------------------------------------------


def _fail(path: str, message: str) -> ValidationError:
    """Build a ValidationError whose message starts with the path it names."""
    return ValidationError(f"{path or 'statement'} {message}", path=path)


def _ifi_count(actor: Mapping[str, Any]) -> int:
    """How many Inverse Functional Identifiers an Agent or Group carries (IFI_KEYS)."""
    # spelled out: a generator over IFI_KEYS cost most of each agent's check
    return (
        ("mbox" in actor) + ("mbox_sha1sum" in actor) + ("openid" in actor) + ("account" in actor)
    )


def check_agent(agent: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.2.1: an Agent MUST have exactly one IFI."""
    count = _ifi_count(agent)
    if count != 1:  # xAPI 1.0.3 Part 2 §2.4.2.1: exactly one IFI
        raise _fail(
            path,
            "must have exactly one inverse functional identifier "
            f"(mbox, mbox_sha1sum, openid or account); found {count}",
        )


def check_group(group: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.2.2: identified Groups have one IFI; anonymous Groups list their members."""
    count = _ifi_count(group)
    if count > 1:  # Part 2 §2.4.2.2: an Identified Group MUST include exactly one IFI
        raise _fail(path, f"must have at most one inverse functional identifier; found {count}")
    members = group.get("member")
    if count == 0 and not members:
        # Part 2 §2.4.2.2: an Anonymous Group MUST include "member" (CTS XAPI-00037: >= 1 Agent)
        raise _fail(
            _join(path, "member"), "is required (with at least one Agent) in an anonymous Group"
        )
    for index, member in enumerate(members or ()):
        check_agent(member, f"{path}.member[{index}]")


def check_actor(actor: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.2: dispatch on objectType to the Agent or Group rules."""
    if actor.get("objectType") == "Group":
        check_group(actor, path)
    else:
        check_agent(actor, path)


def check_interaction(definition: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.4.1: component lists match interactionType and have distinct ids."""
    kind = definition.get("interactionType")
    if kind is None:
        # Part 2 §2.4.4.1: Interaction Activities MUST have a valid interactionType.
        for key in INTERACTION_KEYS:
            if key in definition:
                raise _fail(_join(path, "interactionType"), f"is required when {key} is present")
        return
    allowed = ALLOWED_COMPONENTS.get(kind, frozenset())
    for key in COMPONENT_LISTS:
        components = definition.get(key)
        if components is None:
            continue
        if key not in allowed:  # Part 2 §2.4.4.1: supported component lists per interactionType
            raise _fail(_join(path, key), f"is not allowed for interactionType {kind!r}")
        seen: set[str] = set()
        for index, component in enumerate(components):
            if component["id"] in seen:  # Part 2 §2.4.4.1: component ids MUST be distinct
                raise _fail(f"{path}.{key}[{index}].id", f"duplicates id {component['id']!r}")
            seen.add(component["id"])


def check_activity(activity: Mapping[str, Any], path: str) -> None:
    """Run the Activity Definition rules, if the Activity has a definition."""
    definition = activity.get("definition")
    if definition is not None:
        check_interaction(definition, _join(path, "definition"))


def check_score(score: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.5.1: min < max and min <= raw <= max (scaled's range is in the schema)."""
    low, high, raw = score.get("min"), score.get("max"), score.get("raw")
    if low is not None and high is not None and not low < high:
        raise _fail(_join(path, "min"), f"must be less than max ({low} >= {high})")
    if raw is not None and low is not None and raw < low:
        raise _fail(_join(path, "raw"), f"must not be less than min ({raw} < {low})")
    if raw is not None and high is not None and raw > high:
        raise _fail(_join(path, "raw"), f"must not be greater than max ({raw} > {high})")


def _activities(value: Any) -> list[Any]:
    """Part 2 §2.4.6.2: a contextActivities value is an Activity or an array of them."""
    return value if isinstance(value, list) else [value]


def check_context(context: Mapping[str, Any], path: str, object_is_activity: bool) -> None:
    """Part 2 §2.4.6 (and xAPI 2.0.0 contextAgents/contextGroups): rules beyond the schema."""
    if not object_is_activity:
        for key in ("revision", "platform"):
            if key in context:  # Part 2 §2.4.6: MUST only be used if the Object is an Activity
                raise _fail(_join(path, key), "is only allowed when the object is an Activity")
    if "instructor" in context:
        check_actor(context["instructor"], _join(path, "instructor"))
    if "team" in context:
        check_group(context["team"], _join(path, "team"))
    for kind, activities in context.get("contextActivities", {}).items():
        for index, activity in enumerate(_activities(activities)):
            if "definition" not in activity:
                continue  # nothing to check (and no path to build) without a definition
            where = f"{path}.contextActivities.{kind}"
            check_activity(activity, f"{where}[{index}]" if isinstance(activities, list) else where)
    for index, item in enumerate(context.get("contextAgents", ())):
        check_agent(item["agent"], f"{path}.contextAgents[{index}].agent")
    for index, item in enumerate(context.get("contextGroups", ())):
        check_group(item["group"], f"{path}.contextGroups[{index}].group")


def check_object(obj: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.4: apply the rules for whichever kind of Object this is."""
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        check_activity(obj, path)
    elif kind in ("Agent", "Group"):
        check_actor(obj, path)
    elif kind == "SubStatement":
        check_statement_rules(obj, path)  # Part 2 §2.4.4.3: validated as a Statement


def check_authority(authority: Mapping[str, Any], path: str) -> None:
    """Part 2 §2.4.9: an Agent, or (3-legged OAuth) a Group of two Agents (shape: schema)."""
    check_actor(authority, path)


def check_statement_rules(statement: Mapping[str, Any], path: str = "") -> None:
    """Run every non-schema rule on a Statement or SubStatement that already passed the schema."""
    check_actor(statement["actor"], _join(path, "actor"))
    obj = statement["object"]
    check_object(obj, _join(path, "object"))
    result = statement.get("result")
    if result is not None and "score" in result:
        check_score(result["score"], _join(path, "result.score"))
    context = statement.get("context")
    if context is not None:
        is_activity = obj.get("objectType", "Activity") == "Activity"
        check_context(context, _join(path, "context"), is_activity)
    if "authority" in statement:
        check_authority(statement["authority"], _join(path, "authority"))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _native_valid(statement: object, rules: str) -> bool:
    """The fast verdict: True only if the statement is valid (False may still be valid)."""
    try:
        return _native_validator(rules).is_valid(statement)
    except ValueError:  # not a JSON value jsonschema_rs converts (a set, bytes, ...)
        return False


def _check_schema(statement: object, rules: str, prefix: str) -> None:
    """The schema: natively when valid; otherwise the reference decides, and names the error."""
    if _native_valid(statement, rules):
        return
    try:
        _validator(rules)(statement)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _schema_error(exc, prefix) from None


def _validate(statement: object, rules: str, prefix: str) -> Statement:
    """Schema first, then the rules; errors carry `prefix` (e.g. "[3]") before their path."""
    _check_schema(statement, rules, prefix)
    checked = cast(Statement, statement)  # the schema's top-level "type" is "object"
    check_statement_rules(checked, prefix)
    check_lengths(checked, prefix)
    check_voiding_object(checked, prefix)
    return checked


def validate_statement(statement: object, version: str) -> None:
    """Validate one statement under the rules of `version` ("1.0.x" or "2.0.0"); raise on error."""
    _validate(statement, rules_version(version), "")


def validate_statements(body: object, version: str) -> list[Statement]:
    """Validate a POST/PUT body (one statement or a list); return the statements as a list."""
    rules = rules_version(version)
    if isinstance(body, dict):
        _validate(body, rules, "")
        return [body]
    if not isinstance(body, list):
        raise ValidationError("body must be a statement object or an array of statements", path="")
    if not body:
        raise ValidationError("body must contain at least one statement", path="")
    seen: dict[str, int] = {}
    for index, item in enumerate(body):
        statement = _validate(item, rules, f"[{index}]")
        statement_id = statement.get("id")
        if statement_id is None:
            continue
        key = statement_id.lower()  # UUIDs compare case-insensitively (RFC 4122 §3)
        if key in seen:  # xAPI 2.0.0 CTS (XAPI-00142 block): duplicate ids in a batch -> 400
            raise _fail(f"[{index}].id", f"duplicates the id of statement [{seen[key]}]")
        seen[key] = index
    return body
