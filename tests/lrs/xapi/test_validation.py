"""Unit tests for lrs.xapi.validation: statement shape (spec/*.schema.json) and the rules beyond it.

Cases follow xAPI 1.0.3 Part Two (§2.2-§2.4, §4) and the xAPI 2.0.0 changes; the edge values
(timestamps, durations, language tags, IRIs, objectType spellings, ...) are the ones the ADL LRS
conformance test suite probes. Every rejection asserts on the reported path.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest

from lrs.errors import BadRequest, ValidationError
from lrs.xapi import validation
from lrs.xapi.validation import rules_version, validate_statement, validate_statements
from tests.factories import DELETE, make_statement

VERSIONS = ["1.0.3", "2.0.0"]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEC_EXAMPLES = json.loads((FIXTURES / "xapi-1.0.3-spec-examples.json").read_text("utf-8"))

MBOX = "mailto:someone@example.com"
SHA1 = "cd9b00a5611f94eaa7b1661edab976068e364975"
SHA256 = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
UUID = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
ACCOUNT = {"homePage": "http://www.example.com", "name": "xAPI account name"}
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
AGENT = {"objectType": "Agent", "mbox": MBOX}
GROUP = {"objectType": "Group", "member": [{"mbox": MBOX}]}
ID_GROUP = {"objectType": "Group", "name": "Team", "mbox": "mailto:team@example.com"}
STATEMENT_REF = {"objectType": "StatementRef", "id": UUID}
ATTACHMENT = {
    "usageType": "http://example.com/attachment-usage/test",
    "display": {"en-US": "A test attachment"},
    "description": {"en-US": "A test attachment (description)"},
    "contentType": "text/plain; charset=ascii",
    "length": 27,
    "sha2": SHA256,
    "fileUrl": "http://over.there.com/file.txt",
}
OAUTH_AUTHORITY = {
    "objectType": "Group",
    "member": [
        {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_x75db"}},
        {"mbox": "mailto:bob@example.com"},
    ],
}


def substatement(**overrides: Any) -> dict[str, Any]:
    """A minimal valid SubStatement, with top-level overrides applied."""
    sub = make_statement(**overrides)
    sub["objectType"] = "SubStatement"
    return sub


def context_agent(**overrides: Any) -> dict[str, Any]:
    """A valid xAPI 2.0.0 contextAgent object."""
    item = {
        "objectType": "contextAgent",
        "agent": {"objectType": "Agent", "mbox": "mailto:player-1@example.com"},
        "relevantTypes": ["https://example.com/xapi/activity-types/player"],
        **overrides,
    }
    return {key: value for key, value in item.items() if value is not DELETE}


def context_group(**overrides: Any) -> dict[str, Any]:
    """A valid xAPI 2.0.0 contextGroup object."""
    item = {
        "objectType": "contextGroup",
        "group": {"objectType": "Group", "mbox": "mailto:team-1@example.com"},
        "relevantTypes": ["https://example.com/xapi/activity-types/team"],
        **overrides,
    }
    return {key: value for key, value in item.items() if value is not DELETE}


def interaction(kind: Any, **lists: Any) -> dict[str, Any]:
    """An Activity object with an interaction definition of the given interactionType."""
    definition = {"type": "http://adlnet.gov/expapi/activities/cmi.interaction"}
    definition["interactionType"] = kind
    definition.update(lists)
    return {"objectType": "Activity", "id": "http://example.com/q1", "definition": definition}


def components(*ids: str) -> list[dict[str, Any]]:
    """An interaction component list with the given ids."""
    return [{"id": i, "description": {"en-US": f"item {i}"}} for i in ids]


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _set(target: Any, path: str, value: Any) -> None:
    """Set (or, with DELETE, remove) the value at a dotted/indexed path inside `target`."""
    keys: list[str | int] = [name if name else int(index) for name, index in _TOKEN.findall(path)]
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = copy.deepcopy(value)


def build(*changes: tuple[str, Any]) -> dict[str, Any]:
    """A minimal statement with each (path, value) change applied in order."""
    statement = make_statement()
    for path, value in changes:
        _set(statement, path, value)
    return statement


@pytest.fixture(autouse=True)
def both_engines_agree(monkeypatch: pytest.MonkeyPatch) -> Counter[bool]:
    """Every statement these tests validate also goes through the reference engine.

    validation checks the schema natively (jsonschema_rs) and asks fastjsonschema only when the
    native verdict is "invalid"; here both always run, and must agree. Yields the verdicts seen.
    """
    native_valid = validation._native_valid
    verdicts: Counter[bool] = Counter()

    def checked(statement: object, rules: str) -> bool:
        native = native_valid(statement, rules)
        try:
            validation._validator(rules)(statement)
        except fastjsonschema.JsonSchemaValueException:
            reference = False
        else:
            reference = True
        assert native == reference, f"engines disagree under {rules}: {statement!r}"
        verdicts[native] += 1
        return native

    monkeypatch.setattr(validation, "_native_valid", checked)
    return verdicts


def test_both_engines_see_every_statement(both_engines_agree: Counter[bool]) -> None:
    validate_statements([make_statement(), make_statement()], "1.0.3")
    with pytest.raises(ValidationError):
        validate_statement(make_statement(actor={"mbox": "x"}), "2.0.0")
    assert both_engines_agree == {True: 2, False: 1}


def assert_invalid(statement: Any, version: str, path: str) -> ValidationError:
    """Validation must fail with a ValidationError naming exactly `path`."""
    with pytest.raises(ValidationError) as info:
        validate_statement(statement, version)
    assert info.value.path == path, info.value.message
    assert info.value.status == 400
    assert info.value.message.startswith(path or "statement")
    return info.value


# ----------------------------------------------------------------------------------------------
# The schema files and their compilation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_files_are_valid_draft_07(version: str) -> None:
    schema = validation._load_schema(version)
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def _walk(node: Any) -> Any:
    """Yield every dict inside a JSON document."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_named_format_is_supplied(version: str) -> None:
    schema = validation._load_schema(version)
    named = {node["format"] for node in _walk(schema) if isinstance(node.get("format"), str)}
    assert named <= set(validation.FORMATS)
    assert named <= set(validation.FORMAT_DESCRIPTIONS)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_with_properties_forbids_unknown_ones(version: str) -> None:
    schema = validation._load_schema(version)
    for name, definition in schema["definitions"].items():
        if "properties" in definition and definition.get("type") == "object":
            assert definition["additionalProperties"] is False, name
    assert schema["additionalProperties"] is False


def test_schemas_differ_only_where_2_0_0_differs() -> None:
    old, new = validation._load_schema("1.0.3"), validation._load_schema("2.0.0")
    added = set(new["definitions"]) - set(old["definitions"])
    assert added == {"contextAgent", "contextGroup", "relevantTypes"}
    assert set(new["definitions"]["context"]["properties"]) - set(
        old["definitions"]["context"]["properties"]
    ) == {"contextAgents", "contextGroups"}


