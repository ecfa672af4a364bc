"""The dashboard, the statement browser and the credentials page, over HTTP and as units."""

from __future__ import annotations

import base64
import re
import uuid

import pytest

from console import pages
from console.charts import Series, bar_chart, scale_top
from lrs.errors import BadRequest
from lrs.keys import marketplace_app_key
from projections.keys import projection_key
from projections.store.base import Subscription
from tests.console.conftest import Console
from tests.factories import make_statement

ALICE = {"objectType": "Agent", "mbox": "mailto:alice@example.com", "name": "Alice"}
COMPLETED = {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}}


async def post_statements(console: Console, auth: str, statements: list[dict]) -> list[str]:
    response = await console.http.post(
        "/xapi/statements",
        json=statements,
        headers={"Authorization": auth, "X-Experience-API-Version": "1.0.3"},
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def create_credential_in_console(console: Console) -> tuple[str, str]:
    """Create an xAPI credential through the form; (key, secret) read from the page."""
    response = await console.post_form(
        "/console/credentials",
        {"name": "lms", "scopes": ["statements/write", "statements/read"]},
        from_page="/console/credentials",
    )
    assert response.status == 200
    page = await response.text()
    key = re.search(r'id="new-key">([^<]+)<', page)
    secret = re.search(r'id="new-secret">([^<]+)<', page)
    assert key and secret
    return key.group(1), secret.group(1)


async def test_a_credential_made_in_the_console_posts_statements_seen_in_the_browser(
    console: Console,
) -> None:
    await console.operator("ada")
    await console.login("ada")
    key, secret = await create_credential_in_console(console)
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    ids = await post_statements(
        console, auth, [make_statement(actor=ALICE, verb=COMPLETED), make_statement()]
    )
    status, page = await console.page("/console/statements")
    assert status == 200 and all(i in page for i in ids)
    status, page = await console.page("/console/statements?agent=alice@example.com")
    assert ids[0] in page and ids[1] not in page
    status, page = await console.page(f"/console/statements/{ids[0]}")
    assert status == 200 and "Not voided" in page and "alice@example.com" in page
    status, page = await console.page("/console/")
    assert 'id="total-hourly">2<' in page and 'id="total-daily">2<' in page
    # the secret is shown once: the list never has it
    _, listed = await console.page("/console/credentials")
    assert key in listed and secret not in listed


async def test_a_voided_statement_shows_as_voided(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    key, secret = await create_credential_in_console(console)
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    [target] = await post_statements(console, auth, [make_statement()])
    voiding = make_statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": target},
    )
    await post_statements(console, auth, [voiding])
    status, page = await console.page(f"/console/statements/{target}")
    assert status == 200 and "Voided:" in page
    assert (await console.page(f"/console/statements/{uuid.uuid4()}"))[0] == 404


async def test_the_browser_pages_through_results(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    key, secret = await create_credential_in_console(console)
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    ids = await post_statements(console, auth, [make_statement() for _ in range(30)])
    _, first = await console.page("/console/statements")
    more = re.search(r'id="next" href="([^"]+)"', first)
    assert more
    _, second = await console.page(more.group(1).replace("&amp;", "&"))
    shown = [i for i in ids if i in first] + [i for i in ids if i in second]
    assert sorted(shown) == sorted(ids)
    assert 'id="next"' not in second
    status, _ = await console.page("/console/statements?page=forged.token")
    assert status == 400


async def test_a_bad_filter_is_named(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    status, page = await console.page("/console/statements?since=yesterday")
    assert status == 400 and "since" in page
    status, page = await console.page("/console/statements?agent=nobody")
    assert status == 400 and "agent" in page


async def test_a_revoked_credential_stops_working_at_once(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    key, secret = await create_credential_in_console(console)
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    await post_statements(console, auth, [make_statement()])
    response = await console.post_form(
        f"/console/credentials/{key}/revoke", {}, from_page="/console/credentials"
    )
    assert response.status == 303
    refused = await console.http.post(
        "/xapi/statements",
        json=make_statement(),
        headers={"Authorization": auth, "X-Experience-API-Version": "1.0.3"},
    )
    assert refused.status == 401
    _, page = await console.page("/console/credentials")
    assert "revoked" in page


async def test_the_dashboard_shows_webhook_deliveries_per_subscription(console: Console) -> None:
    await console.operator("vic", role="viewer")
    await console.login("vic")
    market = console.http.app[marketplace_app_key][projection_key]
    await market.stores.deliveries.add_subscription(
        Subscription("sub_1", "https://hooks.example/x", secret_salt="s", created_at="2026")
    )
    status, page = await console.page("/console/")
    assert status == 200 and "sub_1" in page and "https://hooks.example/x" in page
    assert 'id="lag"' in page


# --- units -------------------------------------------------------------------------------------


def test_statement_query_takes_an_email_or_json_and_checks_each_filter() -> None:
    query = pages.statement_query({"agent": "a@example.com", "verb": COMPLETED["id"]})
    assert query.agent == "mbox:mailto:a@example.com" and query.verb == COMPLETED["id"]
    assert query.limit == pages.PAGE_SIZE
    json_agent = pages.statement_query({"agent": '{"mbox": "mailto:a@example.com"}'})
    assert json_agent.agent == query.agent
    with pytest.raises(BadRequest, match="registration"):
        pages.statement_query({"registration": "not-a-uuid"})
    with pytest.raises(BadRequest, match="until"):
        pages.statement_query({"until": "soon"})


def test_the_chart_scale_is_round_and_bars_carry_their_counts() -> None:
    assert [scale_top(n) for n in (0, 1, 3, 7, 20, 21, 999)] == [1, 1, 5, 10, 20, 50, 1000]
    svg = str(bar_chart(Series("t", ["a", "b", "c"], [0, 4, 1]), chart_id="c"))
    assert svg.count("<rect") == 3 and 'data-total="5"' in svg
    assert 'data-count="4"' in svg and "<title>b: 4</title>" in svg
    assert str(bar_chart(Series("<x>", ["<"], [0]), chart_id="e")).count("<x>") == 0  # escaped


class CountingStore:
    """A StatementStore stand-in answering `stored_counts` with each period's index."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, int]] = []

    async def stored_counts(self, since_us: int, bucket_us: int, buckets: int) -> list[int]:
        self.asked.append((since_us, bucket_us, buckets))
        return list(range(buckets))


async def test_the_last_period_of_a_chart_is_the_one_holding_now() -> None:
    store = CountingStore()
    midnight = 1_800_000_000_000_000 // pages.DAY_US * pages.DAY_US  # UTC
    now = midnight + 5 * pages.HOUR_US + 123
    series = await pages.stored_series(
        store,  # type: ignore[arg-type]
        now,
        bucket_us=pages.HOUR_US,
        buckets=48,
        title="t",
        fmt="%H:00",
    )
    [(since, bucket, buckets)] = store.asked
    assert bucket == pages.HOUR_US and buckets == 48
    assert since + 47 * pages.HOUR_US <= now < since + 48 * pages.HOUR_US
    assert since % pages.HOUR_US == 0
    assert len(series.labels) == 48 and series.labels[-1] == "05:00"
    assert series.total == sum(range(48))


def test_the_session_cookie_is_secure_over_https() -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from console.http.auth import COOKIE, set_cookie

    for scheme, secure in (("https", True), ("http", False)):
        request = make_mocked_request("GET", "/console/").clone(scheme=scheme)
        response = web.Response()
        set_cookie(request, response, COOKIE, "id")
        morsel = response.cookies[COOKIE]
        assert bool(morsel["secure"]) is secure
        assert morsel["httponly"] and morsel["samesite"] == "Strict"
