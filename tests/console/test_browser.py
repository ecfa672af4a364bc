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

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "browser tests need Debian's chromium and chromium-driver (/usr/bin/chromium, "
        "/usr/bin/chromedriver): `apt-get install chromium chromium-driver` (.ci/run does it as "
        "root)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "a browser test password"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1366,768",
)
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`lrs serve` on a data directory of its own, and the `lrs` command beside it."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LRS_DATA_DIR": str(data_dir),
            "LRS_HOST": "127.0.0.1",
            "LRS_PORT": str(self.port),
            "LRS_PUBLIC_BASE_URL": self.base,
            "LRS_STATEMENT_WORKERS": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.env.pop("LRS_MONGODB_URI", None)
        self.process: subprocess.Popen[bytes] | None = None

    def lrs(self, *argv: str) -> str:
        """Run an `lrs` command; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "lrs.cli", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def start(self) -> None:
        """Start serving, and wait (with a deadline) until /health answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lrs.cli", "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "lrs serve exited"
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)  # polling a process's start-up, not waiting for work
        raise AssertionError("lrs serve did not answer within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def post_statements(self, key: str, secret: str, statements: list[dict[str, Any]]) -> Any:
        auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base}/xapi/statements",
            data=json.dumps(statements).encode(),
            headers={
                "Authorization": f"Basic {auth}",
                "X-Experience-API-Version": "1.0.3",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("console-data"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(1366, 768)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screens")


def shoot(browser: Any, screens: Path, name: str) -> None:
    """A 1366x768 screenshot of the page as it is."""
    assert browser.save_screenshot(str(screens / f"{name}.png"))


def go(browser: Any, by: str, what: str) -> None:
    """Click what leads to another page, and wait (30 s at most) until that page replaced
    this one: a click returns before the browser has navigated, the more so on a busy host."""
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, what).click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(old))


def fill(browser: Any, **fields: str) -> None:
    for field_id, value in fields.items():
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def every_input_is_labelled(browser: Any) -> bool:
    """Each visible form control has a <label for=...>."""
    script = (
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".every(e => e.id && document.querySelector(`label[for='${e.id}']`) || e.closest('label'))"
    )
    return bool(browser.execute_script(script))


def statement(n: int) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "mbox": f"mailto:learner{n}@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en": "completed"}},
        "object": {"objectType": "Activity", "id": f"https://lms.example.com/course/{n}"},
    }


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
