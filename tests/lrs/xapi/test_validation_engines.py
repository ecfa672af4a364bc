"""The two schema engines of lrs.xapi.validation: the native fast path and the reference.

jsonschema_rs decides "valid" for most statements, running each format as a NATIVE_PATTERNS
regex; fastjsonschema with the Python FORMATS decides everything else and names the error. That
is only correct if every native pattern accepts a subset of what its Python format accepts, which
these tests check: on ASCII the two must agree exactly (or valid statements would take the slow
path), beyond ASCII the native pattern may only be stricter. tests/lrs/xapi/test_validation.py runs
every statement it validates through both engines too (its `both_engines_agree` fixture).
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema_rs
import pytest

from lrs.errors import ValidationError
from lrs.services import statement_prep
from lrs.xapi import validation
from lrs.xapi.validation import FORMATS, NATIVE_PATTERNS, validate_statement, validate_statements
from tests.factories import make_statement

VERSIONS = ["1.0.3", "2.0.0"]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Code points to try in every position of a sample: all of ASCII and Latin-1, and the non-ASCII
# characters Python's re treats specially (\s, \d and (?i) beyond ASCII, which ECMA-262 does not
# share), plus a few that ECMA-262 treats specially (U+FEFF is \s there) and astral ones.
TRICKY = [
    *map(chr, range(0x100)),
    *"\u0130\u0131\u017f\u212a",  # dotted/dotless I, long S, Kelvin: [a-z] under (?i)
    *"\u0660\u0669\u06f5\u0966\uff10\uff19",  # Arabic-Indic, Devanagari, fullwidth digits
    "\U0001d7ce",  # MATHEMATICAL BOLD DIGIT ZERO
    *"\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u180e\u200b",
    *"\ufffd\uffff\U0001f600\U0010ffff",
]
# Valid strings of each format, mutated position by position in test_mutations_agree.
SAMPLES: dict[str, list[str]] = {
    "iri": ["http://example.com/a?b=c#d", "urn:uuid:fd41c918", "x-y+z.1:ok"],
    "irl": ["https://lms.example.com/catalogue/x"],
    "uuid": ["fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "FD41C918-B88B-4B20-A0A5-A4C32391AAA0"],
    "mailto-iri": ["mailto:first.last+tag@sub.example.co.uk", "mailto:a@b"],
    "sha1": ["cd9b00a5611f94eaa7b1661edab976068e364975"],
    "sha2": ["495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a", "c" * 56],
    "mime-type": ["text/plain; charset=ascii", 'multipart/mixed; boundary="a\\"b c"', "a/b\t"],
    "lang-tag": ["en-US", "zh-Hant-TW", "sl-rozaj-biske", "en-a-bbb-x-a-ccc", "i-klingon", "x-p"],
    "xapi-timestamp": [
        "2008-09-15T15:53:00.601+01:00",
        "2024-02-29T23:59:60,5-05",
        "2016-12-31T00:00:00Z",
        "2008-09-15T15:53:00-0030",
    ],
    "xapi-duration": ["P1Y2M3DT4H5M6.5S", "PT0,5S", "P3W", "P1DT1H", "PT1M30S"],
    "xapi-version": ["1.0.3", "1.0"],
    "xapi-version-2": ["2.0.0", "1.0.10"],
}


def _native_checker(fmt: str) -> Callable[[list[str]], list[bool]]:
    """The native verdicts on many strings at once, from one jsonschema_rs call.

    The schema goes through validation._native_schema, as the statement schemas do.
    """
    schema = validation._native_schema(
        {"type": "array", "items": {"type": "string", "format": fmt}}
    )
    validator = jsonschema_rs.validator_for(schema)

    def check(values: list[str]) -> list[bool]:
        rejected = {error.instance_path[0] for error in validator.iter_errors(values)}
        return [index not in rejected for index in range(len(values))]

    return check


def _compare(fmt: str, values: Iterable[str]) -> None:
    """Native accepts only what Python accepts, and exactly what it accepts on ASCII."""
    values = list(dict.fromkeys(values))
    python = FORMATS[fmt]
    for value, native in zip(values, _native_checker(fmt)(values), strict=True):
        reference = bool(python(value))
        if value.isascii():
            assert native == reference, (fmt, value, native, reference)
        else:
            assert reference or not native, (fmt, value, "native accepts, Python rejects")


def _formats_in(node: Any) -> set[str]:
    """The formats a schema names."""
    if isinstance(node, list):
        return set().union(*map(_formats_in, node))
    if not isinstance(node, dict):
        return set()
    found = {node["format"]} if isinstance(node.get("format"), str) else set()
    return found.union(*map(_formats_in, node.values()))


# ----------------------------------------------------------------------------------------------
# The native schema
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_named_format_has_a_native_pattern(version: str) -> None:
    # A format without one still works (a Python callback), but costs ~2 us per value.
    schema = validation._load_schema(version)
    assert _formats_in(schema)
    assert _formats_in(validation._native_schema(schema)) == set()
    assert set(NATIVE_PATTERNS) == set(FORMATS)


def test_native_schema_replaces_formats_and_nothing_else() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "format": "uuid"},
            "b": {"format": "iri", "pattern": "^h"},
            "c": {"const": {"format": "iri"}},
            "d": {"format": "unknown-format"},
            "format": {"type": "string"},
        },
        "propertyNames": {"format": "lang-tag"},
    }
    uuid_pattern = f"^(?:{NATIVE_PATTERNS['uuid']})$"
    assert validation._native_schema(schema) == {
        "type": "object",
        "properties": {
            "a": {"type": "string", "pattern": uuid_pattern},
            "b": {"pattern": "^h", "allOf": [{"pattern": f"^(?:{NATIVE_PATTERNS['iri']})$"}]},
            "c": {"const": {"format": "iri"}},
            "d": {"format": "unknown-format"},
            "format": {"type": "string"},
        },
        "propertyNames": {"pattern": f"^(?:{NATIVE_PATTERNS['lang-tag']})$"},
    }


def test_a_format_without_a_native_pattern_calls_its_python_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    validation._native_validator.cache_clear()
    without_uuid = {name: pattern for name, pattern in NATIVE_PATTERNS.items() if name != "uuid"}
    monkeypatch.setattr(validation, "NATIVE_PATTERNS", without_uuid)
    calls: list[str] = []

    def uuid_check(value: str) -> bool:
        calls.append(value)
        return bool(validation.UUID_RE.fullmatch(value))

    monkeypatch.setitem(FORMATS, "uuid", uuid_check)
    try:
        good = make_statement(id="fd41c918-b88b-4b20-a0a5-a4c32391aaa0")
        assert validation._native_valid(good, "1.0.3")
        assert not validation._native_valid(make_statement(id="nope"), "1.0.3")
        assert calls == [good["id"], "nope"]
    finally:
        validation._native_validator.cache_clear()


# ----------------------------------------------------------------------------------------------
# Each native pattern against its Python format
# ----------------------------------------------------------------------------------------------

# Every code point of the BMP but surrogates (every character Python's \s names is there), and
# one in 97 beyond it.
CODE_POINTS = [
    chr(c)
    for c in itertools.chain(range(0xD800), range(0xE000, 0x10000), range(0x10000, 0x110000, 97))
]


@pytest.mark.parametrize(
    ("fmt", "template"),
    [
        ("iri", "a:{}"),
        ("iri", "a:b{}c"),
        ("mailto-iri", "mailto:{}@example.com"),
        ("mailto-iri", "mailto:a@{}"),
        ("mime-type", 'a/b;c="{}"'),
        ("mime-type", 'a/b;c="\\{}"'),
    ],
)
def test_character_classes_match_pythons_exactly(fmt: str, template: str) -> None:
    # The negated classes spell out Python's \s; beyond ASCII they must agree too.
    values = [template.format(c) for c in CODE_POINTS]
    python = FORMATS[fmt]
    disagree = [
        value
        for value, native in zip(values, _native_checker(fmt)(values), strict=True)
        if native != bool(python(value))
    ]
    assert disagree == []


def test_python_whitespace_is_what_the_native_patterns_spell_out() -> None:
    # _PY_SPACE is Python's \s on str; a new Unicode version could add a space character.
    spaces = "".join(chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c)))
    assert re.fullmatch(f"[{validation._PY_SPACE}]+", spaces)
    assert not re.search(
        f"[{validation._PY_SPACE}]", "".join(c for c in CODE_POINTS if c not in spaces)
    )


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_mutations_agree(fmt: str) -> None:
    values = []
    for sample in SAMPLES[fmt]:
        assert FORMATS[fmt](sample), sample
        for index in range(len(sample) + 1):
            for char in TRICKY:
                values.append(sample[:index] + char + sample[index:])  # insert
                values.append(sample[:index] + char + sample[index + 1 :])  # replace
            values.append(sample[:index] + sample[index + 1 :])  # delete
            values.append(sample[:index])  # truncate
    _compare(fmt, values)


def test_timestamps_agree_on_every_date_time_and_offset_edge() -> None:
    years = ["0000", "0001", "0004", "0100", "0400", "1900", "1999", "2000", "2023", "2024"]
    years += ["2100", "2400", "9999", "10000", "999"]
    two = [f"{n:02d}" for n in range(62)] + ["0", "000"]
    dates = [f"{y}-{m}-{d}" for y in years for m in two[:14] for d in two[:33]]
    times = [f"T{h}:{m}:{s}" for h in two[:26] for m in ("00", "59", "60") for s in two]
    zones = ["Z", "z", "", "+", "-"] + [
        f"{sign}{h}{sep}{m}" for sign in "+-" for h in two[:26] for sep in ("", ":") for m in two
    ]
    zones += [f"{sign}{h}" for sign in "+-" for h in two[:26]]
    _compare("xapi-timestamp", [f"{d}T12:00:00Z" for d in dates])
    _compare("xapi-timestamp", [f"2024-02-29{t}{f}Z" for t in times for f in ("", ".5", ",25")])
    _compare("xapi-timestamp", [f"2024-02-29T12:00:00{z}" for z in zones])


def test_durations_agree_on_every_shape() -> None:
    # Every subset of components, in order, each whole or with a fraction, with and without T.
    values = ["P", "PT", "", "T1H", "P1", "PW", "P1.W", "P.5W", "P1.5.5S", "P1H", "PT1D"]
    units = ["W", "Y", "M", "D", "H", "M", "S"]
    for present in itertools.product([False, True], repeat=7):
        chosen = [index for index, on in enumerate(present) if on]
        for numbers in itertools.product(["1", "0.5", "12,25"], repeat=len(chosen)):
            parts = dict(zip(chosen, numbers, strict=True))
            date = "".join(f"{parts[i]}{units[i]}" for i in range(4) if i in parts)
            time = "".join(f"{parts[i]}{units[i]}" for i in range(4, 7) if i in parts)
            values += [f"P{date}T{time}", f"P{date}{time}"]
    _compare("xapi-duration", values)


# Per format, the characters its syntax is made of (and a few it excludes), for random strings.
ALPHABETS: dict[str, str] = {
    "iri": 'aZ09+.-:/?#%@ <>"{}|\\^`\x00\x7f\xa0\u3000é',
    "irl": "hHtp:/.-+09",
    "uuid": "0aAfFgG9-",
    "mailto-iri": 'mailto:@.aZ+-/?#,;()[]\\" \x1c\x85é',
    "sha1": "0aAfFgG9",
    "sha2": "0aAfFgG9",
    "mime-type": 'ab/;= \t"\\\n!#~()é',
    "lang-tag": "aAzZxXiI09-",
    "xapi-timestamp": "0123456789-:T.,Z+",
    "xapi-duration": "P0159.,WYMDTHS",
    "xapi-version": "1.02",
    "xapi-version-2": "1.02",
}


@pytest.mark.parametrize("fmt", sorted(ALPHABETS))
def test_random_strings_agree(fmt: str) -> None:
    rng = random.Random(fmt)  # deterministic: the same strings on every run
    alphabet = ALPHABETS[fmt]
    samples = SAMPLES[fmt]
    values = []
    for _ in range(3000):
        length = rng.randrange(0, 48)
        values.append("".join(rng.choice(alphabet) for _ in range(length)))
        # A valid sample with a few random edits: nearer the boundary than random text.
        value = list(rng.choice(samples))
        for _ in range(rng.randrange(1, 4)):
            index = rng.randrange(len(value) + 1)
            value[index : index + rng.randrange(0, 2)] = rng.choice(alphabet) * rng.randrange(0, 3)
        values.append("".join(value))
    _compare(fmt, values)


# ----------------------------------------------------------------------------------------------
# Whole statements: the engines agree on shapes, not only on formats
# ----------------------------------------------------------------------------------------------

SPEC_EXAMPLES = json.loads((FIXTURES / "xapi-1.0.3-spec-examples.json").read_text("utf-8"))
# Values a mutation puts somewhere: wrong types, valid and invalid formats, objectTypes.
REPLACEMENTS: list[Any] = [
    None,
    0,
    -1,
    2.5,
    1.0,
    True,
    "",
    "x",
    [],
    {},
    [{}],
    {"x": 1},
    "mailto:a@example.com",
    "http://example.com/x",
    "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "2024-02-29T00:00:00Z",
    "PT1S",
    "en-US",
    "Agent",
    "Group",
    "Activity",
    "SubStatement",
    "StatementRef",
    "1.0.0",
    {"objectType": "Agent", "mbox": "mailto:a@example.com"},
    {"id": "http://example.com/a"},
]
EXTRA_KEYS = ["objectType", "member", "id", "mbox", "account", "definition", "stored", "x"]


def _bases() -> list[dict[str, Any]]:
    """Valid statements with many kinds of parts: the spec's examples and the interactions."""
    bases = [copy.deepcopy(statement) for statement in SPEC_EXAMPLES["statements"]]
    for definition in SPEC_EXAMPLES["interaction_definitions"].values():
        obj = {"id": "http://example.com/q", "definition": definition}
        bases.append(make_statement(object=obj, context={"contextActivities": {"parent": obj}}))
        sub = make_statement(object=obj, result={"score": {"scaled": 0.5}, "duration": "PT1S"})
        bases.append(make_statement(object={**sub, "objectType": "SubStatement"}))
    agent = {"objectType": "Agent", "mbox": "mailto:a@example.com"}
    group = {"objectType": "Group", "name": "G", "member": [agent, {"openid": "http://o.x/1"}]}
    attachment = {
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "signature"},
        "contentType": "application/octet-stream",
        "length": 27,
        "sha2": "a" * 64,
        "fileUrl": "http://example.com/file",
    }
    bases.append(
        make_statement(
            actor=group,
            authority={"objectType": "Group", "member": [agent, agent]},
            attachments=[attachment],
            version="1.0.3",
            stored="2024-02-29T00:00:00Z",
            context={
                "contextAgents": [{"objectType": "contextAgent", "agent": agent}],
                "contextGroups": [
                    {"objectType": "contextGroup", "group": group, "relevantTypes": ["x:y"]}
                ],
                "team": group,
                "statement": {
                    "objectType": "StatementRef",
                    "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
                },
            },
        )
    )
    return bases


