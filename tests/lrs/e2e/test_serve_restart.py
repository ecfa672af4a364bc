"""`lrs serve` as a real process: statements survive a stop and a start on the SQLite store."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "LRS_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "lrs.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def request(url: str, auth: str, body: object | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Authorization", auth)
    req.add_header("X-Experience-API-Version", "1.0.3")
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Server:
    """`lrs serve` in a subprocess, waited for by polling with a deadline."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "LRS_DATA_DIR": str(data_dir)}
        self.log = data_dir / "serve.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lrs.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/xapi/about", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)  # polling interval, bounded by the deadline
        self.stop()
        pytest.fail("lrs serve did not start: " + self.log.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=20)


def test_statements_survive_restart(tmp_path: Path) -> None:
    created = json.loads(run_cli(tmp_path, "credentials", "create", "--name", "t", "--json"))
    auth = "Basic " + base64.b64encode(f"{created['key']}:{created['secret']}".encode()).decode()
    sid = str(uuid.uuid4())
    statement = {
        "id": sid,
        "actor": {"mbox": "mailto:restart@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "http://example.com/restart"},
    }
    server = Server(tmp_path)
    try:
        status, _ = request(server.url + "/xapi/statements", auth, statement)
        assert status == 200
    finally:
        server.stop()
    assert server.process.returncode == 0
    server = Server(tmp_path)
    try:
        status, body = request(f"{server.url}/xapi/statements?statementId={sid}", auth)
    finally:
        server.stop()
    assert status == 200
    assert json.loads(body)["actor"] == statement["actor"]