def test_schemas_are_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for version in VERSIONS:
        validate_statement(make_statement(), version)

    def no_compile(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("schema compiled again")

    monkeypatch.setattr(fastjsonschema, "compile", no_compile)
    for version in ["1.0.0", "1.0.3", "2.0.0", "2.0"]:
        validate_statement(make_statement(), version)
        validate_statements([make_statement(), make_statement()], version)


def test_schemas_are_read_from_the_repository_spec_folder() -> None:
    expected = Path(__file__).resolve().parents[3] / "spec"
    assert expected == validation.SPEC_DIR
    for name in validation.SCHEMA_FILES.values():
        assert (validation.SPEC_DIR / name).is_file()


# ----------------------------------------------------------------------------------------------
# Versions
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "rules"),
    [
        ("1.0", "1.0.3"),
        ("1.0.0", "1.0.3"),
        ("1.0.1", "1.0.3"),
        ("1.0.3", "1.0.3"),
        ("2.0", "2.0.0"),
        ("2.0.0", "2.0.0"),
    ],
)
def test_request_version_selects_rules(requested: str, rules: str) -> None:
    assert rules_version(requested) == rules


@pytest.mark.parametrize("requested", ["0.95", "1.1.0", "3.0.0", "", "1.0.3 ", "latest"])
def test_unsupported_request_version_is_rejected(requested: str) -> None:
    with pytest.raises(ValidationError):
        validate_statement(make_statement(), requested)


@pytest.mark.parametrize("version", VERSIONS)
def test_factory_statement_is_valid(version: str) -> None:
    validate_statement(make_statement(), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("index", range(len(SPEC_EXAMPLES["statements"])))
def test_spec_example_statements_are_valid(version: str, index: int) -> None:
    validate_statement(SPEC_EXAMPLES["statements"][index], version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", sorted(SPEC_EXAMPLES["interaction_definitions"]))
def test_spec_example_interactions_are_valid(version: str, kind: str) -> None:
    definition = SPEC_EXAMPLES["interaction_definitions"][kind]
    obj = {"id": "http://example.com/q", "definition": definition}
    validate_statement(make_statement(object=obj), version)
    validate_statement(make_statement(object=substatement(object=obj)), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", ["1.0", "1.0.0", "1.0.3", "1.0.9", "1.0.10"])
def test_statement_version_1_0_x_is_accepted(version: str, value: str) -> None:
    validate_statement(make_statement(version=value), version)


def test_statement_version_2_0_0_only_under_2_0_0() -> None:
    validate_statement(make_statement(version="2.0.0"), "2.0.0")
    error = assert_invalid(make_statement(version="2.0.0"), "1.0.3", "version")
    assert "1.0 or 1.0.x" in error.message


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "value", ["1.1.0", "0.9.9", "0.95", "should fail", "", "2.0", "2.0.1", "1.0.", "1", 1.0]
)
def test_bad_statement_version_is_rejected(version: str, value: Any) -> None:
    assert_invalid(make_statement(version=value), version, "version")


# ----------------------------------------------------------------------------------------------
# Formatting (Part 2 §2.2): unknown keys, case, nulls, types
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ((("actor", DELETE),), "actor"),
        ((("verb", DELETE),), "verb"),
        ((("object", DELETE),), "object"),
        ((("dummy", "dummy"),), "dummy"),
        ((("Version", "1.0.0"),), "Version"),
        ((("Actor", AGENT),), "Actor"),
        ((("timeStamp", "2013-05-18T05:32:34.804Z"),), "timeStamp"),
        ((("timestamp", None),), "timestamp"),
        ((("actor.name", None),), "actor.name"),
        ((("context", {"registration": None}),), "context.registration"),
        ((("actor.Mbox", MBOX), ("actor.mbox", DELETE)), "actor.Mbox"),
        ((("verb.ID", "http://example.com/v"),), "verb.ID"),
        ((("object.definition", {"Name": {"en-US": "x"}}),), "object.definition.Name"),
        ((("result", {"success": "true"}),), "result.success"),
        ((("result", {"completion": 1}),), "result.completion"),
        ((("result", {"score": {"raw": "5"}}),), "result.score.raw"),
        ((("result", {"score": {"max": True}}),), "result.score.max"),
        ((("result", {"response": 42}),), "result.response"),
        ((("result", {"success": True, "extra": 1}),), "result.extra"),
    ],
)
def test_formatting_rules(version: str, changes: tuple[tuple[str, Any], ...], path: str) -> None:
    assert_invalid(build(*changes), version, path)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("body", [None, [], "statement", 42, [make_statement()]])
def test_a_statement_must_be_an_object(version: str, body: Any) -> None:
    assert_invalid(body, version, "")


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_key_message_mentions_case(version: str) -> None:
    error = assert_invalid(build(("Version", "1.0.0")), version, "Version")
    assert "case-sensitive" in error.message


# ----------------------------------------------------------------------------------------------
# Statement id and UUIDs (Part 2 §2.4.1, §4.4)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "value",
    [
        UUID,
        UUID.upper(),
        "12345678-1234-5678-1234-567812345678",  # not RFC 4122 variant: still accepted
        "00000000-0000-0000-0000-000000000000",
        "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    ],
)
def test_good_uuids(version: str, value: str) -> None:
    validate_statement(make_statement(id=value), version)
    validate_statement(build(("context", {"registration": value})), version)
    validate_statement(make_statement(object={"objectType": "StatementRef", "id": value}), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "value",
    [
        "AA97B177-9383-4934-8543-0F91A7A028368",  # too many digits
        "MA97B177-9383-4934-8543-0F91A7A02836",  # not hex
        "fd41c918b88b4b20a0a5a4c32391aaa0",  # no hyphens
        "{fd41c918-b88b-4b20-a0a5-a4c32391aaa0}",
        "urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "fd41c918-b88b-4b20-a0a5-a4c32391aaa0\n",
        "",
        "should fail",
        12345,
        {"key": "should fail"},
    ],
)
def test_bad_uuids(version: str, value: Any) -> None:
    assert_invalid(make_statement(id=value), version, "id")
    assert_invalid(build(("context", {"registration": value})), version, "context.registration")
    ref = {"objectType": "StatementRef", "id": value}
    assert_invalid(make_statement(object=ref), version, "object.id")


