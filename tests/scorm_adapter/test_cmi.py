"""The three commit formats, keyword handling, and SCORM version detection."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from scorm_adapter import ScormDataError, parse_form_commit, parse_json_commit
from scorm_adapter.cmi import detect_version, flatten_json, normalize_version

FLAT_12 = {
    "cmi.core.lesson_status": "passed",
    "cmi.core.score.raw": "80",
    "cmi.interactions.0.id": "q1",
    "cmi.interactions.0.student_response": "a",
    "cmi.interactions.0.correct_responses.0.pattern": "a",
    "cmi.interactions.1.id": "q2",
}


def test_nested_json_with_lists() -> None:
    payload = {
        "cmi": {
            "core": {"lesson_status": "passed", "score": {"raw": "80"}},
            "interactions": [
                {"id": "q1", "student_response": "a", "correct_responses": [{"pattern": "a"}]},
                {"id": "q2"},
            ],
        }
    }
    parsed = parse_json_commit(payload)
    assert parsed.version == "1.2"
    assert parsed.elements == FLAT_12


def test_nested_json_with_index_maps_and_keywords() -> None:
    payload = {
        "cmi": {
            "_version": "3.4",
            "core": {
                "_children": "lesson_status,score",
                "lesson_status": "passed",
                "score": {"raw": 80},
            },
            "interactions": {
                "_count": "2",
                "0": {
                    "id": "q1",
                    "student_response": "a",
                    "correct_responses": {"0": {"pattern": "a"}},
                },
                "1": {"id": "q2"},
            },
        }
    }
    assert parse_json_commit(payload).elements == FLAT_12


def test_flattened_json() -> None:
    parsed = parse_json_commit(dict(FLAT_12))
    assert parsed == parse_json_commit(
        {
            "cmi": {
                "core": {"lesson_status": "passed", "score": {"raw": "80"}},
                "interactions": [
                    {"id": "q1", "student_response": "a", "correct_responses": [{"pattern": "a"}]},
                    {"id": "q2"},
                ],
            }
        }
    )


def test_mixed_nested_and_flattened_json() -> None:
    payload = {"cmi.core.lesson_status": "passed", "cmi": {"core.score.raw": "80"}}
    assert parse_json_commit(payload).elements == {
        "cmi.core.lesson_status": "passed",
        "cmi.core.score.raw": "80",
    }


def test_json_scalars_become_strings_and_null_is_absent() -> None:
    payload = {
        "cmi": {
            "score": {"raw": 17, "scaled": 0.85, "min": None},
            "interactions": [{"id": "t", "learner_response": True}],
        }
    }
    assert parse_json_commit(payload).elements == {
        "cmi.score.raw": "17",
        "cmi.score.scaled": "0.85",
        "cmi.interactions.0.id": "t",
        "cmi.interactions.0.learner_response": "true",
    }


def test_the_same_element_twice_with_different_values() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi\.core\.lesson_status: given twice"):
        parse_json_commit(
            {"cmi.core.lesson_status": "passed", "cmi": {"core": {"lesson_status": "failed"}}}
        )


def test_json_must_be_an_object_of_scalars() -> None:
    with pytest.raises(ScormDataError, match=r"^cmi: a commit must be a JSON object"):
        parse_json_commit(["cmi"])  # type: ignore[arg-type]
    with pytest.raises(ScormDataError, match=r"^cmi\.core\.lesson_status: not a string or number"):
        flatten_json({"cmi": {"core": {"lesson_status": {1, 2}}}})


def test_form_parameters_dotted() -> None:
    parsed = parse_form_commit(dict(FLAT_12))
    assert parsed.version == "1.2"
    assert parsed.elements == FLAT_12


def test_form_parameters_multidict_with_brackets() -> None:
    form = MultiDict(
        [
            ("cmi[core][lesson_status]", "passed"),
            ("cmi[core][score][raw]", "80"),
            ("cmi[interactions][0][id]", "q1"),
            ("cmi[interactions][0][student_response]", "a"),
            ("cmi[interactions][0][correct_responses][0][pattern]", "a"),
            ("cmi.interactions.1.id", "q2"),
            ("cmi.interactions.1.id", "q2"),  # repeated with the same value: harmless
            ("cmi[core][_children]", "lesson_status"),
        ]
    )
    assert parse_form_commit(form).elements == FLAT_12


def test_form_parameter_repeated_with_different_values() -> None:
    form = MultiDict([("cmi.core.lesson_status", "passed"), ("cmi.core.lesson_status", "failed")])
    with pytest.raises(ScormDataError, match=r"^cmi\.core\.lesson_status: given twice"):
        parse_form_commit(form)


def test_form_parameter_with_empty_brackets() -> None:
    with pytest.raises(ScormDataError, match=r"empty \[\]"):
        parse_form_commit({"cmi[interactions][][id]": "q1"})


@pytest.mark.parametrize(
    ("elements", "version"),
    [
        ({"cmi.core.lesson_status": "passed"}, "1.2"),
        ({"cmi.comments": "x"}, "1.2"),
        ({"cmi.student_data.mastery_score": "80", "cmi.suspend_data": "x"}, "1.2"),
        ({"cmi.interactions.0.student_response": "a", "cmi.interactions.0.id": "q"}, "1.2"),
        ({"cmi.objectives.0.status": "passed", "cmi.objectives.0.id": "o"}, "1.2"),
        ({"cmi.completion_status": "completed"}, "2004"),
        ({"cmi.score.scaled": "1"}, "2004"),
        ({"cmi.comments_from_learner.0.comment": "x"}, "2004"),
        ({"cmi.interactions.0.learner_response": "a", "cmi.interactions.0.id": "q"}, "2004"),
        ({"adl.nav.request": "continue"}, "2004"),
    ],
)
def test_version_detected_from_the_elements(elements: dict[str, str], version: str) -> None:
    assert detect_version(elements) == version
    assert parse_form_commit(elements).version == version


@pytest.mark.parametrize(("keyword", "version"), [("3.4", "1.2"), ("1.0", "2004")])
def test_version_detected_from_cmi_version(keyword: str, version: str) -> None:
    parsed = parse_json_commit({"cmi": {"_version": keyword, "suspend_data": "x"}})
    assert parsed.version == version
    assert parsed.elements == {"cmi.suspend_data": "x"}


def test_version_cannot_be_told_from_shared_elements() -> None:
    with pytest.raises(ScormDataError, match=r"cannot tell SCORM 1\.2 from SCORM 2004"):
        parse_json_commit({"cmi": {"suspend_data": "x", "interactions": [{"id": "q"}]}})
    assert parse_json_commit({"cmi": {"suspend_data": "x"}}, version="2004").version == "2004"


def test_mixed_versions_are_refused() -> None:
    with pytest.raises(ScormDataError, match=r"mixed with SCORM 1\.2 elements"):
        parse_form_commit({"cmi.core.lesson_status": "passed", "cmi.success_status": "passed"})


def test_unknown_element_is_named() -> None:
    with pytest.raises(
        ScormDataError, match=r"^cmi\.core\.lesson_statu: not a SCORM 1\.2 or SCORM 2004"
    ):
        parse_form_commit({"cmi.core.lesson_statu": "passed"})
    with pytest.raises(ScormDataError, match=r"^lesson_status: not a SCORM"):
        parse_json_commit({"lesson_status": "passed"})


def test_given_version_is_enforced() -> None:
    with pytest.raises(
        ScormDataError, match=r"^cmi\.success_status: not a SCORM 1\.2 data model element"
    ):
        parse_form_commit({"cmi.success_status": "passed"}, version="1.2")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("1.2", "1.2"),
        ("SCORM 1.2", "1.2"),
        ("scorm_12", "1.2"),
        ("2004", "2004"),
        ("SCORM 2004 4th Edition", "2004"),
        ("scorm_2004_3rd_edition", "2004"),
        ("_SCORM 1.2", "1.2"),  # was unknown: the "_" survived the strip
        ("\t_scorm_2004_", "2004"),
    ],
)
def test_normalize_version(text: str, version: str) -> None:
    assert normalize_version(text) == version


def test_normalize_version_unknown() -> None:
    with pytest.raises(ScormDataError, match=r"^version: unknown SCORM version 'AICC'"):
        normalize_version("AICC")
