"""The console's "act" pages in a real browser (headless Chromium through Selenium, as
test_browser.py): a dead letter redelivered from the webhooks page.

The server allows webhooks to 127.0.0.1 and gives up after one attempt
(`LRS_WEBHOOK_MAX_ATTEMPTS=1`), and its projection runs only when the test runs
`lrs worker --once`, so each step's outcome is decided before the page is looked at. The
receiver verifies signatures: until it is given the subscription's secret it answers 400,
which makes the first delivery a dead letter; given the secret, the redelivery gets a 2xx.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.browser import (
    PASSWORD,
    Server,
    every_input_is_labelled,
    fill,
    go,
    require_browser,
    shoot,
    statement,
)
from tests.projections.webhook_receiver import threaded_receiver

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`lrs serve` whose webhooks may go to loopback and die after one failed attempt."""
    running = Server(tmp_path_factory.mktemp("act-data"))
    running.env["LRS_WEBHOOK_ALLOW_INTERNAL"] = "1"
    running.env["LRS_WEBHOOK_MAX_ATTEMPTS"] = "1"
    running.start()
    try:
        yield running
    finally:
        running.stop()


def sign_in(server: Server, browser: Any, name: str, role: str) -> None:
    """Make an operator with `lrs operators create`, set the password by the link, sign in."""
    link = re.search(r"http://\S+", server.lrs("operators", "create", name, "--role", role))
    assert link
    browser.get(link.group(0))
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "form button[type=submit]")
    fill(browser, name=name, password=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert browser.current_url.endswith("/console/")


def xapi_credential(server: Server, name: str) -> dict[str, Any]:
    """An xAPI credential made with `lrs credentials create`: its key and secret."""
    out = server.lrs("credentials", "create", "--name", name, "--scopes", "all", "--json")
    made: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return made


def counts(browser: Any, subscription_id: str) -> str:
    return str(browser.find_element(By.ID, f"counts-{subscription_id}").text)


def test_subscribe_see_a_dead_letter_redeliver_it_and_see_it_delivered(
    server: Server, browser: Any, screens: Path
) -> None:
    created = xapi_credential(server, "lms")
    hris = Path(server.env["LRS_DATA_DIR"]) / "hris.csv"
    hris.write_text("employee_id,email\nE1,learner1@example.com\n")
    server.lrs("identities", "import", str(hris))
    sign_in(server, browser, "ola", "operator")

    with threaded_receiver() as receiver:
        go(browser, By.LINK_TEXT, "Webhooks")
        assert every_input_is_labelled(browser)
        fill(browser, **{"hook-url": receiver.url})
        go(browser, By.ID, "subscribe")
        subscription_id = browser.find_element(By.ID, "new-subscription").text
        secret = browser.find_element(By.ID, "new-secret").text
        assert subscription_id.startswith("sub_") and secret

        server.post_statements(created["key"], created["secret"], [statement(1)])
        server.lrs("worker", "--once")  # projects it; the receiver refuses: a dead letter
        assert receiver.rejected == 1 and receiver.events == []
        browser.get(f"{server.base}/console/webhooks")
        assert "dead 1" in counts(browser, subscription_id)
        dead = browser.find_element(By.ID, "dead-letters").text
        assert subscription_id in dead and "400" in dead
        assert every_input_is_labelled(browser)
        browser.execute_script("document.getElementById('dead-h').scrollIntoView()")
        shoot(browser, screens, "webhooks-dead-letter")

        browser.find_element(By.ID, "dead-1").click()
        go(browser, By.ID, "redeliver")
        assert "1 dead letter queued again" in browser.find_element(By.ID, "redelivered").text
        assert "queued 1" in counts(browser, subscription_id)
        assert "dead 0" in counts(browser, subscription_id)

        receiver.secret = secret  # the receiver is fixed
        server.lrs("worker", "--once")
        assert len(receiver.events) == 1
        browser.get(f"{server.base}/console/webhooks")
        assert "delivered 1" in counts(browser, subscription_id)
        recent = browser.find_element(By.ID, f"recent-{subscription_id}").text
        assert "2xx" in recent and "delivered" in recent
        assert "No dead letters." in browser.find_element(By.ID, "dead-letters").text
        shoot(browser, screens, "webhooks")


def test_the_quality_conflicts_and_clients_pages_act_in_the_browser(
    server: Server, browser: Any, screens: Path
) -> None:
    created = xapi_credential(server, "lms2")
    shared = statement(7)
    shared["actor"] = {"objectType": "Agent", "mbox": "mailto:shared@example.com"}
    server.post_statements(created["key"], created["secret"], [statement(5), shared])
    hris = Path(server.env["LRS_DATA_DIR"]) / "hris2.csv"
    hris.write_text(
        "employee_id,email\nE1,learner1@example.com\nE2,shared@example.com\nE3,shared@example.com\n"
    )
    imported = subprocess.run(
        [sys.executable, "-m", "lrs.cli", "identities", "import", str(hris)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 1, imported.stderr  # 1: imported, with a new conflict
    server.lrs("worker", "--once")  # learner5 is nobody: a quality item; shared: a conflict
    sign_in(server, browser, "ada", "admin")

    go(browser, By.LINK_TEXT, "Quality queue")
    assert browser.find_element(By.ID, "count-unknown_learner").text == "1"
    assert browser.find_element(By.ID, "count-identity_conflict").text == "1"
    shoot(browser, screens, "quality")
    go(browser, By.LINK_TEXT, "unknown_learner")
    assert every_input_is_labelled(browser)
    go(browser, By.CSS_SELECTOR, "#items tbody a")
    assert "learner5@example.com" in browser.page_source
    shoot(browser, screens, "quality-item")
    go(browser, By.ID, "dismiss")
    assert "Dismissed 1 item(s)." in browser.find_element(By.ID, "notice").text
    assert "No open items of this reason." in browser.page_source

    go(browser, By.LINK_TEXT, "Identity conflicts")
    assert every_input_is_labelled(browser)
    assert "E2, E3" in browser.find_element(By.ID, "conflicts").text
    shoot(browser, screens, "conflicts")
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "member-1")).select_by_value("E3")
    go(browser, By.ID, "resolve-1")
    assert "now belongs to E3" in browser.find_element(By.ID, "resolved").text
    assert "No conflicts." in browser.find_element(By.ID, "conflicts").text

    go(browser, By.LINK_TEXT, "Marketplace clients")
    assert every_input_is_labelled(browser)
    fill(browser, **{"client-name": "talent app", "client-rate": "120"})
    browser.find_element(By.CSS_SELECTOR, "input[value='read:completions']").click()
    go(browser, By.ID, "create-client")
    client_id = browser.find_element(By.ID, "new-client").text
    assert client_id.startswith("mkt_") and browser.find_element(By.ID, "new-secret").text
    shoot(browser, screens, "clients")
    go(browser, By.XPATH, f"//button[@aria-label='Rotate the secret of talent app ({client_id})']")
    assert "previous secret works until" in browser.find_element(By.ID, f"state-{client_id}").text
    go(browser, By.XPATH, f"//button[@aria-label='Revoke talent app ({client_id})']")
    assert browser.find_element(By.ID, f"state-{client_id}").text.startswith("revoked")