# ----------------------------------------------------------------------------------------------
# Actor: Agents, Groups, IFIs, accounts (Part 2 §2.4.2)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "actor",
    [
        {"mbox": MBOX},
        {"objectType": "Agent", "mbox_sha1sum": SHA1},
        {"objectType": "Agent", "mbox_sha1sum": SHA1.upper()},
        {"openid": "http://openid.example.org/12345"},
        {"account": ACCOUNT, "name": "Someone"},
        {"account": {"homePage": "http://www.example.com", "name": ""}},
        {"mbox": "mailto:first.last+tag@sub.example.co.uk"},
        GROUP,
        {"objectType": "Group", "name": "Anonymous", "member": [AGENT, {"openid": "http://o.x/1"}]},
        ID_GROUP,
        {**ID_GROUP, "member": []},
        {"objectType": "Group", "account": ACCOUNT, "member": [{"mbox_sha1sum": SHA1}]},
        {"objectType": "Group", "openid": "http://openid.example.org/team"},
    ],
)
def test_good_actors(version: str, actor: dict[str, Any]) -> None:
    validate_statement(make_statement(actor=actor), version)
    validate_statement(build(("context", {"instructor": actor})), version)
    validate_statement(make_statement(object=substatement(actor=actor)), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("actor", "path"),
    [
        ({"objectType": "Agent"}, "actor"),
        ({"name": "No identifier"}, "actor"),
        ({"mbox": MBOX, "mbox_sha1sum": SHA1}, "actor"),
        ({"mbox": MBOX, "account": ACCOUNT}, "actor"),
        ({"openid": "http://o.example/1", "account": ACCOUNT}, "actor"),
        ({"mbox": "http://should.fail.com"}, "actor.mbox"),
        ({"mbox": "mailto:should.fail.com"}, "actor.mbox"),
        ({"mbox": "someone@example.com"}, "actor.mbox"),
        ({"mbox": "mailto:"}, "actor.mbox"),
        ({"mbox": ""}, "actor.mbox"),
        ({"mbox": 12345}, "actor.mbox"),
        ({"mbox_sha1sum": "abc"}, "actor.mbox_sha1sum"),
        ({"mbox_sha1sum": SHA1 + "0"}, "actor.mbox_sha1sum"),
        ({"mbox_sha1sum": 12345}, "actor.mbox_sha1sum"),
        ({"openid": "ab=c://should.fail.com"}, "actor.openid"),
        ({"openid": "openid.example.org"}, "actor.openid"),
        ({"account": {"name": "x"}}, "actor.account.homePage"),
        ({"account": {"homePage": "http://www.example.com"}}, "actor.account.name"),
        (
            {"account": {"homePage": "ab=c://should.fail.com", "name": "x"}},
            "actor.account.homePage",
        ),
        ({"account": {**ACCOUNT, "name": {"key": "value"}}}, "actor.account.name"),
        ({"account": {**ACCOUNT, "id": "x"}}, "actor.account.id"),
        ({"account": "xAPI account"}, "actor.account"),
        ({"mbox": MBOX, "name": 123}, "actor.name"),
        ({"mbox": MBOX, "objectType": "agent"}, "actor.objectType"),
        ({"mbox": MBOX, "objectType": "AGENT"}, "actor.objectType"),
        ({"mbox": MBOX, "objectType": 123}, "actor.objectType"),
        ({"mbox": MBOX, "objectType": "Activity"}, "actor.objectType"),
        ({"mbox": MBOX, "member": [AGENT]}, "actor.member"),
        ({"mbox": MBOX, "key": "value"}, "actor.key"),
        ({"objectType": "Group"}, "actor.member"),
        ({"objectType": "Group", "name": "Anonymous"}, "actor.member"),
        ({"objectType": "Group", "member": []}, "actor.member"),
        ({"objectType": "Group", "member": AGENT}, "actor.member"),
        ({"objectType": "Group", "member": [AGENT, {"name": "x"}]}, "actor.member[1]"),
        ({"objectType": "Group", "member": [AGENT, {"mbox": "x"}]}, "actor.member[1].mbox"),
        ({"objectType": "Group", "member": [ID_GROUP]}, "actor.member[0].objectType"),
        ({**ID_GROUP, "member": [{"mbox": MBOX, "openid": "http://o.x/1"}]}, "actor.member[0]"),
        ({**ID_GROUP, "account": ACCOUNT}, "actor"),
        ({**ID_GROUP, "mbox_sha1sum": SHA1}, "actor"),
        ({**ID_GROUP, "mbox": "mailto:should.fail.com"}, "actor.mbox"),
        ({**ID_GROUP, "objectType": "group"}, "actor.objectType"),
    ],
)
def test_bad_actors(version: str, actor: dict[str, Any], path: str) -> None:
    assert_invalid(make_statement(actor=actor), version, path)
    in_context = path.replace("actor", "context.instructor", 1)
    assert_invalid(build(("context", {"instructor": actor})), version, in_context)
    in_sub = f"object.{path}"
    assert_invalid(make_statement(object=substatement(actor=actor)), version, in_sub)


@pytest.mark.parametrize("version", VERSIONS)
def test_ifi_error_names_the_count(version: str) -> None:
    error = assert_invalid(
        make_statement(actor={"mbox": MBOX, "openid": "http://o/1"}), version, "actor"
    )
    assert "found 2" in error.message
    error = assert_invalid(make_statement(actor={"name": "x"}), version, "actor")
    assert "found 0" in error.message


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("team", "path"),
    [
        (AGENT, "context.team.objectType"),
        ({"mbox": MBOX}, "context.team.objectType"),
        ({"objectType": "Group"}, "context.team.member"),
        ({**ID_GROUP, "openid": "http://o/1"}, "context.team"),
        ("team", "context.team"),
        ({"key": "value"}, "context.team.objectType"),
    ],
)
def test_context_team_must_be_a_group(version: str, team: Any, path: str) -> None:
    validate_statement(build(("context", {"team": GROUP})), version)
    validate_statement(build(("context", {"team": ID_GROUP})), version)
    assert_invalid(build(("context", {"team": team})), version, path)


# ----------------------------------------------------------------------------------------------
# Verb and voiding (Part 2 §2.4.3, §2.3.2)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("verb", "path"),
    [
        ({"display": {"en-US": "attended"}}, "verb.id"),
        ({"id": "ab=c://should.fail.com"}, "verb.id"),
        ({"id": "attended"}, "verb.id"),
        ({"id": ""}, "verb.id"),
        ({"id": "http://example.com/verbs/has space"}, "verb.id"),
        ({"id": 12345}, "verb.id"),
        ({"id": "http://example.com/v", "display": "a12345 attended"}, "verb.display"),
        ({"id": "http://example.com/v", "display": 12345}, "verb.display"),
        ({"id": "http://example.com/v", "display": {"a12345": "x"}}, "verb.display.a12345"),
        ({"id": "http://example.com/v", "display": {"en-US": 5}}, "verb.display.en-US"),
        ({"id": "http://example.com/v", "display": {"en-US": None}}, "verb.display.en-US"),
        ({"id": "http://example.com/v", "name": "x"}, "verb.name"),
        ("http://example.com/v", "verb"),
    ],
)
def test_bad_verbs(version: str, verb: Any, path: str) -> None:
    assert_invalid(make_statement(verb=verb), version, path)


@pytest.mark.parametrize("version", VERSIONS)
def test_verb_display_is_optional_and_may_be_empty(version: str) -> None:
    validate_statement(make_statement(verb={"id": "http://example.com/v"}), version)
    validate_statement(make_statement(verb={"id": "http://example.com/v", "display": {}}), version)


@pytest.mark.parametrize("version", VERSIONS)
def test_voiding_statement_needs_a_statement_ref(version: str) -> None:
    verb = {"id": VOIDED, "display": {"en-US": "voided"}}
    validate_statement(make_statement(verb=verb, object=STATEMENT_REF), version)
    assert_invalid(make_statement(verb=verb), version, "object")
    assert_invalid(make_statement(verb=verb, object=AGENT), version, "object")
    assert_invalid(make_statement(verb=verb, object=substatement()), version, "object")


