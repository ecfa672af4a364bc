"""The webhooks page over HTTP (on every backend) and its functions as units."""

from __future__ import annotations

import re

import orjson
import pytest

from console import webhooks
from projections.store.base import DEAD, DELIVERED, PENDING, Delivery, Subscription
from tests.console.act_support import audited, dead_letters, market
from tests.console.conftest import Console

PAGE = "/console/webhooks"


async def test_a_viewer_sees_subscriptions_counts_deliveries_and_dead_letters(
    console: Console,
) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    ids = await dead_letters(console, "sub_a", 1, 2)
    await dead_letters(console, "sub_b", 3)
    status, page = await console.page(PAGE)
    assert status == 200
    assert "https://sub_a.example.com/hook" in page and "sub_b" in page
    counts = re.search(r'id="counts-sub_a">(.*?)</dd>', page, re.S)
    assert counts and 'dead <strong class="bad">2</strong>' in counts.group(1)
    assert all(i in page for i in ids) and "HTTP 503" in page
    assert 'id="redeliver"' not in page and "disabled" in page  # a viewer cannot act
    assert 'action="/console/webhooks"' not in page  # nor subscribe
    _, only_b = await console.page(f"{PAGE}?subscription=sub_b")
    dead_table = only_b.split('id="dead-letters"')[1]
    assert "evt_sub_b_3" in dead_table and "evt_sub_a_1" not in dead_table


async def test_an_operator_redelivers_ticked_dead_letters_audited(console: Console) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    first, second = await dead_letters(console, "sub_a", 1, 2)
    response = await console.post_form(PAGE + "/redeliver", {"ids": [first]}, from_page=PAGE)
    assert response.status == 200
    assert 'id="redelivered">1 dead letter queued again' in await response.text()
    counts = await market(console).stores.deliveries.subscription_counts("sub_a")
    assert (counts["queued"], counts[DEAD]) == (1, 1)
    left = await market(console).stores.deliveries.dead_letters(10)
    assert [d.id for d in left] == [second]
    [entry] = await audited(console, "console.dead_letters_redelivered")
    assert entry.actor == "operator:ola" and entry.details == {"ids": [first], "count": 1}


async def test_redeliver_with_nothing_ticked_is_a_400_and_changes_nothing(
    console: Console,
) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    await dead_letters(console, "sub_a", 1)
    response = await console.post_form(PAGE + "/redeliver", {}, from_page=PAGE)
    assert response.status == 400 and "tick at least one" in await response.text()
    assert len(await market(console).stores.deliveries.dead_letters(10)) == 1
    assert await audited(console, "console.dead_letters_redelivered") == []


async def test_a_viewer_cannot_act_and_every_form_needs_its_csrf_token(console: Console) -> None:
    await console.operator("vic", role="viewer")
    await console.operator("ola", role="operator")
    [dead] = await dead_letters(console, "sub_a", 1)
    await console.login("vic")
    for path, data in (
        (PAGE + "/redeliver", {"ids": [dead]}),
        (PAGE, {"url": "https://hooks.example.com/x"}),
        (PAGE + "/sub_a/delete", {}),
    ):
        response = await console.post_form(path, data, from_page=PAGE)
        assert response.status == 403, path
    await console.login("ola")
    for path, data in (
        (PAGE + "/redeliver", {"ids": [dead]}),
        (PAGE, {"url": "https://hooks.example.com/x"}),
        (PAGE + "/sub_a/delete", {}),
    ):
        response = await console.http.post(path, data=data, allow_redirects=False)
        assert response.status == 403 and "CSRF" in await response.text(), path
    deliveries = market(console).stores.deliveries
    assert len(await deliveries.dead_letters(10)) == 1
    assert [s.id for s in await deliveries.list_subscriptions()] == ["sub_a"]


async def test_subscribe_shows_the_secret_once_and_delete_removes_audited(
    console: Console,
) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    form = {
        "url": "https://hooks.example.com/in",
        "event_types": ["learning.completed", "badge.awarded"],
        "verbs": "http://adlnet.gov/expapi/verbs/completed  http://x.example/v",
        "activities": "https://lms.example.com/c?a=1,2",
        "members": "E1 E2",
        "scopes": ["read:completions", "read:badges"],
    }
    response = await console.post_form(PAGE, form, from_page=PAGE)
    assert response.status == 200
    page = await response.text()
    sub_id = re.search(r'id="new-subscription">([^<]+)<', page)
    secret = re.search(r'id="new-secret">([^<]+)<', page)
    assert sub_id and secret
    found = await market(console).stores.deliveries.get_subscription(sub_id.group(1))
    assert found is not None and found.url == form["url"]
    assert found.event_types == ("learning.completed", "badge.awarded")
    assert found.verbs == ("http://adlnet.gov/expapi/verbs/completed", "http://x.example/v")
    assert found.scopes == ("read:completions", "read:badges")
    assert found.activities == ("https://lms.example.com/c?a=1,2",)  # a comma is no separator
    assert found.members == ("E1", "E2")
    assert market(console).webhooks.secret_for(found) == secret.group(1)
    _, again = await console.page(PAGE)
    assert sub_id.group(1) in again and secret.group(1) not in again
    [created] = await audited(console, "console.webhook_created")
    assert created.subject == sub_id.group(1) and created.actor == "operator:ola"
    assert secret.group(1) not in orjson.dumps(created.details).decode()
    response = await console.post_form(f"{PAGE}/{sub_id.group(1)}/delete", {}, from_page=PAGE)
    assert response.status == 303
    assert await market(console).stores.deliveries.list_subscriptions() == []
    [deleted] = await audited(console, "console.webhook_deleted")
    assert deleted.subject == sub_id.group(1) and deleted.details == {"url": form["url"]}
    response = await console.post_form(f"{PAGE}/{sub_id.group(1)}/delete", {}, from_page=PAGE)
    assert response.status == 404


