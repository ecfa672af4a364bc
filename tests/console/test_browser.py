"""The console in a real browser: headless Chromium from Debian's packages, driven by Selenium
through the system's chromedriver (nothing is downloaded at run time).

One server process (`lrs serve` on a fresh data directory) and one browser for the module. The
flow: an operator made by `lrs operators create` sets a password through the printed link and
signs in; creates an xAPI credential; statements posted with it through the xAPI API show in
the statement browser and in the dashboard chart's count; sign out. Every page is captured at
1366x768 into the test's temporary directory (`screens/`).

`.ci/run` installs `chromium` and `chromium-driver` when it runs as root and they are missing;
elsewhere, without them, this module is skipped with one message.
"""

from __future__ import annotations

import re
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
    statement,
)

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402


def test_sign_in_create_a_credential_post_statements_see_them_sign_out(
    server: Server, browser: Any, screens: Path
) -> None:
    link = re.search(r"http://\S+", server.lrs("operators", "create", "ada", "--role", "admin"))
    assert link
    browser.get(link.group(0))
    assert every_input_is_labelled(browser)
    shoot(browser, screens, "set-password")
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "form button[type=submit]")
    assert "Password set for ada" in browser.page_source

    fill(browser, name="ada", password=PASSWORD)
    shoot(browser, screens, "login")
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert browser.current_url.endswith("/console/")
    assert browser.find_element(By.ID, "total-hourly").text == "0"
    browser.find_element(By.TAG_NAME, "body").send_keys("\t")  # keyboard: the skip link first
    assert browser.switch_to.active_element.get_attribute("class") == "skip"

    go(browser, By.LINK_TEXT, "xAPI credentials")
    assert every_input_is_labelled(browser)
    fill(browser, **{"cred-name": "lms"})
    browser.find_element(By.CSS_SELECTOR, "input[value='statements/write']").click()
    browser.find_element(By.CSS_SELECTOR, "input[value='statements/read']").click()
    go(browser, By.XPATH, "//button[text()='Create']")
    key = browser.find_element(By.ID, "new-key").text
    secret = browser.find_element(By.ID, "new-secret").text
    shoot(browser, screens, "credentials")

    ids = server.post_statements(key, secret, [statement(n) for n in range(3)])
    go(browser, By.LINK_TEXT, "Statements")
    table = browser.find_element(By.ID, "statements").text
    assert all(f"https://lms.example.com/course/{n}" in table for n in range(3))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#statements tbody a")) == 3
    shoot(browser, screens, "statements")
    fill(browser, agent="learner1@example.com")
    go(browser, By.XPATH, "//button[text()='Filter']")
    rows = browser.find_elements(By.CSS_SELECTOR, "#statements tbody a")
    assert len(rows) == 1
    go(browser, By.CSS_SELECTOR, "#statements tbody a")
    assert ids[1] in browser.page_source and "Not voided" in browser.page_source
    shoot(browser, screens, "statement")

    go(browser, By.LINK_TEXT, "Dashboard")
    assert browser.find_element(By.ID, "total-hourly").text == "3"
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-hourly rect.bar")
    assert len(bars) == 48 and bars[-1].get_attribute("data-count") == "3"
    shoot(browser, screens, "dashboard")

    browser.get(f"{server.base}/console/statements/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    shoot(browser, screens, "error")
    go(browser, By.ID, "logout")
    assert browser.current_url.endswith("/console/login")
    browser.get(f"{server.base}/console/")
    assert browser.current_url.endswith("/console/login")  # the session is over
    print(f"screenshots in {screens}")
