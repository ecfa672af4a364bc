"""The console with the keyboard only, in a real browser (headless Chromium through Selenium, as
test_browser.py): sign in with Tab, typing and Enter; skip to the content; reach the main
navigation and a page's primary action (create a credential) with Tab; every element Tab lands
on is in the viewport and drawn with the focus outline (WCAG 2.1.1, 2.4.1, 2.4.3, 2.4.7)."""

from __future__ import annotations

import re
from typing import Any

from tests.console.browser import PASSWORD, Server, fill, go, require_browser

require_browser()
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

MOST_TABS = 40  # more than any console page has before its main content's first form

FOCUSED = """
const e = document.activeElement, r = e.getBoundingClientRect(), s = getComputedStyle(e);
return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || e.value || '').trim(),
        href: e.getAttribute('href') || '', label: e.getAttribute('aria-label') || '',
        inView: r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0
                && r.bottom <= innerHeight && r.right <= innerWidth,
        outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth)};
"""


def press(browser: Any, *keys: str) -> None:
    """Keys sent to whatever has the focus, as a person types them."""
    ActionChains(browser).send_keys(*keys).perform()


def focused(browser: Any) -> dict[str, Any]:
    """What has the focus, whether it is in the viewport, and its outline."""
    found: dict[str, Any] = browser.execute_script(FOCUSED)
    return found


def assert_visibly_focused(browser: Any) -> dict[str, Any]:
    now = focused(browser)
    assert now["tag"] != "body", "nothing has the focus"
    assert now["inView"], f"the focused element is off screen: {now}"
    assert now["outline"] != "none" and now["outlineWidth"] >= 2, f"no focus outline: {now}"
    return now


def tab_to(browser: Any, wanted: Any) -> dict[str, Any]:
    """Tab until `wanted(focused element)` holds, each stop visibly focused; that element."""
    for _ in range(MOST_TABS):
        press(browser, Keys.TAB)
        now = assert_visibly_focused(browser)
        if wanted(now):
            return now
    raise AssertionError(f"not reached within {MOST_TABS} Tabs")


def enter_and_wait(browser: Any) -> None:
    """Enter on the focused link or button, and wait until the next page replaced this one."""
    old = browser.find_element(By.TAG_NAME, "html")
    press(browser, Keys.ENTER)
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(old))


def test_sign_in_navigate_and_act_with_the_keyboard_only(server: Server, browser: Any) -> None:
    out = server.lrs("operators", "create", "kay", "--role", "admin")
    link = re.search(r"http://\S+", out)
    assert link
    browser.get(link.group(0))
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert "Password set for kay" in browser.page_source
    browser.get(f"{server.base}/console/login")

    # the login page: the skip link first, then the name and the password; Enter signs in
    first = tab_to(browser, lambda e: True)
    assert first["href"] == "#main" and "Skip to content" in first["text"]
    tab_to(browser, lambda e: e["id"] == "name")
    press(browser, "kay")
    tab_to(browser, lambda e: e["id"] == "password")
    press(browser, PASSWORD)
    enter_and_wait(browser)
    assert browser.current_url.endswith("/console/")

    # the skip link moves the focus past the header to the page's content
    first = tab_to(browser, lambda e: True)
    assert first["href"] == "#main"
    press(browser, Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda b: focused(b)["id"] == "main")
    assert browser.current_url.endswith("/console/#main")

    # the main navigation, by Tab from the top of a page
    browser.get(f"{server.base}/console/")
    tab_to(browser, lambda e: e["href"] == "/console/credentials")
    enter_and_wait(browser)
    assert browser.current_url.endswith("/console/credentials")

    # the page's primary action: name, one scope ticked with Space, Create
    tab_to(browser, lambda e: e["id"] == "cred-name")
    press(browser, "keyboard lms")
    tab_to(browser, lambda e: e["id"] == "scope-1")
    press(browser, Keys.SPACE)
    assert browser.find_element(By.ID, "scope-1").is_selected()
    tab_to(browser, lambda e: e["tag"] == "button" and e["text"] == "Create")
    enter_and_wait(browser)
    assert browser.find_element(By.ID, "new-key").text
    assert "keyboard lms" in browser.find_element(By.ID, "credentials").text

    # a row's action is reached by Tab too, and named for its row
    revoke = tab_to(browser, lambda e: e["label"].startswith("Revoke keyboard lms"))
    assert revoke["tag"] == "button"

    # and signing out is on every page's header
    browser.get(f"{server.base}/console/statements")
    tab_to(browser, lambda e: e["id"] == "logout")
    enter_and_wait(browser)
    assert "/console/login" in browser.current_url