def _containers(node: Any) -> list[Any]:
    """Every dict and list inside a statement, itself included."""
    if isinstance(node, dict):
        return [node, *itertools.chain.from_iterable(map(_containers, node.values()))]
    if isinstance(node, list):
        return [node, *itertools.chain.from_iterable(map(_containers, node))]
    return []


def _mutated(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with one to three random edits: replace, delete or add a property."""
    statement = copy.deepcopy(base)
    for _ in range(rng.randrange(1, 4)):
        container = rng.choice(_containers(statement))
        if isinstance(container, list):
            if container:
                container[rng.randrange(len(container))] = copy.deepcopy(rng.choice(REPLACEMENTS))
            continue
        action = rng.randrange(3)
        if action == 2 or not container:
            container[rng.choice(EXTRA_KEYS)] = copy.deepcopy(rng.choice(REPLACEMENTS))
        elif action == 1:
            del container[rng.choice(list(container))]
        else:
            container[rng.choice(list(container))] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return statement


@pytest.mark.parametrize("version", VERSIONS)
def test_engines_agree_on_mutated_statements(version: str) -> None:
    rng = random.Random(f"mutations {version}")
    reference = validation._validator(version)
    bases = _bases()
    verdicts: list[bool] = []
    for _ in range(3000):
        statement = _mutated(rng, rng.choice(bases))
        try:
            reference(statement)
        except fastjsonschema.JsonSchemaValueException:
            expected = False
        else:
            expected = True
        assert validation._native_valid(statement, version) == expected, statement
        verdicts.append(expected)
    assert 300 < sum(verdicts) < 2700  # both verdicts well represented


# ----------------------------------------------------------------------------------------------
# The fast path and the fallback
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("timestamp", "\u0662\u0660\u0661\u0663-05-18T05:32:34Z"),  # Arabic-Indic digits
        ("version", "1.0.\uff13"),  # FULLWIDTH DIGIT THREE
        ("verb", {"id": "http://example.com/v", "display": {"en-\u212aR": "x"}}),  # KELVIN SIGN
        ("result", {"duration": "PT\u0661S"}),
        ("object", {"id": "http://example.com/\ud800"}),  # a lone surrogate (not UTF-8)
    ],
)
def test_what_only_python_accepts_is_still_accepted(change: str, value: Any) -> None:
    # The native engine is stricter on these; the reference has the final word, as before.
    statement = make_statement(**{change: value})
    assert not validation._native_valid(statement, "1.0.3")
    validate_statement(statement, "1.0.3")
    assert validate_statements([make_statement(), statement], "2.0.0")[1] is statement


def test_values_jsonschema_rs_cannot_convert_go_to_the_reference() -> None:
    # Statements come from JSON, but a bytes or set value must not become a 500 (or a pass).
    statement = make_statement(actor={"mbox": b"mailto:a@example.com"})
    assert not validation._native_valid(statement, "1.0.3")
    with pytest.raises(ValidationError) as info:
        validate_statement(statement, "1.0.3")
    assert info.value.path == "actor.mbox"
    with pytest.raises(ValueError):
        validation._native_validator("1.0.3").is_valid(statement)
    # Extension values are not checked by either engine (any JSON value is allowed there).
    validate_statement(make_statement(result={"extensions": {"http://e.com/x": {1, 2}}}), "2.0.0")


def test_valid_statements_never_reach_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    statements = [
        make_statement(),
        make_statement(
            id="fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
            timestamp="2024-02-29T12:00:00.123+05:30",
            result={"duration": "PT1M30.5S", "score": {"raw": 3, "min": 0, "max": 5}},
            context={
                "language": "zh-Hant-TW",
                "registration": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
            },
        ),
    ]

    def no_reference(rules: str) -> None:
        raise AssertionError("the reference engine ran for a valid statement")

    monkeypatch.setattr(validation, "_validator", no_reference)
    for version in VERSIONS:
        assert validate_statements(statements, version) is statements


def test_invalid_statements_get_the_reference_error(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    reference = validation._validator

    def counted(rules: str) -> Callable[[Any], Any]:
        calls.append(rules)
        return reference(rules)

    monkeypatch.setattr(validation, "_validator", counted)
    with pytest.raises(ValidationError) as info:
        validate_statements([make_statement(), make_statement(actor={"mbox": "x"})], "2.0.0")
    assert info.value.path == "[1].actor.mbox"
    assert info.value.message == "[1].actor.mbox must be a mailto IRI (mailto:name@host)"
    assert calls == ["2.0.0"]


def test_native_engine_errors_other_than_conversion_propagate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Broken:
        def is_valid(self, instance: object) -> bool:
            raise RuntimeError("bug")

    monkeypatch.setattr(validation, "_native_validator", lambda rules: Broken())
    with pytest.raises(RuntimeError):
        validate_statement(make_statement(), "1.0.3")


def test_compile_validators_compiles_both_engines_for_every_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    validation._validator.cache_clear()
    validation._native_validator.cache_clear()
    statement_prep.warm_up()
    assert validation._validator.cache_info().currsize == len(validation.SCHEMA_FILES)
    assert validation._native_validator.cache_info().currsize == len(validation.SCHEMA_FILES)

    def no_compile(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("schema compiled again")

    monkeypatch.setattr(fastjsonschema, "compile", no_compile)
    monkeypatch.setattr(jsonschema_rs, "validator_for", no_compile)
    for version in VERSIONS:
        validate_statement(make_statement(), version)
        with pytest.raises(ValidationError):
            validate_statement(make_statement(actor={}), version)