@pytest.mark.parametrize("version", VERSIONS)
def test_voiding_rule_in_a_batch_names_the_statement(version: str) -> None:
    bad = make_statement(verb={"id": VOIDED})
    with pytest.raises(ValidationError) as info:
        validate_statements([make_statement(), bad], version)
    assert info.value.path == "[1].object"


# ----------------------------------------------------------------------------------------------
# Object: Activities, Agents/Groups, StatementRefs, SubStatements (Part 2 §2.4.4)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "obj",
    [
        {"id": "http://example.com/activities/1"},
        {"objectType": "Activity", "id": "urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0"},
        {"id": "http://example.com/activities/1", "definition": {}},
        {"id": "http://example.com/path/../other"},
        {
            "id": "http://example.com/activities/1",
            "definition": {
                "name": {"en-US": "Name", "es": "Nombre"},
                "description": {"en-US": "Description"},
                "type": "http://adlnet.gov/expapi/activities/meeting",
                "moreInfo": "https://example.com/more?x=1#top",
                "extensions": {"http://example.com/ext": {"any": ["json", 1, None]}},
            },
        },
        AGENT,
        GROUP,
        ID_GROUP,
        STATEMENT_REF,
        substatement(),
        substatement(object=AGENT),
        substatement(object=ID_GROUP),
        substatement(object=STATEMENT_REF),
        substatement(timestamp="2099-01-01T00:00:00Z", attachments=[ATTACHMENT]),
        substatement(result={"success": True}, context={"platform": "web"}),
    ],
)
def test_good_objects(version: str, obj: dict[str, Any]) -> None:
    validate_statement(make_statement(object=obj), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ({"objectType": "Activity"}, "object.id"),
        ({"id": "ab=c://should.fail.com"}, "object.id"),
        ({"id": "should error"}, "object.id"),
        ({"id": "/relative/path"}, "object.id"),
        ({"id": 12345}, "object.id"),
        ({"objectType": "activity", "id": "http://e.com/a"}, "object.objectType"),
        ({"objectType": "Should fail", "id": "http://e.com/a"}, "object.objectType"),
        ({"objectType": 1, "id": "http://e.com/a"}, "object.objectType"),
        ({"id": "http://e.com/a", "definition": "x"}, "object.definition"),
        ({"id": "http://e.com/a", "definition": {"name": "x"}}, "object.definition.name"),
        (
            {"id": "http://e.com/a", "definition": {"name": {"something": "x"}}},
            "object.definition.name.something",
        ),
        (
            {"id": "http://e.com/a", "definition": {"description": {"a12345678": "x"}}},
            "object.definition.description.a12345678",
        ),
        ({"id": "http://e.com/a", "definition": {"type": "should fail"}}, "object.definition.type"),
        (
            {"id": "http://e.com/a", "definition": {"moreInfo": "should fail"}},
            "object.definition.moreInfo",
        ),
        ({"id": "http://e.com/a", "definition": {"moreInfo": None}}, "object.definition.moreInfo"),
        (
            {"id": "http://e.com/a", "definition": {"extensions": "x"}},
            "object.definition.extensions",
        ),
        (
            {"id": "http://e.com/a", "definition": {"extensions": {"should fail": 1}}},
            "object.definition.extensions.should fail",
        ),
        ({"id": "http://e.com/a", "definition": {"extra": 1}}, "object.definition.extra"),
        ({"id": "http://e.com/a", "extra": 1}, "object.extra"),
        ({"mbox": MBOX}, "object.id"),  # §2.4.4.2: an Agent object MUST say objectType
        ({"objectType": "agent", "mbox": MBOX}, "object.objectType"),
        ({"objectType": "Agent", "mbox": MBOX, "openid": "http://o/1"}, "object"),
        ({"objectType": "Agent"}, "object"),
        ({"objectType": "group", "member": [AGENT]}, "object.objectType"),
        ({"objectType": "Group"}, "object.member"),
        ({"objectType": "StatementRef"}, "object.id"),
        ({"objectType": "StatementRef", "id": "should fail"}, "object.id"),
        ({"objectType": "statementref", "id": UUID}, "object.objectType"),
        ({"objectType": "StatementRef", "id": UUID, "extra": 1}, "object.extra"),
    ],
)
def test_bad_objects(version: str, obj: dict[str, Any], path: str) -> None:
    assert_invalid(make_statement(object=obj), version, path)
    # The same object inside a SubStatement is reported under object.object.
    assert_invalid(make_statement(object=substatement(object=obj)), version, f"object.{path}")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("sub", "path"),
    [
        (substatement(object=substatement()), "object.object.objectType"),
        (substatement(id=UUID), "object.id"),
        (substatement(stored="2013-05-18T05:32:34.804Z"), "object.stored"),
        (substatement(version="1.0.0"), "object.version"),
        (substatement(authority=AGENT), "object.authority"),
        (substatement(actor=DELETE), "object.actor"),
        (substatement(verb=DELETE), "object.verb"),
        (substatement(object=DELETE), "object.object"),
        ({**substatement(), "objectType": "substatement"}, "object.objectType"),
        ({**substatement(), "objectType": "Substatement"}, "object.objectType"),
        (substatement(timestamp="should fail"), "object.timestamp"),
        (substatement(verb={"id": "bad"}), "object.verb.id"),
        (substatement(dummy=1), "object.dummy"),
    ],
)
def test_bad_substatements(version: str, sub: dict[str, Any], path: str) -> None:
    assert_invalid(make_statement(object=sub), version, path)


