"""The dashboard's pictures: statements by source, webhook latency, reconcile drift, the
quality queue by reason, unmatched learners; over HTTP and as units."""

from __future__ import annotations

import math
import re
import time

from console.figures import DriftPoint, drift_chart, hbar_chart
from console.insights import seconds
from console.sources import IMPORT, LTI, MARKETPLACE, SCORM, XAPI, source_counts, statement_source
from lrs.keys import marketplace_app_key, statement_service_key
from lrs.store.base import Backend
from projections.delivery_metrics import LATENCY_BUCKETS, increments, latency_quantile
from projections.keys import projection_key
from projections.store.base import Delivery, Subscription
from projections.transforms import format_datetime
from tests.console.conftest import Console
from tests.console.test_explain import VIEWED, signed_in_poster
from tests.console.test_pages import post_statements
from tests.factories import make_statement

SCORM_CONTEXT = {
    "contextActivities": {"category": [{"id": "https://w3id.org/xapi/scorm"}]},
}


def authority(name: str, home: str = "https://lrs.example") -> dict:
    return {"objectType": "Agent", "account": {"homePage": home, "name": name}}


def counts_in(page: str, chart: str) -> dict[str, int]:
    """label -> count of a horizontal bar chart on the page."""
    svg = re.search(rf'<svg id="{chart}".*?</svg>', page, re.S)
    assert svg, chart
    bars = re.findall(r'data-label="([^"]+)" data-count="(\d+)"', svg.group(0))
    return {label: int(count) for label, count in bars}


async def test_the_dashboard_counts_statements_by_source(console: Console) -> None:
    auth = await signed_in_poster(console, role="viewer")
    await post_statements(console, auth, [make_statement(), make_statement()])
    await post_statements(console, auth, [make_statement(context=SCORM_CONTEXT)])
    service = console.http.app[statement_service_key]
    await service.store_statements(
        make_statement(), authority=authority("lti-tool:abc"), version="1.0.3"
    )
    await service.store_statements(
        [make_statement(), make_statement()], authority=authority("lrs-import"), version="1.0.3"
    )
    status, page = await console.page("/console/")
    assert status == 200
    assert counts_in(page, "chart-sources") == {
        XAPI: 2,
        SCORM: 1,
        LTI: 1,
        IMPORT: 2,
        MARKETPLACE: 0,
    }


async def test_the_dashboard_shows_latency_drift_quality_and_unmatched_learners(
    console: Console,
) -> None:
    auth = await signed_in_poster(console)
    projection = console.http.app[marketplace_app_key][projection_key]
    await projection.stores.deliveries.add_subscription(
        Subscription("sub_1", "https://hooks.example/x", secret_salt="s", created_at="2026")
    )
    now_us = time.time_ns() // 1000
    body = b'{"source_stored_at": "%s"}' % format_datetime(now_us - 700_000).encode()
    done = Delivery("d1", "e1", "sub_1", "delivered", 1, 0, body=body)
    await projection.stores.counters.add(increments(done, "delivered", now_us))
    await post_statements(
        console,
        auth,
        [
            make_statement(verb=VIEWED, result={"completion": True}),  # out of scope, a result
            make_statement(actor={"mbox": "mailto:a@example.com"}),
            make_statement(actor={"mbox": "mailto:b@example.com"}),
        ],
    )
    await projection.worker.drain()
    await projection.reconcile_runs.run()
    status, page = await console.page("/console/")
    assert status == 200
    latency = re.search(r'<table id="latency">.*?</table>', page, re.S)
    assert latency and "sub_1" in latency.group(0)
    assert "<td>0.75 s</td>" in latency.group(0)  # one delivery in (0.5, 1.0]: its middle
    assert 'data-runs="1"' in page and "held (largest 0.0%)" in page
    quality = counts_in(page, "chart-quality")
    assert quality == {"out_of_scope_with_result": 1, "unknown_learner": 2}
    assert re.search(r'id="unmatched-learners">2<', page)  # a@, b@ (the view made no fact)


async def test_with_nothing_yet_the_dashboard_says_so(console: Console) -> None:
    await signed_in_poster(console, role="viewer")
    status, page = await console.page("/console/")
    assert status == 200 and "no run in the window" in page and "No open items" in page
    assert 'id="unmatched-learners">0<' in page


async def test_source_counts_read_at_most_the_limit_and_say_of_how_many(
    backend: Backend,
) -> None:
    from lrs.services.factory import statement_service
    from lrs.settings import Settings

    service = statement_service(backend, Settings())
    await service.store_statements(
        [make_statement() for _ in range(5)], authority=authority("k1"), version="1.0.3"
    )
    now_us = time.time_ns() // 1000 + 1_000_000
    everything = await source_counts(backend.statements, {"k1"}, since_us=0, until_us=now_us)
    assert (everything.counts[XAPI], everything.read, everything.complete) == (5, 5, True)
    few = await source_counts(backend.statements, {"k1"}, since_us=0, until_us=now_us, limit=3)
    assert (few.read, few.stored, few.complete) == (3, 5, False)
    assert sum(few.counts.values()) == 3


# --- units -------------------------------------------------------------------------------------


def test_a_statement_source_comes_from_its_authority_and_category() -> None:
    keys = {"key1"}
    assert statement_source({"authority": authority("key1")}, keys) == XAPI
    scorm = {"authority": authority("key1"), "context": SCORM_CONTEXT}
    assert statement_source(scorm, keys) == SCORM
    assert statement_source({"authority": authority("lti-consumer:c")}, keys) == LTI
    assert statement_source({"authority": authority("lti-tool:t")}, keys) == LTI
    market = {"authority": authority("client", "urn:lrs-marketplace:clients")}
    assert statement_source(market, keys) == MARKETPLACE
    assert statement_source({"authority": authority("lrs-import-scorm"), **scorm}, set()) == IMPORT
    assert statement_source({}, keys) == IMPORT  # no authority: not one the LRS set


def test_latency_quantiles_interpolate_within_the_bucket() -> None:
    counts = [0.0] * (len(LATENCY_BUCKETS) + 1)
    assert latency_quantile(counts, 0.5) is None
    counts[3] = 10  # ten deliveries in (0.5, 1.0]
    assert latency_quantile(counts, 0.5) == 0.75
    counts[-1] = 90  # ninety over the last bound
    found = latency_quantile(counts, 0.95)
    assert found is not None and math.isinf(found)
    assert seconds(found) == "over 3600 s" and seconds(None) == "none measured"


def test_the_drift_chart_marks_runs_over_the_line() -> None:
    svg = drift_chart(
        [DriftPoint(10, 0.2, "a"), DriftPoint(20, 1.5, "b")],
        since_us=0,
        until_us=100,
        line=1.0,
        chart_id="d",
    )
    assert svg.count("<circle") == 2 and svg.count('class="dot over"') == 1
    assert "1% line" in svg and 'data-runs="2"' in svg


def test_the_bar_chart_escapes_labels() -> None:
    svg = hbar_chart([("<b>", 2), ("ok", 1)], chart_id="h", title="t")
    assert "<b>" not in svg
    assert 'data-count="2"' in svg and "&lt;b&gt;: 2" in svg
