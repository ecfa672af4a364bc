"""Disabling an LTI registration: a disabled tool gets no token and its tokens stop working;
a disabled consumer key's signed requests are refused; the grades already sent stay."""

from __future__ import annotations

import pytest

from lrs.errors import NotFound
from lti.registry import disable_consumer, disable_tool
from tests.lti.conftest import LTIHarness
from tests.lti.test_outcomes import LegacyTool, envelope
from tests.lti.test_token import post_token


async def test_a_disabled_tool_gets_no_token_and_its_token_stops_working(
    lti: LTIHarness,
) -> None:
    client = await lti.add_tool()
    token = await lti.token(client)
    path = f"/lti/tools/{client.tool.id}/lineitems"
    headers = {"Authorization": f"Bearer {token}"}
    assert (await lti.http.get(path, headers=headers)).status == 200
    first = await disable_tool(lti.stores.registrations, client.tool.id)
    assert first and await disable_tool(lti.stores.registrations, client.tool.id) == first
    assert (await lti.http.get(path, headers=headers)).status == 401
    status, body = await post_token(lti, client.form())
    assert status == 400 and body["error"] == "invalid_client"
    [listed] = await lti.stores.registrations.list_tools()
    assert listed.disabled_at == first  # still listed, with when it was disabled


async def test_a_disabled_consumer_key_is_refused(lti: LTIHarness) -> None:
    tool = LegacyTool(lti, await lti.add_consumer())
    sourced = tool.sourced_id()
    answer = await tool.send(envelope("replaceResult", sourced, score="0.5", message_id="a"))
    assert answer["imsx_codeMajor"] == "success"
    await disable_consumer(lti.stores.registrations, tool.key)
    await tool.send(envelope("replaceResult", sourced, score="0.9", message_id="b"), status=401)
    assert len(await lti.statements()) >= 1  # what it sent before stays


async def test_disabling_an_unknown_registration_is_not_found(lti: LTIHarness) -> None:
    with pytest.raises(NotFound):
        await disable_tool(lti.stores.registrations, "nope")
    with pytest.raises(NotFound):
        await disable_consumer(lti.stores.registrations, "nope")