# ----------------------------------------------------------------------------------------------
# Interaction activities (Part 2 §2.4.4.1)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "obj",
    [
        interaction("true-false", correctResponsesPattern=["true"]),
        interaction("choice", choices=components("a", "b", "c"), correctResponsesPattern=["a[,]b"]),
        interaction("sequencing", choices=components("a", "b")),
        interaction("likert", scale=components("1", "2", "3")),
        interaction("matching", source=components("a", "b"), target=components("1", "2")),
        interaction("matching", source=components("a"), target=components("a")),  # per list
        interaction("performance", steps=components("s1", "s2")),
        interaction("fill-in", correctResponsesPattern=["{case_matters=true}Bob"]),
        interaction("long-fill-in", correctResponsesPattern=[]),
        interaction("numeric", correctResponsesPattern=["4[:]"]),
        interaction("other", correctResponsesPattern=["(35.937432,-86.868896)"]),
        interaction("choice"),
        interaction("choice", choices=[]),
        interaction("choice", choices=[{"id": "a"}]),
    ],
)
def test_good_interactions(version: str, obj: dict[str, Any]) -> None:
    validate_statement(make_statement(object=obj), version)
    validate_statement(make_statement(object=substatement(object=obj)), version)
    in_context = build(("context", {"contextActivities": {"parent": [obj]}}))
    validate_statement(in_context, version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("obj", "path"),
    [
        (interaction("Choice"), "definition.interactionType"),
        (interaction("choiCe"), "definition.interactionType"),
        (interaction("Other"), "definition.interactionType"),
        (interaction("http://example.com/choice"), "definition.interactionType"),
        (interaction(12345), "definition.interactionType"),
        (interaction("true-false", choices=components("a")), "definition.choices"),
        (interaction("choice", scale=components("a")), "definition.scale"),
        (interaction("likert", choices=components("a")), "definition.choices"),
        (interaction("sequencing", source=components("a")), "definition.source"),
        (interaction("matching", steps=components("a")), "definition.steps"),
        (interaction("performance", target=components("a")), "definition.target"),
        (interaction("fill-in", choices=components("a")), "definition.choices"),
        (interaction("numeric", scale=components("a")), "definition.scale"),
        (interaction("other", steps=components("a")), "definition.steps"),
        (interaction("choice", choices=components("a", "b", "a")), "definition.choices[2].id"),
        (interaction("likert", scale=components("x", "x")), "definition.scale[1].id"),
        (
            interaction("matching", source=components("a"), target=components("1", "1")),
            "definition.target[1].id",
        ),
        (
            interaction("choice", choices=[{"description": {"en-US": "x"}}]),
            "definition.choices[0].id",
        ),
        (interaction("choice", choices=[{"id": 1}]), "definition.choices[0].id"),
        (interaction("choice", choices=[{"id": "a", "extra": 1}]), "definition.choices[0].extra"),
        (
            interaction("choice", choices=[{"id": "a", "description": {"?": "x"}}]),
            "definition.choices[0].description.?",
        ),
        (interaction("choice", choices={"id": "a"}), "definition.choices"),
        (interaction("choice", correctResponsesPattern="a"), "definition.correctResponsesPattern"),
        (
            interaction("choice", correctResponsesPattern=[1]),
            "definition.correctResponsesPattern[0]",
        ),
        (
            {"id": "http://e.com/q", "definition": {"choices": components("a")}},
            "definition.interactionType",
        ),
        (
            {"id": "http://e.com/q", "definition": {"correctResponsesPattern": ["a"]}},
            "definition.interactionType",
        ),
    ],
)
def test_bad_interactions(version: str, obj: dict[str, Any], path: str) -> None:
    assert_invalid(make_statement(object=obj), version, f"object.{path}")
    assert_invalid(
        make_statement(object=substatement(object=obj)), version, f"object.object.{path}"
    )
    in_context = build(("context", {"contextActivities": {"grouping": [obj]}}))
    assert_invalid(in_context, version, f"context.contextActivities.grouping[0].{path}")


# ----------------------------------------------------------------------------------------------
# Result and Score (Part 2 §2.4.5)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "score",
    [
        {},
        {"scaled": 1},
        {"scaled": -1},
        {"scaled": 0.6767676},
        {"raw": 100.6767676},
        {"raw": -50},
        {"raw": 0, "min": 0, "max": 10},
        {"raw": 10, "min": 0, "max": 10},
        {"raw": 5, "min": 0},
        {"raw": 5, "max": 5},
        {"min": -1.5, "max": -1},
        {"scaled": 0.95, "raw": 95, "min": 0, "max": 100},
    ],
)
def test_good_scores(version: str, score: dict[str, Any]) -> None:
    validate_statement(build(("result", {"score": score})), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("score", "path"),
    [
        ({"scaled": 1.01}, "result.score.scaled"),
        ({"scaled": -1.5}, "result.score.scaled"),
        ({"scaled": "0.5"}, "result.score.scaled"),
        ({"raw": 11, "min": 0, "max": 10}, "result.score.raw"),
        ({"raw": -1, "min": 0, "max": 10}, "result.score.raw"),
        ({"raw": -1, "min": 0}, "result.score.raw"),
        ({"raw": 11, "max": 10}, "result.score.raw"),
        ({"min": 10, "max": 10}, "result.score.min"),
        ({"raw": 5, "min": 10, "max": 0}, "result.score.min"),
        ({"raw": None}, "result.score.raw"),
        ({"min": "0"}, "result.score.min"),
        ({"max": {"key": "invalid"}}, "result.score.max"),
        ({"percent": 50}, "result.score.percent"),
    ],
)
def test_bad_scores(version: str, score: dict[str, Any], path: str) -> None:
    assert_invalid(build(("result", {"score": score})), version, path)
    assert_invalid(
        make_statement(object=substatement(result={"score": score})), version, f"object.{path}"
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "duration",
    [
        "PT1H0M0.1S",
        "PT4H35M59.14S",
        "PT16559.14S",
        "P3Y1M29DT4H35M59.14S",
        "P3Y",
        "P4W",
        "P1DT12H36M0.12567S",
        "PT0S",
        "P1M",
        "PT1M",
        "PT0.5H",
        "P1Y2M3DT4H5M6S",
        "PT1,5S",
    ],
)
def test_good_durations(version: str, duration: str) -> None:
    validate_statement(build(("result", {"duration": duration})), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "duration",
    [
        "PA1H0M0S",
        "P4W1D",
        "P",
        "PT",
        "P1DT",
        "PT1.5H30M",
        "P0003-02-01T04:05:06",  # ISO 8601 §4.4.3.3 alternative format: MUST NOT be used
        "1H",
        "-PT1H",
        "pt1h",
        "PT1H ",
        "should fail",
        "",
        12345,
        {"key": "invalid"},
    ],
)
def test_bad_durations(version: str, duration: Any) -> None:
    assert_invalid(build(("result", {"duration": duration})), version, "result.duration")


@pytest.mark.parametrize("version", VERSIONS)
def test_result_accepts_every_property(version: str) -> None:
    result = {
        "score": {"scaled": 0.5},
        "success": False,
        "completion": True,
        "response": "We agreed on some example actions.",
        "duration": "PT1H0M0S",
        "extensions": {"http://example.com/ext": None, "urn:x:y": ""},
    }
    validate_statement(make_statement(result=result), version)


# ----------------------------------------------------------------------------------------------
# Context (Part 2 §2.4.6) and xAPI 2.0.0 contextAgents / contextGroups
# ----------------------------------------------------------------------------------------------


FULL_CONTEXT = {
    "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
    "instructor": {"objectType": "Agent", "mbox": "mailto:teacher@example.com"},
    "team": ID_GROUP,
    "contextActivities": {
        "parent": [{"id": "http://example.com/parent"}],
        "grouping": {"objectType": "Activity", "id": "http://example.com/grouping"},
        "category": [],
        "other": [{"id": "http://example.com/o1"}, {"id": "http://example.com/o2"}],
    },
    "revision": "rev_10_3_2",
    "platform": "Example virtual meeting software",
    "language": "tlh",
    "statement": STATEMENT_REF,
    "extensions": {"http://example.com/profiles/meetings/contextextensions/topic": "x"},
}


