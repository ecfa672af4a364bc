"""Find and explain in a real browser (headless Chromium through the system's chromedriver).

One server process (`lrs serve` on a fresh data directory) and one browser for the module. The
flow: an HRIS import makes member E1 (eve@example.com); a statement she passed is posted through
the xAPI API and projected by `lrs worker --once`; its page says it counts in E1's record and
links to the member page, which shows the record with each field's statements; the search
finds her by address; the dashboard's by-source chart counts the statement; an import with a
rejected line shows on the import history; a registered LTI tool shows on the LTI page and an
admin disables it. Every page is captured at 1366x768 (`screens/`).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from tests.console.browser import (
    PASSWORD,
    Server,
    every_input_is_labelled,
    fill,
    go,
    require_browser,
    shoot,
)

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402

COURSE = "https://lms.example.com/courses/python-101"


def lrs_status(server: Server, *argv: str) -> int:
    """Run an `lrs` command that may exit 1 (rows rejected); its exit status."""
    done = server.run(*argv)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode


def sign_in(server: Server, browser: Any) -> None:
    link = re.search(r"http://\S+", server.lrs("operators", "create", "eda", "--role", "admin"))
    assert link
    browser.get(link.group(0))
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "form button[type=submit]")
    fill(browser, name="eda", password=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert browser.current_url.endswith("/console/")


def credential(browser: Any) -> tuple[str, str]:
    go(browser, By.LINK_TEXT, "xAPI credentials")
    fill(browser, **{"cred-name": "lms"})
    browser.find_element(By.CSS_SELECTOR, "input[value='statements/write']").click()
    go(browser, By.XPATH, "//button[text()='Create']")
    return (
        browser.find_element(By.ID, "new-key").text,
        browser.find_element(By.ID, "new-secret").text,
    )


def test_a_statement_explained_leads_to_its_member_and_the_new_pages_show(
    server: Server, browser: Any, screens: Path, tmp_path: Path
) -> None:
    sign_in(server, browser)
    key, secret = credential(browser)
    hris = tmp_path / "hris.csv"
    hris.write_text("employee_id,email,name\nE1,eve@example.com,Eve Example\n", encoding="utf-8")
    assert lrs_status(server, "identities", "import", str(hris)) == 0
    passed = {
        "actor": {"objectType": "Agent", "mbox": "mailto:eve@example.com", "name": "Eve"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en": "passed"}},
        "object": {"objectType": "Activity", "id": COURSE},
        "result": {"score": {"scaled": 0.85}, "success": True, "completion": True},
    }
    [statement_id] = server.post_statements(key, secret, [passed])
    server.lrs("worker", "--once", "--no-webhooks")  # the projection, driven explicitly

    browser.get(f"{server.base}/console/statements/{statement_id}")
    effect = browser.find_element(By.ID, "effect")
    assert effect.get_attribute("data-state") == "counted"
    assert "learning_completed" in browser.find_element(By.ID, "contribution").text
    shoot(browser, screens, "statement-explained")
    go(browser, By.ID, "member-link")
    assert browser.current_url.endswith("/console/members/E1")
    assert "Eve Example" in browser.find_element(By.ID, "member").text
    record = browser.find_element(By.ID, "record-1")
    assert COURSE in record.text
    sources = record.find_elements(By.CSS_SELECTOR, "a.source")
    assert sources and {a.text for a in sources} == {statement_id}
    shoot(browser, screens, "member")
    go(browser, By.CSS_SELECTOR, "a.source")  # provenance leads back to the statement
    assert statement_id in browser.current_url

    go(browser, By.LINK_TEXT, "Members")
    assert every_input_is_labelled(browser)
    fill(browser, q="Eve@Example.com")
    go(browser, By.XPATH, "//button[text()='Find']")
    assert browser.find_element(By.ID, "members").text.strip().endswith("E1")
    shoot(browser, screens, "members")

    export = tmp_path / "export.ndjson"
    good = {**passed, "id": str(uuid.uuid4()), "actor": {"mbox": "mailto:imported@example.com"}}
    bad = {**passed, "id": str(uuid.uuid4()), "verb": {"id": "not an iri"}}
    export.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    assert lrs_status(server, "import-statements", str(export), "--no-progress") == 1
    go(browser, By.LINK_TEXT, "Imports")
    table = browser.find_element(By.ID, "imports").text
    assert "export.ndjson" in table and "hris.csv" in table
    browser.find_element(By.CSS_SELECTOR, "#imports details summary").click()
    assert "line 2" in browser.find_element(By.CSS_SELECTOR, "table.rejections").text
    shoot(browser, screens, "imports")

    go(browser, By.LINK_TEXT, "Dashboard")
    bars = {
        bar.get_attribute("data-label"): bar.get_attribute("data-count")
        for bar in browser.find_elements(By.CSS_SELECTOR, "#chart-sources rect.bar")
    }
    assert bars["xAPI"] == "1" and bars["import"] == "1"
    browser.execute_script("document.getElementById('sources-h').scrollIntoView()")
    shoot(browser, screens, "dashboard-sources")

    server.lrs("lti", "register-tool", "--name", "Quiz tool", "--jwks-url", "https://t.example/k")
    server.lrs("lti", "register-consumer", "--name", "Legacy LMS", "--key", "legacy-1")
    go(browser, By.LINK_TEXT, "LTI")
    assert "Quiz tool" in browser.find_element(By.ID, "tools").text
    assert "legacy-1" in browser.find_element(By.ID, "consumers").text
    shoot(browser, screens, "lti")
    go(browser, By.CSS_SELECTOR, "#consumers button.danger")
    assert "disabled" in browser.find_element(By.ID, "consumers").text
    print(f"screenshots in {screens}")
