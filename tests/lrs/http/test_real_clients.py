"""What real xAPI clients send that bends the RFCs a little, and the configured limits."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

from aiohttp.test_utils import TestClient

from lrs.app import create_app
from lrs.auth import create_credential
from lrs.config import Config
from lrs.settings import Settings
from tests.lrs.http.conftest import LRSClient, basic
from tests.lrs.http.test_statements import ACTOR, statement


async def test_json_content_type_on_get_and_delete(lrs: LRSClient) -> None:
    headers = lrs.headers(**{"Content-Type": "application/json"})
    got = await lrs.http.get("/xapi/statements", headers=headers)
    assert got.status == 200
    agent = quote_plus(json.dumps(ACTOR))
    url = f"/xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fa&agent={agent}&stateId=s"
    put = await lrs.http.put(
        url, data=b"hello", headers=lrs.headers(**{"Content-Type": "text/plain"})
    )
    assert put.status == 204
    deleted = await lrs.http.delete(url, headers=headers)
    assert deleted.status == 204


async def test_plus_encoded_json_in_query_string(lrs: LRSClient) -> None:
    [sid] = await (
        await lrs.http.post("/xapi/statements", json=statement(), headers=lrs.headers())
    ).json()
    # json.dumps puts a space after ':' and ','; quote_plus encodes those spaces as '+'
    encoded = quote_plus(json.dumps({"objectType": "Agent", "mbox": ACTOR["mbox"]}))
    assert "+" in encoded
    response = await lrs.http.get(f"/xapi/statements?agent={encoded}", headers=lrs.headers())
    assert response.status == 200
    assert [s["id"] for s in (await response.json())["statements"]] == [sid]


async def test_patch_version_1_0_2_is_accepted(lrs: LRSClient) -> None:
    response = await lrs.http.post(
        "/xapi/statements", json=statement(), headers=lrs.headers("1.0.2")
    )
    assert response.status == 200
    assert response.headers["X-Experience-API-Version"] == "1.0.3"


async def test_request_and_batch_limits_are_413(aiohttp_client, backend, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, max_request_bytes=20_000, max_batch_size=3)
    client: TestClient = await aiohttp_client(create_app(Config(core=settings), backend=backend))
    new = await create_credential(backend.credentials, "t", ["all"])
    headers = {
        "Authorization": basic(new.credential.key, new.secret),
        "X-Experience-API-Version": "1.0.3",
    }
    too_many = await client.post(
        "/xapi/statements", json=[statement() for _ in range(4)], headers=headers
    )
    assert too_many.status == 413
    assert (await too_many.json())["message"]
    big = statement(result={"response": "x" * 30_000})
    too_big = await client.post("/xapi/statements", json=big, headers=headers)
    assert too_big.status == 413
    assert "error" in await too_big.json()
    listed = await client.get("/xapi/statements", headers=headers)
    assert (await listed.json())["statements"] == []
