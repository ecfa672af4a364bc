"""The real scorm-again runtime (npm, pinned) against the endpoint on a real 127.0.0.1 server.

The package is installed once into `scorm_again/.npm/` (ignored by git, kept between runs) with
`npm install --no-save --prefix`; `scorm_again/driver.mjs` runs it in Node with the shims it
needs. Skipped only when `node` or `npm` is not on the machine.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.scorm_adapter.conftest import LEARNER, SCO, ScormClient
from tests.scorm_adapter.test_http import verb_names

SCORM_AGAIN = "3.4.3"  # pinned exactly: the shims follow this version's source
HERE = Path(__file__).parent / "scorm_again"
PREFIX = HERE / ".npm" / f"scorm-again-{SCORM_AGAIN}"
NODE_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are needed to run the scorm-again runtime",
)


@pytest.fixture(scope="session")
def scorm_again() -> Path:
    """The install prefix of scorm-again, installed on first use."""
    installed = PREFIX / "node_modules" / "scorm-again" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == SCORM_AGAIN:
        return PREFIX
    PREFIX.mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(PREFIX)]
    done = subprocess.run(
        [*command, f"scorm-again@{SCORM_AGAIN}"], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"npm could not install scorm-again@{SCORM_AGAIN}:\n{done.stderr}")
    return PREFIX


async def drive(prefix: Path, tmp_path: Path, scenario: dict[str, Any]) -> list[list[Any]]:
    """Run one scenario in Node (the server keeps serving meanwhile); each step's results."""
    return (await drive_counting(prefix, tmp_path, scenario))[0]


async def drive_counting(
    prefix: Path, tmp_path: Path, scenario: dict[str, Any]
) -> tuple[list[list[Any]], dict[str, int]]:
    """`drive`, and how many commits left by synchronous XHR, fetch and sendBeacon."""
    path = tmp_path / f"scenario-{len(list(tmp_path.glob('scenario-*')))}.json"
    path.write_text(json.dumps(scenario))
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "driver.mjs"),
        str(prefix),
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), NODE_TIMEOUT_S)
    assert process.returncode == 0, err.decode()
    answer = json.loads(out.decode().strip().splitlines()[-1])
    return answer["results"], answer["sent"]


def settings(url: str, data_format: str, asynchronous: bool) -> dict[str, Any]:
    """scorm-again settings as docs/scorm.md advises them."""
    return {
        "lmsCommitUrl": url,
        "dataCommitFormat": data_format,
        "useAsynchronousCommits": asynchronous,
        "includeCommitSequence": True,
        "terminateCommitParam": "finish",
    }


STEPS = {
    "1.2": [
        ["LMSInitialize", ""],
        ["LMSGetValue", "cmi.core.entry"],
        ["LMSGetValue", "cmi.core.student_id"],
        ["LMSSetValue", "cmi.core.score.min", "0"],
        ["LMSSetValue", "cmi.core.score.max", "100"],
        ["LMSSetValue", "cmi.core.score.raw", "85"],
        ["LMSSetValue", "cmi.suspend_data", "page=3&seen=1+2%"],
        ["LMSCommit", ""],
        ["LMSSetValue", "cmi.core.lesson_status", "passed"],
        ["LMSSetValue", "cmi.core.lesson_location", "page 3"],
        ["LMSCommit", ""],
        ["LMSFinish", ""],
    ],
    "2004": [
        ["Initialize", ""],
        ["GetValue", "cmi.entry"],
        ["GetValue", "cmi.learner_id"],
        ["SetValue", "cmi.score.min", "0"],
        ["SetValue", "cmi.score.max", "100"],
        ["SetValue", "cmi.score.raw", "85"],
        ["SetValue", "cmi.score.scaled", "0.85"],
        ["SetValue", "cmi.suspend_data", "page=3&seen=1+2%"],
        ["Commit", ""],
        ["SetValue", "cmi.completion_status", "completed"],
        ["SetValue", "cmi.success_status", "passed"],
        ["SetValue", "cmi.location", "page 3"],
        ["SetValue", "cmi.exit", "normal"],
        ["Commit", ""],
        ["Terminate", ""],
    ],
}
VERBS = {
    "1.2": ["initialized", "passed", "scored", "terminated"],
    "2004": ["completed", "initialized", "passed", "scored", "terminated"],
}


