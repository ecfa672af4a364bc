"""`lrs worker --once` and `lrs webhooks ...` through the CLI, delivering to a receiver that
verifies every signature (a thread of its own: the command runs its own event loop)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from tests.projections.conftest import COURSE, statement
from tests.projections.test_cli import data_dir, store  # noqa: F401  (the autouse data dir)
from tests.projections.webhook_receiver import ThreadedReceiver, threaded_receiver


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def subscribe(capsys: pytest.CaptureFixture[str], receiver: ThreadedReceiver, *opts: str) -> str:
    """Subscribe the receiver (learning it the secret); the subscription id."""
    created = run_json(capsys, "webhooks", "subscribe", "--url", receiver.url, *opts)
    receiver.secret = created["secret"]
    return str(created["id"])


def test_worker_once_delivers_the_whole_backlog(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    with threaded_receiver() as receiver:
        subscribe(capsys, receiver)
        # more events than one delivery round (100) sends
        store(data_dir, *(statement("attempted", activity=f"{COURSE}/{n}") for n in range(150)))
        assert main(["worker", "--once"]) == 0
        out = capsys.readouterr().out
        assert receiver.rejected == 0
        assert len({e["id"] for e in receiver.events}) == 150
        assert "applied 150 statements" in out and "150 deliveries attempted" in out
        assert main(["marketplace", "status"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["webhook_deliveries_pending"] == 0
        assert status["webhook_deliveries_delivered"] == 150


def test_redeliver_an_unknown_id_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhooks", "redeliver", "no-such-id"]) == 1
    captured = capsys.readouterr()
    assert "no-such-id: no such dead letter" in captured.err
    assert "queued for delivery again" not in captured.out
