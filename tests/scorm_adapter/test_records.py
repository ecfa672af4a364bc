"""Legacy completion-record exports: CSV and NDJSON rows → statements or rejections."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest

from scorm_adapter import ScormDataError
from scorm_adapter.records import (
    ConvertedRecord,
    RecordOptions,
    RejectedRecord,
    convert_record,
    read_csv_records,
    read_ndjson_records,
    read_records,
)
from tests.scorm_adapter.helpers import assert_valid_xapi, verbs

OPTIONS = RecordOptions(
    course_iri_base="https://lms.example.com/courses/", home_page="https://hr.example.com/"
)
HEADER = (
    "learner_id,email,course_id,sco_id,scorm_version,lesson_status,completion_status,"
    "success_status,score_raw,score_min,score_max,score_scaled,session_time,completion_date,attempt"
)


def csv_rows(*rows: str, header: str = HEADER, options: RecordOptions = OPTIONS) -> list[Any]:
    outcomes = list(read_csv_records(io.StringIO("\n".join([header, *rows]) + "\n"), options))
    for outcome in outcomes:
        if isinstance(outcome, ConvertedRecord):
            for statement in outcome.statements:
                assert_valid_xapi(statement)
    return outcomes


def converted(outcome: Any) -> list[dict[str, Any]]:
    assert isinstance(outcome, ConvertedRecord), outcome
    return outcome.statements


def row(**fields: str) -> dict[str, str]:
    base = {"learner_id": "E1", "course_id": "SAFE-101", "sco_id": "sco1", "scorm_version": "1.2"}
    base.update(fields)
    return base


def convert(**fields: str) -> Any:
    outcome = convert_record(row(**fields), 7, OPTIONS)
    if isinstance(outcome, ConvertedRecord):
        for statement in outcome.statements:
            assert_valid_xapi(statement)
    return outcome


def test_scorm_12_row() -> None:
    [outcome] = csv_rows("E1,,SAFE-101,sco1,1.2,passed,,,85,,,,00:45:00,2024-02-01,")
    statements = converted(outcome)
    assert outcome.row == 2
    assert verbs(statements) == ["passed", "scored", "terminated"]
    terminated = statements[-1]
    assert terminated["actor"] == {"account": {"homePage": "https://hr.example.com/", "name": "E1"}}
    assert terminated["object"]["id"] == "https://lms.example.com/courses/SAFE-101/sco1"
    assert terminated["result"] == {
        "success": True,
        "score": {"scaled": 0.85, "raw": 85},
        "duration": "PT45M",
    }
    assert terminated["timestamp"] == "2024-02-01T00:00:00+00:00"
    grouping = terminated["context"]["contextActivities"]["grouping"]
    assert grouping[0]["id"] == "https://lms.example.com/courses/SAFE-101"
    assert grouping[1]["id"].startswith("https://lms.example.com/courses/SAFE-101/sco1?attemptId=")


def test_scorm_2004_row_with_email() -> None:
    [outcome] = csv_rows(
        ",Ada@Example.COM,GEO,quiz,2004,,completed,failed,8,0,20,,PT20M,2024-02-02T10:00:00+01:00,"
    )
    statements = converted(outcome)
    assert verbs(statements) == ["completed", "failed", "scored", "terminated"]
    assert statements[0]["actor"] == {"mbox": "mailto:Ada@example.com"}
    assert statements[-1]["result"] == {
        "success": False,
        "completion": True,
        "score": {"scaled": 0.4, "raw": 8, "min": 0, "max": 20},
        "duration": "PT20M",
    }
    assert statements[-1]["timestamp"] == "2024-02-02T10:00:00+01:00"


def test_column_mapping_and_extra_columns() -> None:
    options = RecordOptions(
        course_iri_base="https://lms.example.com/courses",
        home_page="https://hr.example.com/",
        columns={
            "learner_id": "Employee ID",
            "course_id": "Course",
            "sco_id": "Module",
            "lesson_status": "Status",
            "score_raw": "Score",
            "completion_date": "Completed On",
        },
        default_version="SCORM 1.2",
    )
    header = "Employee ID,Employee Name,Course,Module,Status,Score,Completed On"
    [outcome] = csv_rows(
        'E2,"Doe, Jane",SAFE-101,sco1,Completed,70,2024-03-01 09:30:00',
        header=header,
        options=options,
    )
    statements = converted(outcome)
    assert verbs(statements) == ["completed", "scored", "terminated"]
    assert statements[0]["object"]["id"] == "https://lms.example.com/courses/SAFE-101/sco1"
    assert statements[0]["timestamp"] == "2024-03-01T09:30:00+00:00"


def test_reimport_yields_the_same_ids() -> None:
    rows = [
        "E1,,SAFE-101,sco1,1.2,passed,,,85,,,,00:45:00,2024-02-01,",
        ",a@b.example,GEO,quiz,2004,,completed,,,,,,,,",
    ]
    first = [s["id"] for outcome in csv_rows(*rows) for s in converted(outcome)]
    second = [s["id"] for outcome in csv_rows(*rows) for s in converted(outcome)]
    assert first == second
    assert len(set(first)) == len(first)


def test_another_attempt_of_the_same_sco_gets_other_ids() -> None:
    first = converted(convert(lesson_status="passed", completion_date="2024-01-01"))
    second = converted(convert(lesson_status="passed", completion_date="2024-06-01"))
    assert {s["id"] for s in first}.isdisjoint(s["id"] for s in second)


@pytest.mark.parametrize(
    ("attempt", "attempt_iri"),
    [
        ("https://lms.example.com/attempts/9", "https://lms.example.com/attempts/9"),
        ("3", None),
    ],
)
def test_attempt_column(attempt: str, attempt_iri: str | None) -> None:
    statements = converted(convert(lesson_status="passed", attempt=attempt))
    grouping = statements[0]["context"]["contextActivities"]["grouping"]
    if attempt_iri is not None:
        assert grouping[1]["id"] == attempt_iri
    else:
        assert grouping[1]["id"].startswith(
            "https://lms.example.com/courses/SAFE-101/sco1?attemptId="
        )


@pytest.mark.parametrize("attempt", ["²", "٣"])
def test_an_attempt_number_is_ascii_digits(attempt: str) -> None:
    # "²".isdigit() is true and int("²") raised ValueError out of the import
    outcome = convert(lesson_status="passed", attempt=attempt)
    assert isinstance(outcome, RejectedRecord) and outcome.reason.startswith("attempt"), outcome


def test_identity_prefers_the_account_and_falls_back_to_email() -> None:
    both = converted(convert(email="x@example.com", lesson_status="passed"))
    assert both[0]["actor"] == {"account": {"homePage": "https://hr.example.com/", "name": "E1"}}
    no_home = RecordOptions(course_iri_base="https://lms.example.com/courses/")
    outcome = convert_record(row(email="mailto:x@Example.com", lesson_status="passed"), 1, no_home)
    assert converted(outcome)[0]["actor"] == {"mbox": "mailto:x@example.com"}


def test_absolute_iris_are_kept() -> None:
    statements = converted(
        convert(
            course_id="https://courses.example.org/c1",
            sco_id="https://courses.example.org/c1/s1",
            lesson_status="passed",
        )
    )
    assert statements[0]["object"]["id"] == "https://courses.example.org/c1/s1"
    assert (
        statements[0]["context"]["contextActivities"]["grouping"][0]["id"]
        == "https://courses.example.org/c1"
    )


def test_an_id_with_a_colon_is_not_an_iri() -> None:
    statements = converted(
        convert(course_id="CS:101", sco_id="urn:acme:sco:1", lesson_status="passed")
    )
    assert statements[0]["object"]["id"] == "urn:acme:sco:1"
    grouping = statements[0]["context"]["contextActivities"]["grouping"]
    assert grouping[0]["id"] == "https://lms.example.com/courses/CS%3A101"


def test_ids_are_percent_encoded() -> None:
    statements = converted(
        convert(course_id="Fire Safety/2024", sco_id="part 1", lesson_status="passed")
    )
    assert (
        statements[0]["object"]["id"]
        == "https://lms.example.com/courses/Fire%20Safety%2F2024/part%201"
    )


@pytest.mark.parametrize(
    ("fields", "version", "first_verb"),
    [
        ({"scorm_version": "", "lesson_status": "completed"}, "1.2", "completed"),
        ({"scorm_version": "", "completion_status": "completed"}, "2004", "completed"),
        ({"scorm_version": "", "success_status": "passed"}, "2004", "passed"),
        ({"scorm_version": "SCORM 2004 3rd Edition", "score_scaled": "0.5"}, "2004", "scored"),
    ],
)
def test_version_from_column_or_statuses(
    fields: dict[str, str], version: str, first_verb: str
) -> None:
    assert verbs(converted(convert(**fields)))[0] == first_verb


@pytest.mark.parametrize(
    ("version", "given", "duration"),
    [
        ("1.2", "01:02:03", "PT1H2M3S"),
        ("1.2", "1:02:03", "PT1H2M3S"),
        ("2004", "0:45:00", "PT45M"),
        ("1.2", "PT1H2M3.456S", "PT1H2M3.46S"),
        ("1.2", "P1DT1H", "PT25H"),
        ("1.2", "PT90S", "PT1M30S"),
        ("2004", "01:02:03.5", "PT1H2M3.5S"),
        ("2004", "PT1H2M3S", "PT1H2M3S"),
    ],
)
def test_session_time_in_either_notation(version: str, given: str, duration: str) -> None:
    status = (
        {"lesson_status": "incomplete"} if version == "1.2" else {"completion_status": "incomplete"}
    )
    statements = converted(convert(scorm_version=version, session_time=given, **status))
    assert statements[-1]["result"]["duration"] == duration


def test_default_timezone_for_naive_dates() -> None:
    options = RecordOptions(
        course_iri_base="https://lms.example.com/courses/",
        home_page="https://hr.example.com/",
        default_timezone=timezone(timedelta(hours=2)),
    )
    outcome = convert_record(
        row(lesson_status="passed", completion_date="2024-05-06T07:08:09"), 1, options
    )
    assert converted(outcome)[0]["timestamp"] == "2024-05-06T07:08:09+02:00"


def test_no_completion_date_no_timestamp() -> None:
    assert "timestamp" not in converted(convert(lesson_status="passed"))[0]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"learner_id": "", "email": ""},
            "learner_id: no learner id and no email: the learner is unknown",
        ),
        (
            {"learner_id": "", "email": "not-an-email"},
            "email: not an email address: 'not-an-email'",
        ),
        ({"course_id": ""}, "course_id: missing"),
        ({"sco_id": ""}, "sco_id: missing"),
        (
            {"scorm_version": "AICC", "lesson_status": "passed"},
            "scorm_version: unknown SCORM version 'AICC' (expected 1.2 or 2004)",
        ),
        (
            {"scorm_version": "", "lesson_status": "passed", "success_status": "passed"},
            "scorm_version: missing, and the status columns do not tell",
        ),
        ({"completion_status": "completed"}, "completion_status: not part of a SCORM 1.2 record"),
        ({"score_scaled": "0.5"}, "score_scaled: not part of a SCORM 1.2 record"),
        (
            {"scorm_version": "2004", "lesson_status": "passed"},
            "lesson_status: not part of a SCORM 2004 record",
        ),
        (
            {"lesson_status": "done"},
            "lesson_status: expected one of passed, failed, completed, incomplete, browsed, "
            "not attempted, got 'done'",
        ),
        ({"score_raw": "eighty"}, "score_raw: not a number: 'eighty'"),
        (
            {"score_raw": "120", "score_max": "100"},
            "score_raw: 120 is above cmi.core.score.max (100)",
        ),
        (
            {"session_time": "45 minutes"},
            "session_time: not a SCORM 1.2 time span HHHH:MM:SS.SS: '45 minutes'",
        ),
        ({"session_time": "P1M"}, "session_time: not a duration in hours, minutes, seconds: 'P1M'"),
        (
            {"lesson_status": "passed", "completion_date": "01/02/2024"},
            "completion_date: not an ISO 8601 date: '01/02/2024'",
        ),
        (
            {"lesson_status": "passed", "attempt": "second"},
            "attempt: not an attempt number or IRI: 'second'",
        ),
        ({}, "row: nothing to import: no status, score or session time"),
    ],
)
def test_rejections_name_the_column(fields: dict[str, str], reason: str) -> None:
    outcome = convert(**fields)
    assert outcome == RejectedRecord(7, reason)


def test_rejection_names_the_exports_header() -> None:
    options = RecordOptions(
        course_iri_base="https://lms.example.com/courses/",
        home_page="https://hr.example.com/",
        columns={"score_raw": "Score"},
    )
    outcome = convert_record(row(score_raw="x"), 3, options)
    assert outcome == RejectedRecord(3, "Score: not a number: 'x'")


def test_learner_id_without_home_page_or_email() -> None:
    options = RecordOptions(course_iri_base="https://lms.example.com/courses/")
    outcome = convert_record(row(lesson_status="passed"), 1, options)
    assert outcome == RejectedRecord(1, "learner_id: no home page configured for learner accounts")


def test_csv_row_numbers_blank_lines_quoted_newlines_and_extra_cells() -> None:
    text = (
        "\ufeff" + HEADER + "\n"
        "E1,,SAFE-101,sco1,1.2,passed,,,,,,,,,\n"
        "\n"
        'E2,,"SAFE\n101",sco1,1.2,passed,,,,,,,,,\n'
        "E3,,SAFE-101,sco1,1.2,passed,,,,,,,,,,extra\n"
        ",,SAFE-101,sco1,1.2,passed,,,,,,,,,\n"
        "E4,,SAFE-101,sco1,1.2,failed\n"
    )
    outcomes = list(read_records(io.StringIO(text), "csv", OPTIONS))
    assert [type(o).__name__ for o in outcomes] == [
        "ConvertedRecord",
        "ConvertedRecord",
        "RejectedRecord",
        "RejectedRecord",
        "ConvertedRecord",
    ]
    assert [o.row for o in outcomes] == [2, 4, 6, 7, 8]
    assert outcomes[2].reason == "16 cells but the header has 15 columns"
    assert (
        converted(outcomes[1])[0]["object"]["id"]
        == "https://lms.example.com/courses/SAFE%0A101/sco1"
    )
    assert verbs(converted(outcomes[4])) == ["failed", "terminated"]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("learner_id,sco_id,lesson_status", "header: no 'course_id' column (course_id)"),
        ("learner_id,course_id,lesson_status", "header: no 'sco_id' column (sco_id)"),
        ("name,course_id,sco_id", "header: no 'learner_id' or 'email' column to identify learners"),
        ("learner_id,course_id,sco_id,sco_id", "header: column 'sco_id' appears more than once"),
    ],
)
def test_csv_header_problems_fail_the_file(header: str, problem: str) -> None:
    with pytest.raises(ScormDataError) as caught:
        list(read_csv_records(io.StringIO(header + "\nE1,C,S\n"), OPTIONS))
    assert str(caught.value) == problem


def test_empty_csv_has_no_rows() -> None:
    assert list(read_csv_records(io.StringIO(""), OPTIONS)) == []


def test_ndjson() -> None:
    lines = [
        json.dumps(
            {
                "learner_id": "E1",
                "course_id": "SAFE-101",
                "sco_id": "sco1",
                "scorm_version": "1.2",
                "lesson_status": "passed",
                "score_raw": 85,
                "completion_date": "2024-02-01",
            }
        ),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps(
            {
                "email": "a@b.example",
                "course_id": "GEO",
                "sco_id": "quiz",
                "scorm_version": 2004,
                "completion_status": "completed",
                "score_scaled": 0.75,
                "session_time": None,
            }
        ),
        json.dumps(
            {"learner_id": "E1", "course_id": "C", "sco_id": "S", "lesson_status": ["passed"]}
        ),
        json.dumps(
            {
                "learner_id": "E1",
                "course_id": "C",
                "sco_id": "S",
                "lesson_status": "passed",
                "score_raw": True,
            }
        ),
    ]
    outcomes = list(read_records(io.StringIO("\n".join(lines)), "ndjson", OPTIONS))
    assert [o.row for o in outcomes] == [1, 3, 4, 5, 6, 7]
    assert verbs(converted(outcomes[0])) == ["passed", "scored", "terminated"]
    assert outcomes[1] == RejectedRecord(
        3, "not valid JSON: Expecting property name enclosed in double quotes (column 2)"
    )
    assert outcomes[2] == RejectedRecord(4, "not a JSON object")
    assert verbs(converted(outcomes[3])) == ["completed", "scored", "terminated"]
    assert outcomes[4] == RejectedRecord(6, 'lesson_status: not a string or number: ["passed"]')
    assert outcomes[5] == RejectedRecord(7, "score_raw: not a string or number: true")
    for outcome in outcomes:
        for statement in getattr(outcome, "statements", []):
            assert_valid_xapi(statement)


def test_ndjson_with_column_mapping() -> None:
    options = RecordOptions(
        course_iri_base="https://lms.example.com/courses/",
        home_page="https://hr.example.com/",
        columns={
            "learner_id": "user",
            "course_id": "course",
            "sco_id": "sco",
            "lesson_status": "status",
        },
    )
    line = json.dumps({"user": "E9", "course": "C", "sco": "S", "status": "completed"})
    [outcome] = read_ndjson_records([line], options)
    assert verbs(converted(outcome)) == ["completed", "terminated"]


def test_reading_is_streamed() -> None:
    """Each outcome is produced before the next line is read: memory stays constant."""
    read: list[int] = []

    def lines() -> Iterator[str]:
        yield HEADER + "\n"
        for number in range(1_000_000):
            read.append(number)
            yield f"E{number},,SAFE-101,sco1,1.2,passed,,,,,,,,,\n"

    outcomes = read_records(lines(), "csv", OPTIONS)
    for _ in range(3):
        assert isinstance(next(outcomes), ConvertedRecord)
    assert len(read) <= 4


def test_unknown_format_and_options() -> None:
    with pytest.raises(ValueError, match="unknown record format 'xml'"):
        read_records([], "xml", OPTIONS)  # type: ignore[arg-type]
    with pytest.raises(ScormDataError, match=r"^columns: unknown fields \['learner'\]"):
        RecordOptions(course_iri_base="https://x.example/", columns={"learner": "L"})
    with pytest.raises(ScormDataError, match=r"^course_iri_base: not an absolute IRI"):
        RecordOptions(course_iri_base="courses/")
    with pytest.raises(ScormDataError, match=r"^home_page: not an absolute IRI"):
        RecordOptions(course_iri_base="https://x.example/", home_page="hr")
