"""Registering a marketplace app on the console's apps page in a real browser (headless
Chromium through Selenium, as test_browser_oauth.py).

An admin signs in, fills the registration form (name, two redirect URIs on two lines, two
scopes ticked, confidential), and sees the client id and the secret once; the app is listed,
the secret is gone from the page when it is loaded again, and the authorize URL of the new app
leads the signed-in admin to the consent page naming it. A form with an http redirect URI on a
non-loopback host comes back as a 400 page naming the field. The page is captured at 1366x768
(`screens`: `apps.png`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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

CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 50).digest()).rstrip(b"=").decode()


def sign_in_admin(server: Server, browser: Any) -> None:
    link = re.search(r"http://\S+", server.lrs("operators", "create", "ada", "--role", "admin"))
    assert link
    browser.get(link.group(0))
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "form button[type=submit]")
    browser.get(f"{server.base}/console/login")
    fill(browser, name="ada", password=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")


def fill_registration(browser: Any, name: str, uris: str) -> None:
    fill(browser, **{"app-name": name, "app-uris": uris})
    for scope in ("read:scores", "read:badges"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=scopes][value='{scope}']").click()
    browser.find_element(By.ID, "app-kind-confidential").click()


def test_register_an_app_on_the_page_and_reach_its_consent(
    server: Server, browser: Any, screens: Path
) -> None:
    sign_in_admin(server, browser)
    browser.get(f"{server.base}/console/apps")
    assert every_input_is_labelled(browser)
    fill_registration(browser, "Intranet", "http://intranet.example/cb")
    go(browser, By.ID, "register-app")
    assert browser.find_element(By.ID, "error").text.startswith("Redirect URIs:")
    assert "No apps registered." in browser.find_element(By.ID, "apps").text

    browser.get(f"{server.base}/console/apps")
    uris = "https://talent.example/cb\nhttp://127.0.0.1:8765/cb"
    fill_registration(browser, "Talent app", uris)
    go(browser, By.ID, "register-app")
    client_id = browser.find_element(By.ID, "new-client").text
    secret = browser.find_element(By.ID, "new-secret").text
    assert client_id.startswith("app_") and len(secret) > 30
    row = browser.find_element(By.ID, f"app-{client_id}").text
    assert "Talent app" in row and "confidential" in row and "read:scores read:badges" in row
    assert "http://127.0.0.1:8765/cb" in row
    shoot(browser, screens, "apps")

    browser.get(f"{server.base}/console/apps")
    assert secret not in browser.page_source and client_id in browser.page_source
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "https://talent.example/cb",
        "scope": "read:scores",
        "state": "s-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    browser.get(f"{server.base}/marketplace/v1/oauth/authorize?{urlencode(query)}")
    assert "/console/oauth/consent?" in browser.current_url
    assert browser.find_element(By.ID, "app-name").text == "Talent app"