@pytest.mark.parametrize("version", VERSIONS)
def test_full_context_is_valid(version: str) -> None:
    validate_statement(make_statement(context=FULL_CONTEXT), version)
    validate_statement(make_statement(object=substatement(context=FULL_CONTEXT)), version)
    validate_statement(make_statement(context={}), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("context", "path"),
    [
        ({"registration": "should fail"}, "context.registration"),
        ({"instructor": "should fail"}, "context.instructor"),
        ({"instructor": {"key": "should fail"}}, "context.instructor.key"),
        ({"contextActivities": "x"}, "context.contextActivities"),
        ({"contextActivities": {"consequences": []}}, "context.contextActivities.consequences"),
        ({"contextActivities": {"Parent": []}}, "context.contextActivities.Parent"),
        (
            {"contextActivities": {"parent": [{"id": "http://e/a"}, {}]}},
            "context.contextActivities.parent[1].id",
        ),
        (
            {"contextActivities": {"parent": {"id": "bad iri"}}},
            "context.contextActivities.parent.id",
        ),
        (
            {"contextActivities": {"category": ["http://e/a"]}},
            "context.contextActivities.category[0]",
        ),
        (
            {"contextActivities": {"parent": [{"objectType": "Agent", "id": "http://e/a"}]}},
            "context.contextActivities.parent[0].objectType",
        ),
        ({"revision": 12345}, "context.revision"),
        ({"platform": {"key": "x"}}, "context.platform"),
        ({"language": "something"}, "context.language"),
        ({"language": "a12345"}, "context.language"),
        ({"language": 12345}, "context.language"),
        ({"statement": {"objectType": "statementref", "id": UUID}}, "context.statement.objectType"),
        ({"statement": {"id": UUID}}, "context.statement.objectType"),
        ({"statement": {"objectType": "StatementRef", "id": "x"}}, "context.statement.id"),
        ({"statement": {**substatement(), "id": UUID}}, "context.statement.objectType"),
        ({"extensions": {"should fail": True}}, "context.extensions.should fail"),
        ({"extensions": []}, "context.extensions"),
        ({"dummy": 1}, "context.dummy"),
    ],
)
def test_bad_contexts(version: str, context: dict[str, Any], path: str) -> None:
    assert_invalid(make_statement(context=context), version, path)
    sub = make_statement(object=substatement(context=context))
    assert_invalid(sub, version, f"object.{path}")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("key", ["revision", "platform"])
@pytest.mark.parametrize("obj", [AGENT, GROUP, STATEMENT_REF, substatement()])
def test_revision_and_platform_only_with_an_activity(version: str, key: str, obj: Any) -> None:
    validate_statement(make_statement(context={key: "x"}), version)
    assert_invalid(make_statement(object=obj, context={key: "x"}), version, f"context.{key}")
    if obj.get("objectType") != "SubStatement":  # a SubStatement cannot nest one
        sub = substatement(object=obj, context={key: "x"})
        assert_invalid(make_statement(object=sub), version, f"object.context.{key}")


def test_context_agents_and_groups_are_2_0_0_only() -> None:
    context = {"contextAgents": [context_agent()], "contextGroups": [context_group()]}
    validate_statement(make_statement(context=context), "2.0.0")
    validate_statement(make_statement(object=substatement(context=context)), "2.0.0")
    assert_invalid(make_statement(context=context), "1.0.3", "context.contextAgents")
    sub = make_statement(object=substatement(context={"contextGroups": [context_group()]}))
    assert_invalid(sub, "1.0.3", "object.context.contextGroups")


@pytest.mark.parametrize(
    "context",
    [
        {"contextAgents": []},
        {"contextAgents": [context_agent(relevantTypes=DELETE)]},
        {"contextAgents": [context_agent(agent={"account": ACCOUNT})]},
        {"contextGroups": [context_group(group=GROUP)]},
        {"contextAgents": [context_agent(), context_agent()], "contextGroups": [context_group()]},
    ],
)
def test_good_context_agents_and_groups(context: dict[str, Any]) -> None:
    validate_statement(make_statement(context=context), "2.0.0")


@pytest.mark.parametrize(
    ("context", "path"),
    [
        ({"contextAgents": context_agent()}, "contextAgents"),
        (
            {"contextAgents": [context_agent(objectType="Should fail")]},
            "contextAgents[0].objectType",
        ),
        (
            {"contextAgents": [context_agent(objectType="contextagent")]},
            "contextAgents[0].objectType",
        ),
        ({"contextAgents": [context_agent(objectType="Agent")]}, "contextAgents[0].objectType"),
        ({"contextAgents": [{"agent": AGENT}]}, "contextAgents[0].objectType"),
        ({"contextAgents": [{"objectType": "contextAgent"}]}, "contextAgents[0].agent"),
        (
            {"contextAgents": [context_agent(agent={"key": "Should fail"})]},
            "contextAgents[0].agent.key",
        ),
        (
            {"contextAgents": [context_agent(agent={"mbox": MBOX, "openid": "http://o/1"})]},
            "contextAgents[0].agent",
        ),
        ({"contextAgents": [context_agent(agent={"name": "x"})]}, "contextAgents[0].agent"),
        ({"contextAgents": [context_agent(agent=ID_GROUP)]}, "contextAgents[0].agent.objectType"),
        ({"contextAgents": [context_agent(relevantTypes=[])]}, "contextAgents[0].relevantTypes"),
        (
            {"contextAgents": [context_agent(relevantTypes=["abc"])]},
            "contextAgents[0].relevantTypes[0]",
        ),
        (
            {"contextAgents": [context_agent(relevantTypes="http://e.com/t")]},
            "contextAgents[0].relevantTypes",
        ),
        ({"contextAgents": [context_agent(extra=1)]}, "contextAgents[0].extra"),
        ({"contextAgents": [context_agent(), context_agent(agent=None)]}, "contextAgents[1].agent"),
        (
            {"contextGroups": [context_group(objectType="contextAgent")]},
            "contextGroups[0].objectType",
        ),
        (
            {"contextGroups": [context_group(group={"key": "Should fail"})]},
            "contextGroups[0].group.objectType",
        ),
        ({"contextGroups": [context_group(group=AGENT)]}, "contextGroups[0].group.objectType"),
        (
            {"contextGroups": [context_group(group={"objectType": "Group"})]},
            "contextGroups[0].group.member",
        ),
        (
            {"contextGroups": [context_group(group={**ID_GROUP, "openid": "http://o/1"})]},
            "contextGroups[0].group",
        ),
        ({"contextGroups": [context_group(relevantTypes=[])]}, "contextGroups[0].relevantTypes"),
        (
            {"contextGroups": [context_group(relevantTypes=["abc"])]},
            "contextGroups[0].relevantTypes[0]",
        ),
        (
            {"contextGroups": [{"objectType": "contextGroup", "agent": AGENT}]},
            "contextGroups[0].group",
        ),
    ],
)
def test_bad_context_agents_and_groups(context: dict[str, Any], path: str) -> None:
    assert_invalid(make_statement(context=context), "2.0.0", f"context.{path}")
    sub = make_statement(object=substatement(context=context))
    assert_invalid(sub, "2.0.0", f"object.context.{path}")


# ----------------------------------------------------------------------------------------------
# Timestamps (Part 2 §2.4.7, §2.4.8, §4.5)
# ----------------------------------------------------------------------------------------------


