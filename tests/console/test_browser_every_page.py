"""Every console page in a real browser at 1366x768 (headless Chromium through Selenium, as
test_browser.py), with data on it: a screenshot of each is written into `screens`, and none
scrolls sideways (issue 19: readable at 1366x768).

The pages come from the console's router, as in test_accessibility.py, so a new page is
photographed without being listed here; a page with a path parameter is opened with an id the
seeded data made (the test fails, naming the page, until `opened` knows it). The data is made
as an operator would make it: `lrs` commands and the xAPI API on a served LRS."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from lrs.keys import console_app_key
from tests.console.a11y import console_pages
from tests.console.browser import (
    PASSWORD,
    Server,
    fill,
    free_port,
    go,
    require_browser,
    serving,
    shoot,
    statement,
)

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402

WIDTH, HEIGHT = 1366, 768
SMALLEST_TEXT = 11  # px on screen: no label, tick or footnote smaller
LAYOUT = """
const d = document.documentElement;
let smallest = null;
for (const e of document.body.querySelectorAll('*')) {
  const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const r = e.getBoundingClientRect();
  if (!own || r.width === 0 || r.height === 0) continue;
  let size = parseFloat(getComputedStyle(e).fontSize);
  const svg = e.closest('svg');
  if (svg && svg.viewBox.baseVal) {  // drawn in the chart's units, then scaled to its box
    size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  }
  if (smallest === null || size < smallest.size) {
    smallest = {size: size, text: e.textContent.trim().slice(0, 40), tag: e.tagName};
  }
}
return {innerWidth: innerWidth, innerHeight: innerHeight, scrollWidth: d.scrollWidth,
        clientWidth: d.clientWidth, h1: (document.querySelector('h1') || {}).innerText || '',
        text: document.body.innerText, smallest: smallest};
"""

# What proves a page was photographed with data on it, not empty.
SHOWS = {
    "/console/statements": "learner1@example.com",
    "/console/members/{id}": "https://lms.example.com/course/1",
    "/console/quality/items/{id}": "stranger@example.com",
    "/console/quality": "unknown_learner",
    "/console/conflicts": "shared@example.com",
    "/console/webhooks": "dead 1",
    "/console/imports": "hris.csv",
    "/console/lti": "Legacy LMS",
    "/console/clients": "talent app",
    "/console/oauth/consent": "Talent app",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`lrs serve` whose webhooks may go to loopback and die after one failed attempt."""
    loopback = {"LRS_WEBHOOK_ALLOW_INTERNAL": "1", "LRS_WEBHOOK_MAX_ATTEMPTS": "1"}
    with serving(tmp_path_factory.mktemp("every-page-data"), **loopback) as running:
        yield running


def link_of(output: str) -> str:
    found = re.search(r"http://\S+", output)
    assert found, output
    return found.group(0)


def seed(server: Server) -> dict[str, str]:
    """Data for every page, made with `lrs` and the xAPI API; the one-off URLs and ids."""
    made = json.loads(
        server.lrs("credentials", "create", "--name", "lms", "--scopes", "all", "--json")
        .strip()
        .splitlines()[-1]
    )
    learner, stranger, shared = statement(1), statement(2), statement(3)
    stranger["actor"] = {"objectType": "Agent", "mbox": "mailto:stranger@example.com"}
    shared["actor"] = {"objectType": "Agent", "mbox": "mailto:shared@example.com"}
    ids = server.post_statements(made["key"], made["secret"], [learner, stranger, shared])
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: a dead letter
    server.lrs("webhooks", "subscribe", "--url", closed)
    hris = Path(server.env["LRS_DATA_DIR"]) / "hris.csv"
    hris.write_text(
        "employee_id,email\nE1,learner1@example.com\nE2,shared@example.com\nE3,shared@example.com\n"
    )
    assert server.run("identities", "import", str(hris)).returncode in (0, 1)  # 1: a conflict
    server.lrs("worker", "--once")
    server.lrs("lti", "register-tool", "--name", "Quiz tool", "--jwks-url", "https://t.example/k")
    server.lrs("lti", "register-consumer", "--name", "Legacy LMS", "--key", "legacy-1")
    server.lrs(
        "marketplace", "clients", "create", "--name", "talent app", "--scopes", "read:scores"
    )
    app = json.loads(
        server.lrs(
            "marketplace", "apps", "create", "--name", "Talent app", "--public", "--json",
            "--redirect-uri", "http://127.0.0.1:9/cb", "--scopes", "read:scores read:badges",
        )
    )  # fmt: skip
    ask = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": "http://127.0.0.1:9/cb",
        "scope": "read:scores read:badges",
        "state": "every-page",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return {
        "/console/statements/{id}": f"/console/statements/{ids[0]}",
        "/console/members/{id}": "/console/members/E1",
        "/console/quality/items/{id}": f"/console/quality/items/unknown_learner:{ids[1]}",
        "/console/oauth/consent": f"/marketplace/v1/oauth/authorize?{urlencode(ask)}",
        "/console/set-password": link_of(
            server.lrs("operators", "create", "newbie", "--role", "viewer")
        ),
    }


