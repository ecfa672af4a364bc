"""Maximum lengths of CMI values: factor x the SCORM smallest permitted maximum, 400 above it."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

import pytest

from lrs.errors import ConfigError
from scorm_adapter.errors import ScormDataError
from scorm_adapter.limits import DEFAULT_FACTOR, check_value_lengths, smallest_permitted_maximum
from scorm_adapter.settings import ScormSettings
from tests.scorm_adapter.conftest import SCO, ScormClient


@pytest.mark.parametrize(
    ("name", "version", "spm"),
    [
        ("cmi.suspend_data", "1.2", 4096),
        ("cmi.launch_data", "1.2", 4096),
        ("cmi.comments", "1.2", 4096),
        ("cmi.core.lesson_location", "1.2", 255),
        ("cmi.interactions.0.student_response", "1.2", 255),
        ("cmi.suspend_data", "2004", 64000),
        ("adl.data.3.store", "2004", 64000),
        ("cmi.location", "2004", 1000),
        ("cmi.learner_name", "2004", 250),
        ("cmi.interactions.2.description", "2004", 250),
        ("cmi.comments_from_learner.1.location", "2004", 250),
        ("cmi.comments_from_learner.1.comment", "2004", 4000),
        ("cmi.interactions.0.learner_response", "2004", 62749),
        ("cmi.interactions.0.correct_responses.4.pattern", "2004", 62749),
        ("cmi.interactions.0.id", "2004", 4000),
        ("cmi.score.raw", "2004", 4000),
    ],
)
def test_smallest_permitted_maxima(name: str, version: str, spm: int) -> None:
    assert smallest_permitted_maximum(name, version) == spm  # type: ignore[arg-type]


def test_a_value_may_be_factor_times_its_spm_long() -> None:
    check_value_lengths({"cmi.suspend_data": "x" * 4096 * 3}, "1.2", 3)
    with pytest.raises(ScormDataError) as error:
        check_value_lengths({"cmi.suspend_data": "x" * (4096 * 3 + 1)}, "1.2", 3)
    assert error.value.element == "cmi.suspend_data"
    assert "12288" in error.value.problem


def test_the_factor_is_a_setting() -> None:
    assert ScormSettings.from_env({}).max_value_factor == DEFAULT_FACTOR == 16
    assert ScormSettings.from_env({"LRS_SCORM_MAX_VALUE_FACTOR": "1"}).max_value_factor == 1
    with pytest.raises(ConfigError, match="LRS_SCORM_MAX_VALUE_FACTOR"):
        ScormSettings.from_env({"LRS_SCORM_MAX_VALUE_FACTOR": "0"})


async def test_an_overlong_suspend_data_is_400_and_writes_nothing(scorm: ScormClient) -> None:
    opened = await scorm.open()
    url = opened["commitUrl"]
    cap = 16 * 4096
    commit = {"cmi.core.lesson_status": "passed", "cmi.suspend_data": "x" * (cap + 1)}
    answer = await scorm.commit(url, commit, expect=400)
    assert answer["result"] is False and answer["element"] == "cmi.suspend_data"
    assert await scorm.statements(activity=SCO) == []
    answer = await scorm.commit(url, {**commit, "cmi.suspend_data": "x" * cap})
    assert answer["status"] == "applied"


async def test_five_megabytes_of_2004_suspend_data_are_refused(scorm: ScormClient) -> None:
    opened = await scorm.open(scormVersion="2004")
    body = io.BytesIO(json.dumps({"cmi.suspend_data": "x" * 5_000_000}).encode())
    response = await scorm.http.post(
        urlsplit(opened["commitUrl"]).path,
        data=body,
        headers={"Content-Type": "application/json"},
    )
    answer = await response.json()
    assert response.status == 400, answer
    assert answer["element"] == "cmi.suspend_data"


async def test_overlong_lms_data_is_400_naming_the_element(scorm: ScormClient) -> None:
    answer = await scorm.open(expect=400, lmsData={"cmi.launch_data": "x" * (16 * 4096 + 1)})
    assert answer["element"] == "cmi.launch_data"