GOOD_TIMESTAMPS = [
    "2013-05-18T05:32:34.804Z",
    "2015-11-18T12:17:00+00:00",  # RFC 3339; the 2.0.0 CTS requires it, and it is ISO 8601 too
    "2008-09-15T15:53:00.601+00:00",
    "2008-09-15T15:53:00.601-05:00",
    "2008-09-15T15:53:00+05:30",
    "2008-09-15T15:53:00+0530",
    "2008-09-15T15:53:00+01",
    "2008-09-15T15:53:00Z",
    "2008-09-15T15:53:00.123456789Z",
    "2016-12-31T23:59:60Z",  # a leap second
    "2024-02-29T00:00:00Z",
    "2099-01-01T00:00:00Z",  # §2.4.7: the LRS SHOULD* NOT reject future timestamps
]

BAD_TIMESTAMPS = [
    "2008-09-15T15:53:00.601-00",  # §4.5 + CTS XAPI-00123: "-00" means no time zone
    "2008-09-15T15:53:00.601-0000",
    "2008-09-15T15:53:00.601-00:00",
    "2008-09-15T15:53:00.601",  # no time zone
    "2008-09-15T15:53:00",
    "2008-09-15",
    "2008-09-15T15:53Z",
    "2008-09-15 15:53:00Z",
    "2008-09-15t15:53:00z",
    "2023-02-29T00:00:00Z",
    "2008-13-01T00:00:00Z",
    "2008-09-15T24:00:00Z",
    "2008-09-15T15:60:00Z",
    "2008-09-15T15:53:00+24:00",
    "2008-09-15T15:53:00+05:60",
    "01/011/2015",
    "should fail",
    "",
    1526621554804,
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", GOOD_TIMESTAMPS)
def test_good_timestamps(version: str, value: str) -> None:
    validate_statement(make_statement(timestamp=value, stored=value), version)
    validate_statement(make_statement(object=substatement(timestamp=value)), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", BAD_TIMESTAMPS)
def test_bad_timestamps(version: str, value: Any) -> None:
    assert_invalid(make_statement(timestamp=value), version, "timestamp")
    assert_invalid(make_statement(stored=value), version, "stored")
    assert_invalid(
        make_statement(object=substatement(timestamp=value)), version, "object.timestamp"
    )


# ----------------------------------------------------------------------------------------------
# Language tags (Part 2 §2.2, §4.2) and IRIs (§4.3)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "tag",
    [
        "en",
        "en-US",
        "en-GB",
        "es-MX",
        "es-419",
        "tlh",
        "cmn",
        "fr-CA",
        "zh-Hant-TW",
        "sr-Latn-RS",
        "de-CH-1901",
        "sl-rozaj-biske",
        "zh-yue-HK",
        "en-a-bbb-x-a-ccc",
        "x-private",
        "i-klingon",
        "en-GB-oed",
        "EN-us",
    ],
)
def test_good_language_tags(version: str, tag: str) -> None:
    validate_statement(build(("verb.display", {tag: "attended"})), version)
    validate_statement(make_statement(context={"language": tag}), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "tag",
    ["a12345", "a12345678", "something", "en_US", "", "en-", "-en", "12", "e", "en--US", "en US"],
)
def test_bad_language_tags(version: str, tag: str) -> None:
    assert_invalid(build(("verb.display", {tag: "attended"})), version, f"verb.display.{tag}")
    assert_invalid(make_statement(context={"language": tag}), version, "context.language")
    attachment = {**ATTACHMENT, "display": {"en-US": "ok", tag: "x"}}
    assert_invalid(
        make_statement(attachments=[attachment]), version, f"attachments[0].display.{tag}"
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "iri",
    [
        "http://example.com/فعل/خواندن",
        "https://example.com/xapi/verbs#defenestrated",
        "urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "tag:example.com,2024:thing",
        "http://example.com/a?b=c&d=%20e",
        "HTTP://EXAMPLE.COM",
        "x-custom+scheme.v1:opaque",
    ],
)
def test_good_iris(version: str, iri: str) -> None:
    validate_statement(build(("verb.id", iri), ("object.id", iri)), version)
    validate_statement(build(("result", {"extensions": {iri: 1}})), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "iri",
    [
        "ab=c://should.fail.com",
        "should fail",
        "example.com/no/scheme",
        "/relative",
        "#fragment",
        "1http://example.com",
        "http://exa mple.com",
        "http://example.com/<tag>",
        "http:",
        "",
    ],
)
def test_bad_iris(version: str, iri: str) -> None:
    assert_invalid(build(("verb.id", iri)), version, "verb.id")
    assert_invalid(build(("object.id", iri)), version, "object.id")
    extension = build(("result", {"extensions": {iri: 1}}))
    assert_invalid(extension, version, f"result.extensions.{iri}")


# ----------------------------------------------------------------------------------------------
# Extensions (Part 2 §4.1)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", [None, "", {}, {"key": "valid"}, [1, "two", None], True, 12345])
def test_extension_values_are_never_rejected(version: str, value: Any) -> None:
    extensions = {"http://example.com/ex": value}
    validate_statement(build(("result", {"extensions": extensions})), version)
    validate_statement(make_statement(context={"extensions": extensions}), version)
    obj = {"id": "http://example.com/a", "definition": {"extensions": extensions}}
    validate_statement(make_statement(object=obj), version)


# ----------------------------------------------------------------------------------------------
# Authority (Part 2 §2.4.9)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "authority",
    [AGENT, {"account": ACCOUNT}, OAUTH_AUTHORITY, {**OAUTH_AUTHORITY, "name": "App+User"}],
)
def test_good_authorities(version: str, authority: dict[str, Any]) -> None:
    validate_statement(make_statement(authority=authority), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("authority", "path"),
    [
        ({"objectType": "Agent"}, "authority"),
        ({"mbox": MBOX, "openid": "http://o/1"}, "authority"),
        ({"objectType": "Group", "name": "Anonymous"}, "authority.member"),
        ({"objectType": "Group", "member": [AGENT]}, "authority.member"),
        ({"objectType": "Group", "member": [AGENT, AGENT, AGENT]}, "authority.member"),
        ({**OAUTH_AUTHORITY, "mbox": "mailto:bob@example.com"}, "authority.mbox"),
        ({**OAUTH_AUTHORITY, "openid": "http://openid.example.org/12345"}, "authority.openid"),
        ({**OAUTH_AUTHORITY, "account": ACCOUNT}, "authority.account"),
        ({"objectType": "Group", "member": [AGENT, {"name": "x"}]}, "authority.member[1]"),
        ({"objectType": "Group", "member": [AGENT, ID_GROUP]}, "authority.member[1].objectType"),
        ({"objectType": "agent", "mbox": MBOX}, "authority.objectType"),
        ({"objectType": 123, "mbox": MBOX}, "authority.objectType"),
        ("authority", "authority"),
    ],
)
def test_bad_authorities(version: str, authority: Any, path: str) -> None:
    assert_invalid(make_statement(authority=authority), version, path)


