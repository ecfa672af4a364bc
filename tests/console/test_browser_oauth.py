"""Delegated OAuth in a real browser (headless Chromium through Selenium, as test_browser.py).

An app registered by `lrs marketplace apps create --public` sends the browser to the authorize
URL; the operator, not yet signed in, lands on the login page, signs in, and is taken back to
the consent page, which lists the scopes asked for; Approve sends the browser to the app's
redirect URI (a small HTTP server of the test on 127.0.0.1) with the code and the state. The
test then exchanges the code with the PKCE verifier over HTTP, refreshes twice, replays the
first refresh token and sees the grant revoked: refused by the token endpoint, its access token
refused by the API, and shown as revoked on the console's grants page. The consent and grants
pages are captured at 1366x768 (`screens`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.console.browser import PASSWORD, Server, fill, go, require_browser, shoot

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

VERIFIER = "browser-test-verifier-" + "q" * 40
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


class Receiver:
    """The app's redirect URI: a local HTTP server that keeps the queries it was sent."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        received = self.queries

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path == "/callback":  # not the browser's /favicon.ico
                    received.append(parse_qs(urlsplit(self.path).query))
                body = b"<!doctype html><title>app</title><p id=app>app received</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.http.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.thread.start()
    try:
        yield running
    finally:
        running.http.shutdown()
        running.http.server_close()


def post_form(url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST a form; (status, JSON body), error statuses included."""
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def api_status(server: Server, access: str) -> int:
    request = urllib.request.Request(
        f"{server.base}/marketplace/v1/aggregates", headers={"Authorization": f"Bearer {access}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_authorise_exchange_refresh_twice_replay_and_see_the_grant_revoked(
    server: Server, browser: Any, screens: Path, receiver: Receiver
) -> None:
    link = re.search(r"http://\S+", server.lrs("operators", "create", "ada", "--role", "admin"))
    assert link
    browser.get(link.group(0))
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "form button[type=submit]")
    created = server.lrs(
        "marketplace", "apps", "create", "--name", "Talent app", "--public", "--json",
        "--redirect-uri", receiver.uri, "--scopes", "read:scores read:badges",
    )  # fmt: skip
    client_id = json.loads(created)["client_id"]
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": receiver.uri,
        "scope": "read:scores read:badges",
        "state": "browser-state-42",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
    }
    browser.get(f"{server.base}/marketplace/v1/oauth/authorize?{urlencode(query)}")
    assert "/console/login?next=" in browser.current_url  # not signed in yet
    fill(browser, name="ada", password=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert "/console/oauth/consent?" in browser.current_url
    assert browser.find_element(By.ID, "app-name").text == "Talent app"
    scopes = browser.find_element(By.ID, "scopes").text
    assert "read:scores" in scopes and "read:badges" in scopes
    shoot(browser, screens, "consent")

    browser.find_element(By.ID, "approve").click()
    WebDriverWait(browser, 30).until(lambda b: b.current_url.startswith(receiver.uri))
    deadline = time.monotonic() + 30
    while not receiver.queries and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the receiver's thread, with a deadline
    [sent] = receiver.queries
    assert sent["state"] == ["browser-state-42"] and sent["iss"] == [f"{server.base}/marketplace"]

    token_url = f"{server.base}/marketplace/v1/oauth/token"
    status, first = post_form(
        token_url,
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": sent["code"][0],
            "redirect_uri": receiver.uri,
            "code_verifier": VERIFIER,
        },
    )
    assert status == 200, first
    assert first["scope"] == "read:scores read:badges"
    assert api_status(server, first["access_token"]) == 200
    refresh = first["refresh_token"]
    for _ in range(2):
        status, body = post_form(
            token_url,
            {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh},
        )
        assert status == 200 and body["refresh_token"] != refresh
        refresh, access = body["refresh_token"], body["access_token"]
    status, replay = post_form(
        token_url,
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": first["refresh_token"],
        },
    )
    assert status == 400 and replay["error"] == "invalid_grant"
    assert api_status(server, access) == 401  # the whole grant is revoked

    browser.get(f"{server.base}/console/grants")
    table = browser.find_element(By.ID, "grants").text
    assert "Talent app" in table and "revoked (refresh_reused)" in table
    shoot(browser, screens, "grants")
