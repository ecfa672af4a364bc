"""What the console's browser tests share: `lrs serve` in a process of its own on a fresh data
directory, and helpers to drive Debian's Chromium through Selenium (nothing is downloaded at run
time). The fixtures that start them (`server`, `browser`, `screens`) are in conftest.py; a browser
test module calls `require_browser()` at its top so that, without a browser, it is skipped with
one message instead of failing.

`.ci/run` installs `chromium` and `chromium-driver` when it runs as root and they are missing.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def require_browser() -> None:
    """Skip the calling test module, with one clear message, where no browser is installed."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            "browser tests need Debian's chromium and chromium-driver (/usr/bin/chromium, "
            "/usr/bin/chromedriver): `apt-get install chromium chromium-driver` (.ci/run does it "
            "as root)",
            allow_module_level=True,
        )
    pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")


def new_browser() -> Any:
    """Headless Chromium at 1366x768 through the system's chromedriver."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(1366, 768)
    return driver


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
        """Run an `lrs` command that must succeed; its output."""
        return self.run(*argv, check=True).stdout

    def run(self, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run an `lrs` command (exit status, output and errors in the result)."""
        return subprocess.run(
            [sys.executable, "-m", "lrs.cli", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

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


@contextmanager
def serving(data_dir: Path, **settings: str) -> Iterator[Server]:
    """`lrs serve` on `data_dir` with these LRS_* settings added, stopped on leaving."""
    running = Server(data_dir)
    running.env.update(settings)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def shoot(browser: Any, screens: Path, name: str) -> None:
    """A 1366x768 screenshot of the page as it is, as `screens/NAME.png`."""
    assert browser.save_screenshot(str(screens / f"{name}.png"))


def go(browser: Any, by: str, what: str) -> None:
    """Click what leads to another page, and wait (30 s at most) until that page replaced
    this one: a click returns before the browser has navigated, the more so on a busy host."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, what).click()

    def replaced(_: Any) -> bool:
        # Stale, or Chromium's "Node with given id does not belong to the document" while the
        # old page is torn down (Selenium's staleness_of lets that one through as an error).
        try:
            old.is_enabled()
        except WebDriverException:
            return True
        return False

    WebDriverWait(browser, 30).until(replaced)


def fill(browser: Any, **fields: str) -> None:
    for field_id, value in fields.items():
        element = browser.find_element("id", field_id)
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