# ----------------------------------------------------------------------------------------------
# Attachments (Part 2 §2.4.11)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"fileUrl": DELETE, "description": DELETE},
        {"contentType": "application/octet-stream"},
        {"contentType": "text/plain"},
        {"contentType": 'multipart/mixed; boundary="abc def"'},
        {"contentType": "application/vnd.api+json;charset=utf-8"},
        {"usageType": "http://example.com/attachment-usage/other", "length": 0},
        {"sha2": SHA256.upper()},
        {"sha2": "a" * 128},
        {"sha2": "b" * 96},
        {"sha2": "c" * 56},
        {"display": {"en-US": "A test attachment", "es": "Un accesorio de prueba"}},
    ],
)
def test_good_attachments(version: str, changes: dict[str, Any]) -> None:
    attachment = {**ATTACHMENT, **changes}
    attachment = {k: v for k, v in attachment.items() if v is not DELETE}
    validate_statement(make_statement(attachments=[attachment, ATTACHMENT]), version)
    validate_statement(make_statement(attachments=[]), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"usageType": DELETE}, "usageType"),
        ({"display": DELETE}, "display"),
        ({"contentType": DELETE}, "contentType"),
        ({"length": DELETE}, "length"),
        ({"sha2": DELETE}, "sha2"),
        ({"usageType": "should fail"}, "usageType"),
        ({"display": "should fail"}, "display"),
        ({"display": 12345}, "display"),
        ({"display": {"something": "x"}}, "display.something"),
        ({"description": {"en-US": "x", "something": "y"}}, "description.something"),
        ({"contentType": 12345}, "contentType"),
        ({"contentType": "text plain"}, "contentType"),
        ({"contentType": "text/"}, "contentType"),
        ({"contentType": ""}, "contentType"),
        ({"length": "should fail"}, "length"),
        ({"length": -1}, "length"),
        ({"length": 2.5}, "length"),
        ({"sha2": 12345}, "sha2"),
        ({"sha2": "not hex"}, "sha2"),
        ({"sha2": SHA1}, "sha2"),
        ({"sha2": ""}, "sha2"),
        ({"fileUrl": "should fail"}, "fileUrl"),
        ({"fileUrl": None}, "fileUrl"),
        ({"dummy": 1}, "dummy"),
    ],
)
def test_bad_attachments(version: str, changes: dict[str, Any], path: str) -> None:
    attachment = {**ATTACHMENT, **changes}
    attachment = {k: v for k, v in attachment.items() if v is not DELETE}
    statement = make_statement(attachments=[ATTACHMENT, attachment])
    assert_invalid(statement, version, f"attachments[1].{path}")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("content_type", "valid"),
    [
        ("application/octet-stream", True),
        ("text/plain; charset=ascii", False),  # CTS XAPI-00115 "bad content type"
        ("application/jose", False),
        ("Application/Octet-Stream", False),
    ],
)
def test_signature_attachment_content_type(version: str, content_type: str, valid: bool) -> None:
    # Part 2 §2.6: the JWS travels as an Attachment with usageType .../signature and
    # contentType application/octet-stream.
    signature = {
        **ATTACHMENT,
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "contentType": content_type,
    }
    statement = make_statement(attachments=[ATTACHMENT, signature])
    if valid:
        validate_statement(statement, version)
    else:
        assert_invalid(statement, version, "attachments[1].contentType")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("attachments", "path"),
    [(ATTACHMENT, "attachments"), ([12345], "attachments[0]"), (["should fail"], "attachments[0]")],
)
def test_attachments_must_be_an_array_of_objects(version: str, attachments: Any, path: str) -> None:
    assert_invalid(make_statement(attachments=attachments), version, path)


# ----------------------------------------------------------------------------------------------
# validate_statements: single statements, batches, duplicate ids
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_single_statement_body_becomes_a_list(version: str) -> None:
    statement = make_statement()
    result = validate_statements(statement, version)
    assert result == [statement]
    assert result[0] is statement  # no copies


@pytest.mark.parametrize("version", VERSIONS)
def test_list_body_is_returned_as_is(version: str) -> None:
    body = [make_statement(id=UUID), make_statement(), make_statement()]
    assert validate_statements(body, version) is body


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("body", [[], None, "statements", 42, True])
def test_bad_bodies(version: str, body: Any) -> None:
    with pytest.raises(ValidationError) as info:
        validate_statements(body, version)
    assert info.value.path == ""
    assert isinstance(info.value, BadRequest)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("bad", "path"),
    [
        (make_statement(actor={"mbox": "mailto:should.fail.com"}), "[2].actor.mbox"),
        (make_statement(verb=DELETE), "[2].verb"),
        (make_statement(dummy=1), "[2].dummy"),
        (make_statement(actor={"name": "x"}), "[2].actor"),
        (
            make_statement(object=interaction("choice", choices=components("a", "a"))),
            "[2].object.definition.choices[1].id",
        ),
        ("not a statement", "[2]"),
        ([make_statement()], "[2]"),
    ],
)
def test_batch_errors_carry_the_index(version: str, bad: Any, path: str) -> None:
    body = [make_statement(), make_statement(), bad, make_statement()]
    with pytest.raises(ValidationError) as info:
        validate_statements(body, version)
    assert info.value.path == path
    assert info.value.message.startswith(path)


@pytest.mark.parametrize("version", VERSIONS)
def test_single_statement_errors_have_no_index(version: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_statements(make_statement(actor={"mbox": "x"}), version)
    assert info.value.path == "actor.mbox"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("first", "second"),
    [(UUID, UUID), (UUID, UUID.upper())],
)
def test_duplicate_ids_in_a_batch_are_rejected(version: str, first: str, second: str) -> None:
    body = [make_statement(id=first), make_statement(), make_statement(id=second)]
    with pytest.raises(ValidationError) as info:
        validate_statements(body, version)
    assert info.value.path == "[2].id"
    assert "[0]" in info.value.message


@pytest.mark.parametrize("version", VERSIONS)
def test_distinct_ids_and_missing_ids_are_not_duplicates(version: str) -> None:
    other = "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"
    body = [make_statement(), make_statement(id=UUID), make_statement(), make_statement(id=other)]
    assert validate_statements(body, version) is body


def test_error_serialises_with_its_path() -> None:
    with pytest.raises(ValidationError) as info:
        validate_statements([make_statement(), make_statement(actor={"mbox": "x"})], "2.0.0")
    body = info.value.to_json()
    assert body["error"] == "invalid"
    assert body["path"] == "[1].actor.mbox"
    assert body["message"].startswith("[1].actor.mbox must be a mailto IRI")


def test_validation_does_not_modify_the_statement() -> None:
    statement = make_statement(
        context={"contextActivities": {"parent": {"id": "http://example.com/p"}}},
        result={"score": {"raw": 1}},
    )
    before = copy.deepcopy(statement)
    validate_statement(statement, "2.0.0")
    assert statement == before


def test_the_ifi_count_spells_out_every_ifi_key() -> None:
    """`_ifi_count` names the IFI keys itself (speed): it must agree with IFI_KEYS."""
    from itertools import combinations

    from lrs.xapi.validation import IFI_KEYS, _ifi_count

    for size in range(len(IFI_KEYS) + 1):
        for keys in combinations(IFI_KEYS, size):
            assert _ifi_count({key: "x" for key in keys} | {"name": "n"}) == size