async def test_a_bad_subscription_is_a_400_naming_why_and_nothing_is_stored(
    console: Console,
) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    for form, why in (
        ({"url": ""}, "needs a url"),
        ({"url": "ftp://hooks.example.com/x"}, "http(s)"),
        ({"url": "https://127.0.0.1/x"}, "127.0.0.1"),  # the target policy: loopback
        ({"url": "https://h.example.com/x", "event_types": ["no.such"]}, "unknown event type"),
        ({"url": "https://h.example.com/x", "scopes": ["read:everything"]}, "unknown scope"),
    ):
        response = await console.post_form(PAGE, form, from_page=PAGE)
        text = await response.text()
        assert response.status == 400 and why in text, (form, text)
    assert await market(console).stores.deliveries.list_subscriptions() == []
    assert await audited(console, "console.webhook_created") == []


# --- units -------------------------------------------------------------------------------------


def _delivery(state: str, attempts: int, error: str | None, body: dict | None) -> Delivery:
    raw = orjson.dumps(body) if body is not None else b""
    return Delivery("e.s", "e", "s", state, attempts, 2_000_000_000_000_000, error, raw)


def test_a_delivery_row_reads_status_latency_and_state() -> None:
    stored_at = "2033-05-18T03:33:19Z"  # 1.0 s before next_at_us above
    done = webhooks.delivery_row(
        _delivery(DELIVERED, 1, None, {"type": "badge.awarded", "source_stored_at": stored_at})
    )
    assert (done.state, done.status, done.latency, done.event_type) == (
        DELIVERED,
        "2xx",
        "1.00 s",
        "badge.awarded",
    )
    assert done.when == "2033-05-18 03:33:20"
    retry = webhooks.delivery_row(_delivery(PENDING, 2, "HTTP 429", {"type": "x"}))
    assert (retry.state, retry.status, retry.latency, retry.error) == (
        "retrying",
        "429",
        "-",
        "HTTP 429",
    )
    refused = webhooks.delivery_row(_delivery(DEAD, 8, "ClientConnectorError: refused", None))
    assert (refused.state, refused.status, refused.event_type) == (DEAD, "-", "")
    queued = webhooks.delivery_row(_delivery(PENDING, 0, None, {"type": "x"}))
    assert queued.state == "queued" and queued.status == "-"
    unknown_origin = webhooks.delivery_row(_delivery(DELIVERED, 1, None, {"type": "x"}))
    assert unknown_origin.latency == "-"  # no source_stored_at: not the feed's latency


async def test_a_long_dead_letter_list_says_it_is_cut(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    await console.operator("ola", role="operator")
    await console.login("ola")
    monkeypatch.setattr(webhooks, "DEAD_SHOWN", 2)
    await dead_letters(console, "sub_a", 1)
    _, page = await console.page(PAGE)
    assert 'id="dead-more"' not in page
    await dead_letters(console, "sub_a", 2, 3)
    _, page = await console.page(PAGE)
    assert 'id="dead-more"' in page and "The oldest 2 are listed" in page
    assert page.split('id="dead-letters"')[1].count('name="ids"') == 2


async def test_a_subscription_the_target_policy_now_refuses_shows_as_refused(
    console: Console,
) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    deliveries = market(console).stores.deliveries
    await dead_letters(console, "sub_ok", 1)
    # made while http and loopback were allowed (LRS_WEBHOOK_ALLOW_INTERNAL=1), refused now
    await deliveries.add_subscription(
        Subscription("sub_old", "http://127.0.0.1:9/x", secret_salt="s", created_at="2026")
    )
    _, page = await console.page(PAGE)
    assert re.search(r'id="state-sub_ok">active<', page)
    refused = re.search(r'id="state-sub_old">(.*?)</dd>', page, re.S)
    assert refused and "refused" in refused.group(1) and "https" in refused.group(1)