@pytest.mark.parametrize(
    ("version", "data_format", "asynchronous"),
    [
        ("1.2", "json", False),
        ("1.2", "flattened", True),
        ("1.2", "params", False),
        ("1.2", "params", True),
        ("2004", "json", True),
        ("2004", "flattened", False),
        ("2004", "params", False),
        ("2004", "params", True),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the runtime, not the store
async def test_a_scorm_again_session_is_stored(
    scorm: ScormClient,
    scorm_again: Path,
    tmp_path: Path,
    version: str,
    data_format: str,
    asynchronous: bool,
) -> None:
    opened = await scorm.open(scormVersion=version, lmsData=_lms_data(version))
    scenario = {
        "version": version,
        "settings": settings(opened["commitUrl"], data_format, asynchronous),
        "startingData": opened["startingData"],
        "steps": STEPS[version],
    }
    results, sent = await drive_counting(scorm_again, tmp_path, scenario)
    if asynchronous:  # two commits and the terminate commit, all by fetch
        assert sent == {"xhr": 0, "fetch": 3, "beacon": 0}
    else:  # two synchronous commits, the terminate commit as a beacon
        assert sent == {"xhr": 2, "fetch": 0, "beacon": 1}
    assert [r[-2] for r in results if r[0] not in ("LMSGetValue", "GetValue")] == ["true"] * (
        len(results) - 2
    ), results
    assert [r[-2] for r in results[1:3]] == ["ab-initio", "E-1001"]
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == VERBS[version]
    [end] = [s for s in stored if s["verb"]["id"].endswith("/terminated")]
    assert end["result"]["success"] is True
    assert end["result"]["score"] == {"raw": 85, "min": 0, "max": 100, "scaled": 0.85}
    if version == "2004":
        assert end["result"]["completion"] is True
    else:  # SCORM 1.2 "passed" says nothing about completion (docs/scorm.md)
        assert "completion" not in end["result"]
    assert await _suspend_data(scorm, opened["attempt"]) == "page=3&seen=1+2%"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the runtime, not the store
async def test_a_resumed_session_starts_where_the_last_one_left(
    scorm: ScormClient, scorm_again: Path, tmp_path: Path
) -> None:
    opened = await scorm.open(attempt=1, lmsData=_lms_data("1.2"))
    first = [
        ["LMSInitialize", ""],
        ["LMSSetValue", "cmi.core.lesson_location", "page 7"],
        ["LMSSetValue", "cmi.suspend_data", "x=1&y=2"],
        ["LMSSetValue", "cmi.core.lesson_status", "incomplete"],
        ["LMSSetValue", "cmi.core.exit", "suspend"],
        ["LMSSetValue", "cmi.core.session_time", "00:02:30"],
        ["LMSFinish", ""],
    ]
    scenario = {
        "version": "1.2",
        "settings": settings(opened["commitUrl"], "params", False),
        "startingData": opened["startingData"],
        "steps": first,
    }
    await drive(scorm_again, tmp_path, scenario)
    again = await scorm.open(expect=200, attempt=1, lmsData=_lms_data("1.2"))
    core = again["startingData"]["cmi"]["core"]
    assert (core["entry"], core["lesson_location"], core["lesson_status"]) == (
        "resume",
        "page 7",
        "incomplete",
    )
    second = [
        ["LMSInitialize", ""],
        ["LMSGetValue", "cmi.core.entry"],
        ["LMSGetValue", "cmi.core.lesson_location"],
        ["LMSGetValue", "cmi.suspend_data"],
        ["LMSGetValue", "cmi.core.total_time"],
        ["LMSSetValue", "cmi.core.lesson_status", "completed"],
        ["LMSFinish", ""],
    ]
    scenario.update(
        settings=settings(again["commitUrl"], "json", False),
        startingData=again["startingData"],
        steps=second,
    )
    results = await drive(scorm_again, tmp_path, scenario)
    assert [r[-2] for r in results[1:4]] == ["resume", "page 7", "x=1&y=2"]
    assert core["total_time"] == "00:02:30.00"
    assert results[4][-2] in ("00:02:30", "00:02:30.00"), results
    stored = await scorm.statements(activity=SCO)
    assert verb_names(stored) == [
        "completed",
        "initialized",
        "resumed",
        "suspended",
        "terminated",
    ]


def _lms_data(version: str) -> dict[str, str]:
    if version == "1.2":
        return {"cmi.core.credit": "credit", "cmi.core.lesson_mode": "normal"}
    return {"cmi.credit": "credit", "cmi.mode": "normal"}


async def _suspend_data(scorm: ScormClient, attempt: str) -> Any:
    status, body = await scorm.document(
        "/xapi/activities/state",
        activityId=attempt,
        agent=json.dumps(LEARNER),
        stateId="https://w3id.org/xapi/scorm/types/adl-suspend-data",
    )
    assert status == 200
    return body


@pytest.mark.parametrize(("version", "data_format"), [("1.2", "params"), ("2004", "json")])
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_player_loaded_with_nothing_still_initializes(
    scorm: ScormClient, scorm_again: Path, tmp_path: Path, version: str, data_format: str
) -> None:
    """An LMS that hands the runtime nothing: it echoes an empty entry, the LRS knows better."""
    opened = await scorm.open(scormVersion=version)
    steps = [step for step in STEPS[version] if step[0] not in ("LMSGetValue", "GetValue")]
    scenario = {
        "version": version,
        "settings": settings(opened["commitUrl"], data_format, False),
        "steps": steps,
    }
    results = await drive(scorm_again, tmp_path, scenario)
    assert {r[-2] for r in results} == {"true"}, results
    assert verb_names(await scorm.statements(activity=SCO)) == VERBS[version]