def pages(tmp_path: Path) -> list[str]:
    """The console's GET pages, read from the router of an app built (not started) here."""
    from lrs.app import create_app
    from lrs.config import Config
    from lrs.settings import Settings

    app = create_app(Config(core=Settings(data_dir=tmp_path)))
    return console_pages(app[console_app_key])


def screen_name(canonical: str) -> str:
    """`/console/quality/items/{id}` → `page-quality-items-id`; `/console/` → `page-dashboard`."""
    rest = canonical.removeprefix("/console/").strip("/") or "dashboard"
    return "page-" + re.sub(r"[^a-z0-9]+", "-", rest).strip("-")


def opened(server: Server, canonical: str, special: dict[str, str]) -> str:
    if canonical in special:
        url = special[canonical]
        return url if url.startswith("http") else server.base + url
    assert "{" not in canonical, f"give {canonical} a real id from the seeded data in seed()"
    return server.base + canonical


def look(browser: Any, screens: Path, canonical: str) -> dict[str, Any]:
    """Photograph the page shown; its layout at this size."""
    layout: dict[str, Any] = browser.execute_script(LAYOUT)
    shoot(browser, screens, screen_name(canonical))
    assert (layout["innerWidth"], layout["innerHeight"]) == (WIDTH, HEIGHT), layout
    assert layout["scrollWidth"] <= WIDTH, (canonical, layout)
    assert layout["scrollWidth"] <= layout["clientWidth"], (canonical, layout)  # no sideways bar
    smallest = layout["smallest"]
    assert smallest["size"] >= SMALLEST_TEXT, (canonical, smallest)
    return layout


def test_every_page_at_1366x768_is_photographed_and_has_no_sideways_scroll(
    server: Server, browser: Any, screens: Path, tmp_path: Path
) -> None:
    special = seed(server)
    every = pages(tmp_path)
    assert {"/console/", "/console/login", "/console/grants"} <= set(every)
    browser.execute_cdp_cmd(  # the viewport, not the window with its toolbars, is 1366x768
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    for canonical in ("/console/login", "/console/set-password"):  # before signing in
        browser.get(opened(server, canonical, special))
        assert look(browser, screens, canonical)["h1"] in ("Sign in", "Set your password")
    browser.get(link_of(server.lrs("operators", "create", "ada", "--role", "admin")))
    fill(browser, password=PASSWORD, confirm=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    fill(browser, name="ada", password=PASSWORD)
    go(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert browser.current_url.endswith("/console/")
    for canonical in every:
        if canonical in ("/console/login", "/console/set-password"):
            continue
        browser.get(opened(server, canonical, special))
        layout = look(browser, screens, canonical)
        assert layout["h1"] and layout["h1"] != "Something is not right", (canonical, layout)
        assert SHOWS.get(canonical, "") in layout["text"], (canonical, SHOWS[canonical])
    written = {p.stem for p in screens.glob("page-*.png")}
    assert {screen_name(c) for c in every} <= written
