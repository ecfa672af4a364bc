"""The mapping CSV: the shipped one loads, bad ones are refused naming the row, and every row
of the shipped mapping does what its notes say."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.facts import Projector
from projections.mapping import load_mapping, parse_mapping, parse_path, read_path
from projections.settings import SPEC_DIR
from projections.transforms import MappingError
from tests.projections.conftest import COURSE, HRIS, hris_actor, mbox_actor, statement

HEADER = (
    "source_system,source_field,target_field,data_type,transform,required,notes,"
    "cardinality,retention_policy\n"
)
CORE = (
    "xapi,object.id,activity_id,string,if_activity,yes,,one,until_voided\n"
    "xapi,verb.id,verb_id,string,,yes,,one,until_voided\n"
    "xapi,timestamp,last_activity_at,datetime,parse_iso8601,yes,,one,until_voided\n"
    "hris,employee_id,member_id,string,,yes,,one,member_lifetime\n"
    "hris,email,email,email,lowercase_email,yes,,one,member_lifetime\n"
)


def mapping_text(*rows: str, version: str = "# version: 7\n") -> str:
    return version + HEADER + CORE + "".join(rows)


def test_the_shipped_mapping_loads() -> None:
    mapping = load_mapping(SPEC_DIR / "marketplace-mapping.csv")
    assert mapping.version == "2"  # 2: the scope rows
    targets = {r.target_field for r in mapping.rows}
    assert {
        "member_id",
        "email",
        "learning_completed",
        "completed_at",
        "score",
        "badge_awarded.badge_id",
        "enrollment_state",
        "certificate_ref",
        "last_activity_at",
    } <= targets
    used = {t.name for r in mapping.rows for t in r.transforms}
    assert {
        "lowercase_email",
        "strip_email_alias",
        "normalize_score_0_100",
        "parse_iso8601",
        "bool_from_verb",
    } <= used


def test_a_good_small_mapping_loads() -> None:
    mapping = parse_mapping(mapping_text())
    assert mapping.version == "7"
    assert [r.line for r in mapping.rows] == [3, 4, 5, 6, 7]  # file lines, comments counted


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "xapi,verb.id,learning_completed,boolean,bool_from_nothing,no,,one,until_voided\n",
            "row 8: unknown transform 'bool_from_nothing'",
        ),
        (
            "xapi,verb.id,learning_done,boolean,,no,,one,until_voided\n",
            "row 8: unknown target field 'learning_done'",
        ),
        ("xapi,verb.id,learning_completed,bool,,no,,one,until_voided\n", "row 8: bad type 'bool'"),
        ("xapi,result.score,score,number,,no,,one,until_voided\n", "row 8: bad type 'number'"),
        (
            "xapi,verb.id,learning_completed,string,,no,,one,until_voided\n",
            "row 8: bad type 'string' for learning_completed",
        ),
        (
            "xapi,timestamp,completed_at,datetime,lowercase_email,no,,one,until_voided\n",
            "row 8: bad type: the transforms yield email",
        ),
        ("xapi,result..score,score,score,,no,,one,until_voided\n", "row 8: bad source_field"),
        ("xapi,result[x,score,score,,no,,one,until_voided\n", "row 8: bad source_field"),
        ("lms,verb.id,verb_id,string,,no,,one,until_voided\n", "row 8: unknown source_system"),
        ("xapi,verb.id,verb_id,string,,maybe,,one,until_voided\n", "row 8: required"),
        ("xapi,verb.id,verb_id,string,,no,,several,until_voided\n", "row 8: cardinality"),
        ("xapi,verb.id,verb_id,string,,no,,one,forever\n", "row 8: retention_policy"),
    ],
)
def test_a_bad_row_is_refused_naming_it(row: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(mapping_text(row), "m.csv")
    assert message in str(caught.value)


def test_a_mapping_without_version_columns_or_core_targets_is_refused() -> None:
    with pytest.raises(MappingError, match="version"):
        parse_mapping(mapping_text(version=""))
    with pytest.raises(MappingError, match=r"missing column.*retention_policy"):
        parse_mapping("# version: 1\nsource_system,source_field,target_field\n")
    without_verb = "# version: 1\n" + HEADER + CORE.replace("xapi,verb.id,verb_id", "xapi,x,email")
    with pytest.raises(MappingError):
        parse_mapping(without_verb)
    no_time = (
        "# version: 1\n"
        + HEADER
        + "".join(line + "\n" for line in CORE.splitlines() if "last_activity_at" not in line)
    )
    with pytest.raises(MappingError, match="no xapi row fills last_activity_at"):
        parse_mapping(no_time)


def test_the_service_refuses_to_start_on_a_bad_mapping_file(tmp_path: Path) -> None:
    from tests.projections.conftest import projection_settings

    bad = tmp_path / "mapping.csv"
    bad.write_text(mapping_text("xapi,x,nope,string,,no,,one,until_voided\n"))
    with pytest.raises(MappingError, match=r"mapping.csv.*row 8.*nope"):
        Projector.from_settings(projection_settings(mapping_path=bad))
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "missing.csv")


def test_paths() -> None:
    steps = parse_path("result.extensions[http://x.example/a.b].id")
    assert steps == (
        ("key", "result"),
        ("key", "extensions"),
        ("key", "http://x.example/a.b"),
        ("key", "id"),
    )
    doc = {
        "result": {"extensions": {"http://x.example/a.b": {"id": "B"}}},
        "attachments": [{"usageType": "u1", "fileUrl": "f1"}, {"usageType": "u2", "fileUrl": "f2"}],
    }
    assert read_path(steps, doc) == "B"
    assert read_path(parse_path("attachments[usageType=u2].fileUrl"), doc) == "f2"
    assert read_path(parse_path("attachments[0].fileUrl"), doc) == "f1"
    assert read_path(parse_path("attachments[5].fileUrl"), doc) is None
    assert read_path(parse_path("attachments[usageType=u9].fileUrl"), doc) is None
    assert read_path(parse_path("result.missing.deeper"), doc) is None
    assert read_path(parse_path("result.extensions.x"), {"result": {"extensions": []}}) is None
    for bad in ("", ".a", "a.", "a[]", "a[b", "a]b"):
        with pytest.raises(ValueError):
            parse_path(bad)


# --- the shipped mapping, row by row ----------------------------------------------------------


@pytest.fixture
def extract(projector: Projector):  # type: ignore[no-untyped-def]
    def run(s: dict) -> dict:
        return projector.mapping.extract(s, projector.context(s))

    return run


def test_rows_member_and_email(extract) -> None:  # type: ignore[no-untyped-def]
    values = extract(statement("attempted", actor=hris_actor("E42")))
    assert values["member_id"] == "E42" and "email" not in values
    other = {"objectType": "Agent", "account": {"homePage": "https://x.example", "name": "E42"}}
    assert "member_id" not in extract(statement("attempted", actor=other))
    values = extract(statement("attempted", actor=mbox_actor("Ada+x@GoogleMail.com")))
    assert values["email"] == "ada@gmail.com" and "member_id" not in values


def test_rows_activity_verb_and_time(extract) -> None:  # type: ignore[no-untyped-def]
    values = extract(statement("attempted", timestamp="2024-03-01T12:00:00+02:00"))
    assert values["activity_id"] == COURSE
    assert values["verb_id"] == "http://adlnet.gov/expapi/verbs/attempted"
    assert values["last_activity_at"] == "2024-03-01T10:00:00.000000Z"
    ref = statement("attempted")
    ref["object"] = {"objectType": "StatementRef", "id": "6f1f2a8e-1b0c-4d5e-9f00-000000000001"}
    assert extract(ref) == {}  # required activity_id missing: no contribution


def test_rows_completion(extract) -> None:  # type: ignore[no-untyped-def]
    assert extract(statement("completed"))["learning_completed"] is True
    assert extract(statement("passed"))["learning_completed"] is True
    assert "learning_completed" not in extract(statement("failed"))
    by_result = statement("experienced", result={"completion": True})
    assert extract(by_result)["learning_completed"] is True
    assert (
        extract(statement("experienced", result={"completion": False}))["learning_completed"]
        is False
    )
    assert extract(statement("completed", timestamp="2024-03-01T10:00:00Z"))["completed_at"] == (
        "2024-03-01T10:00:00.000000Z"
    )


def test_rows_success(extract) -> None:  # type: ignore[no-untyped-def]
    assert extract(statement("passed"))["success"] == "passed"
    assert extract(statement("failed"))["success"] == "failed"
    assert extract(statement("answered", result={"success": True}))["success"] == "passed"
    assert extract(statement("failed", result={"success": True}))["success"] == "failed"  # verb
    assert "success" not in extract(statement("attempted"))


def test_rows_score_and_enrollment(extract) -> None:  # type: ignore[no-untyped-def]
    values = extract(statement("scored", result={"score": {"raw": 45, "min": 0, "max": 50}}))
    assert values["score"] == {"value": 90.0, "raw": 45, "min": 0, "max": 50}
    assert extract(statement("attempted"))["enrollment_state"] == "active"
    assert (
        extract(statement("https://w3id.org/xapi/adl/verbs/abandoned"))["enrollment_state"]
        == "dropped"
    )


def test_rows_badges(extract) -> None:  # type: ignore[no-untyped-def]
    ext = "urn:lrs-marketplace:extension:badge"
    awarded = statement(
        "http://specification.openbadges.org/xapi/verbs/earned",
        result={"extensions": {ext: {"id": "py-basics", "metadata": {"level": 1}}}},
        timestamp="2024-03-01T10:00:00Z",
    )
    values = extract(awarded)
    assert values["badge_awarded.badge_id"] == "py-basics"
    assert values["badge_awarded.metadata"] == {"level": 1}
    assert values["badge_awarded.issued_at"] == "2024-03-01T10:00:00.000000Z"
    badge_object = statement(
        "https://w3id.org/xapi/openbadges/verbs/earned", activity="https://badges.example/b/1"
    )
    badge_object["object"]["definition"] = {"name": {"en": "Badge"}}
    values = extract(badge_object)
    assert values["badge_awarded.badge_id"] == "https://badges.example/b/1"
    assert values["badge_awarded.metadata"] == {"name": {"en": "Badge"}}
    assert "badge_awarded.badge_id" not in extract(statement("completed"))


def test_rows_certificate(extract) -> None:  # type: ignore[no-untyped-def]
    usage = "http://id.tincanapi.com/attachment/certificate-of-completion"
    attachment = {
        "usageType": usage,
        "display": {"en": "certificate"},
        "contentType": "application/pdf",
        "length": 10,
        "sha2": "ab" * 32,
        "fileUrl": "https://certs.example.com/1.pdf",
    }
    assert extract(statement("completed", attachments=[attachment]))["certificate_ref"] == (
        "https://certs.example.com/1.pdf"
    )
    bad = {**attachment, "fileUrl": "file:///etc/passwd"}
    assert "certificate_ref" not in extract(statement("completed", attachments=[bad]))
    ext = {"extensions": {"urn:lrs-marketplace:extension:certificate": "https://c.example/2"}}
    assert extract(statement("completed", result=ext))["certificate_ref"] == "https://c.example/2"


def test_group_actors_contribute_nothing(projector: Projector) -> None:
    group = {"objectType": "Group", "mbox": "mailto:team@example.com"}
    assert projector.contribution({"id": "x", **statement("completed", actor=group)}, 1) is None


def test_hris_rows_read_the_identity_columns(projector: Projector) -> None:
    row = {
        "employee_id": "E1",
        "email": "Ada@Example.com",
        "secondary_emails": "a+x@b.com; c@d.com",
    }
    values = projector.mapping.extract_hris(row, projector.context({}))
    assert values == {"member_id": "E1", "email": ["ada@example.com", "a@b.com", "c@d.com"]}
    assert HRIS  # the identity tests use it


def scope_row(field: str, action: str, pattern: str, data_type: str = "pattern") -> str:
    return f"scope,{field},{action},{data_type},{pattern},,,,\n"


def test_scope_rows_choose_the_statements_the_marketplace_sees() -> None:
    course = "http://adlnet.gov/expapi/activities/course"
    mapping = parse_mapping(
        mapping_text(
            scope_row("object.definition.type", "include", course),
            scope_row("object.definition.type", "include", "(none)"),
            scope_row("object.id", "include", "https://lms.example.com/badges/*"),
            scope_row("verb.id", "exclude", "http://id.tincanapi.com/verb/viewed"),
            scope_row("object.id", "exclude", "https://lms.example.com/courses/sandbox-*"),
        )
    )
    assert len(mapping.scope_rules) == 5 and mapping.rows  # scope rows are not field rows

    def seen(obj_id: str, kind: str | None = None, verb: str = "http://x/completed") -> bool:
        obj: dict = {"id": obj_id, **({"definition": {"type": kind}} if kind else {})}
        return mapping.scope.in_scope({"object": obj, "verb": {"id": verb}})

    assert seen("https://lms.example.com/courses/py", course)
    assert seen("https://lms.example.com/courses/py")  # no type: (none)
    assert not seen(
        "https://lms.example.com/t/1", "http://id.tincanapi.com/activitytype/discussion"
    )
    assert seen("https://lms.example.com/badges/gold", "http://x/other")  # by IRI pattern
    assert not seen(
        "https://lms.example.com/courses/py", course, "http://id.tincanapi.com/verb/viewed"
    )
    assert not seen("https://lms.example.com/courses/sandbox-1", course)  # excluded wins
    # without scope rows everything is in scope
    assert parse_mapping(mapping_text()).scope.in_scope({"object": {"id": "x"}})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (scope_row("object.definition.name", "include", "x"), "source_field must be one of"),
        (scope_row("verb.id", "keep", "x"), "include or exclude"),
        (scope_row("verb.id", "include", "x", "string"), "data_type must be pattern"),
        (scope_row("verb.id", "include", ""), "must be a pattern"),
    ],
)
def test_a_bad_scope_row_refuses_to_load_naming_the_row(row: str, message: str) -> None:
    with pytest.raises(MappingError, match=f"row 8: .*{message}"):
        parse_mapping(mapping_text(row))
