"""Merges over the admin API (`POST /identities/merges`, `/merges/{seq}/undo`), on every
backend: refusals write nothing, a merge moves the records, reconcile finds no drift, a later
statement by the merged address follows, the undo restores both members."""

from __future__ import annotations

import jsonschema

from projections.http import PREFIX
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, hris_actor, mbox_actor, statement
from tests.projections.test_api import schema
from tests.projections.test_identity_api import import_rows, post

P = f"{PREFIX}/v1/identities/merges"


async def learning(market: Market, auth: str, member_id: str) -> int:
    status, body, _ = await market.get(f"{PREFIX}/v1/members/{member_id}/learning", auth)
    assert status == 200
    return len(body["data"])


async def test_a_merge_and_its_undo_over_http(market: Market) -> None:
    await import_rows(market, ("E1", "grace@example.com"), ("E2", "ada@example.com"))
    await market.post_statements(
        [
            statement("completed", actor=mbox_actor("grace@example.com"), activity=f"{COURSE}/1"),
            statement("completed", actor=hris_actor("E1"), activity=f"{COURSE}/2"),
            statement("passed", actor=mbox_actor("ada@example.com"), activity=f"{COURSE}/1"),
        ]
    )
    await market.projection.worker.drain()
    admin, reader = await market.token("admin"), await market.token("read:activity:aggregate")
    entries = len(await market.projection.audit.entries(limit=1000))
    body = {"from": "E1", "into": "E2", "reason": "duplicate"}

    for bad, status, code in (
        ({**body, "reason": ""}, 400, "bad_request"),
        ({**body, "into": "E1"}, 400, "bad_request"),
        ({**body, "from": "E404"}, 404, "member_not_found"),
    ):
        got, answer = await post(market, P, admin, bad)
        assert (got, answer["error"]["code"]) == (status, code)
    assert (await post(market, P, reader, body))[0] == 403
    assert len(await market.projection.audit.entries(limit=1000)) == entries  # nothing written

    status, answer = await post(market, P, admin, body)
    assert status == 201
    jsonschema.validate(answer["data"], schema("Merge"))
    merged = answer["data"]
    assert (merged["before"]["from"]["records"], merged["after"]["into"]["records"]) == (2, 2)
    assert (await learning(market, admin, "E1"), await learning(market, admin, "E2")) == (0, 2)
    status, answer = await post(market, P, admin, {**body, "into": "E2"})
    assert (status, answer["error"]["code"]) == (409, "merge_refused")
    assert (await market.projection.reconciler.reconcile()).drift == 0

    await market.post_statements(
        [statement("passed", actor=mbox_actor("grace@example.com"), activity=f"{COURSE}/3")]
    )
    await market.projection.worker.drain()
    assert await learning(market, admin, "E2") == 3

    undo = f"{P}/{merged['audit_seq']}/undo"
    status, answer = await post(market, undo, admin, {"reason": "wrong person"})
    assert status == 200
    jsonschema.validate(answer["data"], schema("Merge"))
    assert (await learning(market, admin, "E1"), await learning(market, admin, "E2")) == (3, 1)
    assert (await market.projection.reconciler.reconcile()).drift == 0
    status, answer = await post(market, undo, admin, {})
    assert (status, answer["error"]["code"]) == (409, "merge_refused")
    status, answer = await post(market, f"{P}/1/undo", admin, {})
    assert status == 404
    assert (await market.projection.audit.verify()).intact
