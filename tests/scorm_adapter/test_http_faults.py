"""The runtime endpoint under concurrency and failures: nothing lost, nothing twice, no older
commit over a newer one."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from lrs.errors import StoreUnavailable
from lrs.keys import document_service_key, statement_service_key
from scorm_adapter.vocabulary import ATTEMPT_STATE_ID
from tests.scorm_adapter.conftest import LEARNER, SCO, ScormClient


async def test_concurrent_commits_apply_in_seq_order(scorm: ScormClient) -> None:
    opened = await scorm.open()
    path = urlsplit(opened["commitUrl"]).path

    async def send(seq: int) -> dict[str, Any]:
        body = {"cmi.core.score.raw": str(seq * 10), "seq": seq}
        response = await scorm.http.post(path, json=body)
        assert response.status == 200, await response.text()
        return await response.json()

    answers = await asyncio.gather(*(send(seq) for seq in (3, 9, 1, 7, 5, 10, 2, 8, 4, 6)))
    statuses = {answer["status"] for answer in answers}
    assert statuses <= {"applied", "stale"}
    stored = await scorm.statements(activity=SCO, ascending="true")
    raws = [s["result"]["score"]["raw"] for s in stored if "result" in s]  # not initialized
    assert raws == sorted(raws) and raws[-1] == 100  # never an older score after a newer one
    applied = sum(len(a["statementIds"]) for a in answers)
    assert applied == len(stored)


async def test_a_failed_write_is_completed_by_the_retry(
    scorm: ScormClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = await scorm.open()
    service = scorm.http.app[statement_service_key]
    real = service.store_statements
    calls = {"n": 0}

    async def failing_once(*args: Any, **kwargs: Any) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreUnavailable("the store could not write")
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "store_statements", failing_once)
    commit = {"cmi.core.entry": "ab-initio", "cmi.core.lesson_status": "passed"}
    answer = await scorm.commit(opened["commitUrl"], commit, expect=503)
    assert answer["result"] is False
    assert await scorm.statements(activity=SCO) == []
    retry = await scorm.commit(opened["commitUrl"], commit)
    assert retry["status"] == "duplicate"
    stored = await scorm.statements(activity=SCO)
    assert len(stored) == 2
    # the statements stored on retry are the ones recorded when the commit was applied
    assert len({s["timestamp"] for s in stored}) == 1


async def test_a_failed_document_write_is_completed_by_the_next_request(
    scorm: ScormClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = await scorm.open()
    documents = scorm.http.app[document_service_key]
    real = documents.post_document
    calls = {"n": 0}

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreUnavailable("the store could not write")
        return await real(*args, **kwargs)

    monkeypatch.setattr(documents, "post_document", failing_once)
    await scorm.commit(opened["commitUrl"], {"cmi.core.lesson_location": "p9"}, expect=503)
    await scorm.commit(opened["commitUrl"], {"cmi.core.lesson_status": "incomplete"})
    _, state = await scorm.document(
        "/xapi/activities/state",
        activityId=opened["attempt"],
        agent=json.dumps(LEARNER),
        stateId=ATTEMPT_STATE_ID,
    )
    assert state == {"location": "p9"}


async def test_duplicate_beacons_racing_each_other(scorm: ScormClient) -> None:
    opened = await scorm.open()
    path = urlsplit(opened["commitUrl"]).path
    beacon = json.dumps({"cmi.core.lesson_status": "completed", "cmi.core.exit": "logout"})

    async def send() -> dict[str, Any]:
        response = await scorm.http.post(
            path, data=beacon, headers={"Content-Type": "text/plain"}, params={"finish": "true"}
        )
        assert response.status == 200, await response.text()
        return await response.json()

    answers = await asyncio.gather(*(send() for _ in range(5)))
    assert sorted(a["status"] for a in answers) == ["applied"] + ["duplicate"] * 4
    assert len(await scorm.statements(activity=SCO)) == 3  # initialized, completed, terminated
