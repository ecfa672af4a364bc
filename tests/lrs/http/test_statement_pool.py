"""POST /statements through the statement process pool: the same outcomes as in-process."""

from __future__ import annotations

import gc
import os
import pickle
import uuid
from pathlib import Path

import orjson
import pytest

from lrs.app import _statement_pool
from lrs.errors import StatementConflict, ValidationError
from lrs.gc_tuning import SERVING_GC_THRESHOLDS
from lrs.services.statement_prep import WORKER_NICENESS
from lrs.settings import Settings
from tests.lrs.http.conftest import LRSClient


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """One pool worker, and every body large enough to go through it."""
    return Settings(data_dir=tmp_path, statement_page_size=10, statement_workers=1)


def _statement(n: int, **extra: object) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": f"mailto:learner{n}@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": f"http://example.com/activities/{n}", "definition": {"name": {"en": "x"}}},
        **extra,
    }


async def _post(lrs: LRSClient, body: object) -> tuple[int, object]:
    resp = await lrs.http.post(
        "/xapi/statements",
        data=orjson.dumps(body),
        headers=lrs.headers(**{"Content-Type": "application/json"}),
    )
    return resp.status, orjson.loads(await resp.read())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_large_batch_is_stored_as_in_process(lrs: LRSClient) -> None:
    batch = [_statement(n) for n in range(400)]
    batch[7]["timestamp"] = "2024-01-02T03:04:05Z"
    status, ids = await _post(lrs, batch)
    assert status == 200
    assert ids == [s["id"] for s in batch]
    resp = await lrs.http.get(
        "/xapi/statements", params={"statementId": ids[7]}, headers=lrs.headers()
    )
    stored = orjson.loads(await resp.read())
    assert stored["timestamp"] == "2024-01-02T03:04:05Z"
    assert stored["stored"] and stored["authority"] and stored["version"] == "1.0.0"
    resp = await lrs.http.get(
        "/xapi/statements", params={"statementId": ids[8]}, headers=lrs.headers()
    )
    assert orjson.loads(await resp.read())["timestamp"] == stored["stored"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_large_invalid_batch_names_the_path(lrs: LRSClient) -> None:
    batch = [_statement(n) for n in range(400)]
    batch[311]["actor"] = {"mbox": "not-an-email"}
    status, error = await _post(lrs, batch)
    assert status == 400
    assert error["path"] == "[311].actor.mbox"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_large_conflicting_batch_is_refused(lrs: LRSClient) -> None:
    batch = [_statement(n) for n in range(400)]
    assert (await _post(lrs, batch))[0] == 200
    assert (await _post(lrs, batch))[0] == 200  # the same statements again
    batch[5]["verb"] = {"id": "http://adlnet.gov/expapi/verbs/completed"}
    assert (await _post(lrs, batch))[0] == 409


def test_errors_keep_their_details_through_pickling() -> None:
    error = pickle.loads(pickle.dumps(ValidationError("[3].actor bad", path="[3].actor")))
    assert isinstance(error, ValidationError)
    assert (error.message, error.path, error.to_json()["path"]) == (
        "[3].actor bad",
        "[3].actor",
        "[3].actor",
    )
    conflict = pickle.loads(pickle.dumps(StatementConflict("abc")))
    assert type(conflict) is StatementConflict and conflict.status == 409


@pytest.mark.skipif(not hasattr(os, "nice"), reason="CPU priority is POSIX")
def test_pool_workers_yield_the_cpu_to_the_server(settings: Settings) -> None:
    pool = _statement_pool(settings)
    assert pool is not None
    try:
        worker = pool.submit(os.nice, 0).result(timeout=60)  # nice(0) reads the niceness
    finally:
        pool.shutdown()
    assert worker == min(19, os.nice(0) + WORKER_NICENESS)


def test_pool_workers_collect_garbage_at_the_serving_thresholds(settings: Settings) -> None:
    pool = _statement_pool(settings)
    assert pool is not None
    try:
        thresholds = pool.submit(gc.get_threshold).result(timeout=60)
    finally:
        pool.shutdown()
    assert thresholds == SERVING_GC_THRESHOLDS != gc.get_threshold()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("levels", [101, 300, 1000])
async def test_a_batch_nesting_too_deep_is_400_in_the_pool(lrs: LRSClient, levels: int) -> None:
    # issue 14.6: 252-1023 levels were a 500 (orjson.dumps' recursion limit)
    batch = orjson.dumps([_statement(n) for n in range(400)])
    deep = b'{"http://example.com/x":' + b'{"a":' * levels + b"1" + b"}" * levels + b"}"
    one = orjson.dumps(_statement(400, result={"extensions": {}}))
    one = one.replace(b'"extensions":{}', b'"extensions":' + deep)
    body = batch[:-1] + b"," + one + b"]"
    assert len(body) > 64 * 1024  # through the pool
    resp = await lrs.http.post(
        "/xapi/statements", data=body, headers=lrs.headers(**{"Content-Type": "application/json"})
    )
    assert resp.status == 400, await resp.text()
    assert "nests more than 100 levels" in (await resp.json())["message"]
